"""End to end: the real ``litellm`` proxy CLI (a subprocess) with the project's proxy_config.yaml, in front of the
built-in fake CodeBuddy, driven with the official ``openai`` client.

The fake runs in this process (``FakeCodeBuddy``, on a free port the proxy subprocess reaches), so tests can look
at what reached it (``fake.requests``). Each prompt carries a unique marker word to find its own request.
Module-scoped fixtures start each proxy once per pytest-xdist worker; every process is stopped, and checked to
be gone, when the module ends (see ``e2e_support.running_proxy``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest

from fake_codebuddy import FakeCodeBuddy
from fake_codebuddy.tokens import count_tokens
from litellm_codebuddy.local.launch import start_fake, stop

from support.proxy import (
    CATALOG,
    UPSTREAM_KEY,
    ConnectRecorder,
    Proxy,
    fake_prompt_tokens,
    marker,
    overlay_config,
    request_with,
    requests_with,
    running_proxy,
    wait_gone,
)

MODEL = "codebuddy/gpt-5.5"
DEFAULT_SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5"
    "ErkJggg=="
)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Local time in a time zone",
        "parameters": {
            "type": "object",
            "properties": {"tz": {"type": "string"}, "offset": {"type": "integer"}},
            "required": ["tz", "offset"],
        },
    },
}
# the fake builds arguments from the required properties: first enum value, "test" for strings, 1 for integers
WEATHER_ARGS = {"city": "test", "unit": "celsius"}
TIME_ARGS = {"tz": "test", "offset": 1}

# Fault tests use a copy of the project's config with two router settings added, because the project's
# defaults (LiteLLM's) make error tests slow and order-dependent: the Router retries 429 and 5xx twice (its
# num_retries defaults to 2, and it waits for Retry-After, 7 s per retry with the fake's http=429), and an
# upstream 401 puts the deployment in cooldown, so the following requests get "429 No deployments available"
# instead of their own error. test_project_config_retries checks the default retries on the project's config.
FAULT_OVERLAY: dict[str, Any] = {"router_settings": {"num_retries": 0, "disable_cooldowns": True}}


def user(text: Any) -> dict[str, Any]:
    return {"role": "user", "content": text}


@dataclass
class Answer:
    content: str | None
    reasoning: str | None
    tool_calls: list[dict[str, Any]]
    finish_reason: str | None
    usage: Any
    chunks: list[Any] | None


def ask(
    client: openai.OpenAI, messages: list[dict[str, Any]], *, stream: bool, model: str = MODEL, **kw: Any
) -> Answer:
    """One chat completion through the proxy; a stream is reassembled the way OpenAI clients do (tool-call
    fragments by ``index``, strings concatenated)."""
    if not stream:
        resp = client.chat.completions.create(model=model, messages=messages, **kw)  # type: ignore[call-overload]
        choice = resp.choices[0]
        msg = choice.message
        calls = [
            {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}  # type: ignore[union-attr]
            for c in msg.tool_calls or []
        ]
        reasoning = (msg.model_extra or {}).get("reasoning_content")
        return Answer(msg.content, reasoning, calls, choice.finish_reason, resp.usage, None)
    chunks = list(client.chat.completions.create(model=model, messages=messages, stream=True, **kw))  # type: ignore[call-overload]
    content: list[str] = []
    thinking: list[str] = []
    slots: dict[int, dict[str, Any]] = {}
    finish = None
    usage = None
    for chunk in chunks:
        if chunk.usage is not None:
            assert usage is None, "more than one chunk with usage"
            usage = chunk.usage
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content:
                content.append(delta.content)
            piece = (delta.model_extra or {}).get("reasoning_content")
            if piece:
                thinking.append(piece)
            for tc in delta.tool_calls or []:
                slot = slots.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
                if tc.id:
                    assert slot["id"] in (None, tc.id), f"tool call {tc.index} changed its id"
                    slot["id"] = tc.id
                if tc.function is not None:
                    slot["name"] += tc.function.name or ""
                    slot["arguments"] += tc.function.arguments or ""
            if choice.finish_reason:
                finish = choice.finish_reason
    calls = [slots[i] for i in sorted(slots)]
    return Answer("".join(content) or None, "".join(thinking) or None, calls, finish, usage, chunks)


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCodeBuddy]:
    with FakeCodeBuddy(api_key=UPSTREAM_KEY) as server:  # accepts exactly this key, in both headers
        yield server


@pytest.fixture(scope="module")
def proxy(fake: FakeCodeBuddy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """The project's proxy_config.yaml as it is."""
    env = {"CODEBUDDY_API_KEY": UPSTREAM_KEY, "CODEBUDDY_API_BASE": fake.base_url}
    with running_proxy(tmp_path_factory.mktemp("e2e-proxy"), env=env) as running:
        yield running


@pytest.fixture(scope="module")
def client(proxy: Proxy) -> Iterator[openai.OpenAI]:
    with proxy.client() as c:
        yield c


STREAM = pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])


# ------------------------------------------------------------------------------------------------ models


def test_model_list(client: openai.OpenAI) -> None:
    assert sorted(m.id for m in client.models.list().data) == sorted(CATALOG)
    # the wildcard deployment is listed only on request (LiteLLM hides wildcard routes by default)
    listed = {m.id for m in client.models.list(extra_query={"return_wildcard_routes": "true"}).data}
    assert listed == {*CATALOG, "codebuddy/*"}


@pytest.mark.parametrize("model", [*CATALOG, "codebuddy/fake-e2e-extra"])
def test_every_model_routes_with_its_bare_id(client: openai.OpenAI, fake: FakeCodeBuddy, model: str) -> None:
    word = marker()
    answer = ask(client, [user(f"{word} ping")], stream=False, model=model)
    assert answer.content == f"Echo: {word} ping"
    # the catalog's four by their own deployments, anything else through the codebuddy/* wildcard
    assert request_with(fake, word).body["model"] == model.split("/", 1)[1]


# ------------------------------------------------------------------------------------------------ answers


@STREAM
def test_answer(client: openai.OpenAI, fake: FakeCodeBuddy, stream: bool) -> None:
    word = marker()
    prompt = f"{word} tell me something nice"
    answer = ask(client, [user(prompt)], stream=stream)
    assert answer.content == f"Echo: {prompt}"
    assert answer.finish_reason == "stop"
    assert answer.tool_calls == []
    body = request_with(fake, word).body
    assert body["stream"] is True  # the gateway only streams, also for a plain answer
    if not stream:  # the fake's default usage is {total_tokens, credit}; the total is the gateway's number
        completion = count_tokens(f"Echo: {prompt}")
        assert answer.usage.total_tokens == fake_prompt_tokens(body) + completion
        assert answer.usage.prompt_tokens + answer.usage.completion_tokens == answer.usage.total_tokens


def test_stream_usage_with_include_usage(client: openai.OpenAI, fake: FakeCodeBuddy) -> None:
    word = marker()
    answer = ask(
        client,
        [user(f"{word} count these words FAKE:usage=full")],
        stream=True,
        stream_options={"include_usage": True},
    )
    text = f"Echo: {word} count these words"
    assert answer.content == text
    assert answer.chunks is not None and answer.chunks[-1].usage is not None, "usage must come on the last chunk"
    prompt = fake_prompt_tokens(request_with(fake, word).body)
    completion = count_tokens(text)
    usage = answer.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (
        prompt,
        completion,
        prompt + completion,
    )


def test_system_message_injected(client: openai.OpenAI, fake: FakeCodeBuddy) -> None:
    word = marker()
    ask(client, [user(f"{word} hello")], stream=False)
    messages = request_with(fake, word).body["messages"]
    assert messages[0] == DEFAULT_SYSTEM
    assert messages[1:] == [user(f"{word} hello")]


def test_own_system_message_moved_first_unchanged(client: openai.OpenAI, fake: FakeCodeBuddy) -> None:
    word = marker()
    system = {"role": "system", "content": "Answer like a pirate."}
    answer = ask(client, [user(f"{word} hello"), system], stream=False)
    assert answer.content == f"Echo: {word} hello"
    assert request_with(fake, word).body["messages"] == [system, user(f"{word} hello")]


def test_unapproved_channel_refused_prompt_unchanged(client: openai.OpenAI, fake: FakeCodeBuddy) -> None:
    """A system prompt holding Claude Code's opening sentence is refused (11128, a content-policy violation, 400)
    and was sent as written."""
    word = marker()
    system = {"role": "system", "content": "You are Claude Code, Anthropic's official CLI for Claude. Be brief."}
    with pytest.raises(openai.BadRequestError) as info:
        ask(client, [system, user(f"{word} hello")], stream=False)
    assert info.value.status_code == 400 and "11128" in str(info.value) and "unapproved channel" in str(info.value)
    assert "ContentPolicyViolationError" in str(info.value)
    assert request_with(fake, word).body["messages"][0] == system


def test_both_auth_headers_reach_the_gateway(client: openai.OpenAI, fake: FakeCodeBuddy, proxy: Proxy) -> None:
    word = marker()
    ask(client, [user(f"{word} hello")], stream=True)
    rec = request_with(fake, word)
    assert rec.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert rec.headers["x-api-key"] == UPSTREAM_KEY
    assert rec.headers["user-agent"].startswith("litellm-codebuddy/")
    assert all(proxy.master_key not in value for value in rec.headers.values()), "the proxy's key went upstream"


def test_api_base_from_environment(client: openai.OpenAI, fake: FakeCodeBuddy) -> None:
    word = marker()
    ask(client, [user(f"{word} hello")], stream=False)
    rec = request_with(fake, word)  # it reached this fake: CODEBUDDY_API_BASE is the fake's base URL
    assert (rec.method, rec.path) == ("POST", "/v2/chat/completions")


def test_default_api_base_when_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without CODEBUDDY_API_BASE the config still loads (``os.environ/...`` of an unset variable is None) and
    the provider uses its default, https://www.codebuddy.ai/v2. With no network here, the proxy's HTTPS proxy
    setting points at a local recorder, which shows the CONNECT to www.codebuddy.ai:443 and refuses it."""
    monkeypatch.delenv("CODEBUDDY_API_BASE", raising=False)
    with ConnectRecorder() as recorder:
        env = {
            "CODEBUDDY_API_KEY": UPSTREAM_KEY,
            "HTTPS_PROXY": recorder.url,
            "https_proxy": recorder.url,
            "NO_PROXY": "",
            "no_proxy": "",
        }
        with running_proxy(tmp_path, env=env, name="proxy-default-base") as proxy, proxy.client() as c:
            assert sorted(m.id for m in c.models.list().data) == sorted(CATALOG)
            with pytest.raises(openai.APIStatusError) as info:
                c.chat.completions.create(model=MODEL, messages=[user("hello")])
    assert "https://www.codebuddy.ai/v2/chat/completions" in str(info.value)
    assert recorder.lines, "the proxy never tried to reach CodeBuddy"
    assert set(recorder.lines) == {"CONNECT www.codebuddy.ai:443 HTTP/1.1"}
    assert UPSTREAM_KEY not in str(info.value)


# ------------------------------------------------------------------------------------------------ tools


@STREAM
def test_tool_call_and_result(client: openai.OpenAI, fake: FakeCodeBuddy, stream: bool) -> None:
    word = marker()
    question = user(f"{word} what is the weather in Paris?")
    answer = ask(client, [question], stream=stream, tools=[WEATHER_TOOL])
    assert answer.finish_reason == "tool_calls"
    assert len(answer.tool_calls) == 1
    call = answer.tool_calls[0]
    assert call["id"] and call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == WEATHER_ARGS
    # the second turn: the call's id goes back with its result (the gateway checks it: 11148 otherwise)
    turn = [
        question,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": call["arguments"]},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call["id"], "content": f"18C and sunny {word}"},
    ]
    final = ask(client, turn, stream=stream, tools=[WEATHER_TOOL])
    assert final.content == f"Tool results: 18C and sunny {word}"
    assert final.finish_reason == "stop"


@STREAM
def test_parallel_tool_calls(client: openai.OpenAI, fake: FakeCodeBuddy, stream: bool) -> None:
    word = marker()
    # the fake sends both calls with "index": 0, told apart only by their ids, as the gateway does
    answer = ask(
        client, [user(f"{word} weather and time FAKE:parallel")], stream=stream, tools=[WEATHER_TOOL, TIME_TOOL]
    )
    assert answer.finish_reason == "tool_calls"
    calls = answer.tool_calls
    assert [c["name"] for c in calls] == ["get_weather", "get_time"]
    assert len({c["id"] for c in calls}) == 2 and all(c["id"] for c in calls)
    assert [json.loads(c["arguments"]) for c in calls] == [WEATHER_ARGS, TIME_ARGS]
    if stream:  # distinct indexes for the client, whatever the gateway sent
        assert answer.chunks is not None
        indexes = {tc.index for ch in answer.chunks for choice in ch.choices for tc in choice.delta.tool_calls or []}
        assert indexes == {0, 1}


# ------------------------------------------------------------------------------------------------ vision, reasoning


@STREAM
def test_image_data_url(client: openai.OpenAI, fake: FakeCodeBuddy, stream: bool) -> None:
    word = marker()
    content = [
        {"type": "text", "text": f"{word} what is in this picture?"},
        {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},  # "detail" must not reach the gateway
    ]
    answer = ask(client, [user(content)], stream=stream)
    assert answer.content == f"Echo: {word} what is in this picture? [images: 1]"
    sent = request_with(fake, word).body["messages"][-1]["content"]
    assert sent[1] == {"type": "image_url", "image_url": {"url": PNG}}


@STREAM
def test_reasoning_effort(client: openai.OpenAI, fake: FakeCodeBuddy, stream: bool) -> None:
    word = marker()
    extra = {"stream_options": {"include_usage": True}} if stream else {}
    answer = ask(client, [user(f"{word} think hard FAKE:usage=full")], stream=stream, reasoning_effort="high", **extra)
    body = request_with(fake, word).body
    assert body["reasoning_effort"] == "high"  # top level, the only form the gateway honours
    assert "reasoning" not in body
    # reasoning_content is not in the openai client's types: it is an extra field of the message / delta
    assert answer.reasoning == f"Thinking about: {word} think hard"
    assert answer.content == f"Echo: {word} think hard"
    details = answer.usage.completion_tokens_details
    assert details is not None and details.reasoning_tokens == count_tokens(answer.reasoning)


# ------------------------------------------------------------------------------------------------ errors


FAULTS = [  # (directive in the prompt, status the client gets, openai class, text the message must show)
    ("FAKE:code=11101", 400, openai.BadRequestError, "11101"),
    ("FAKE:http=401", 401, openai.AuthenticationError, "CODEBUDDY_API_KEY"),
    ("FAKE:code=11140", 400, openai.BadRequestError, "11140"),
    ("FAKE:code=14015", 403, openai.PermissionDeniedError, "14015"),
    ("FAKE:code=6004", 429, openai.RateLimitError, "6004"),
    ("FAKE:http=429 FAKE:retry_after=3", 429, openai.RateLimitError, "rate limited"),
    ("FAKE:code=14018", 429, openai.RateLimitError, "14018"),
    ("FAKE:code=11134", 503, openai.InternalServerError, "11134"),
    ("FAKE:http=503", 503, openai.InternalServerError, "temporarily unavailable"),
]


def test_upstream_errors_reach_the_client_with_their_status(tmp_path: Path, fake: FakeCodeBuddy) -> None:
    """Every case, plain and streamed, against one proxy with FAULT_OVERLAY (one test, so that only one
    pytest-xdist worker pays for that proxy's start). Mismatches are collected and reported together.

    For streams too the error is an HTTP status raised by ``create()`` itself, before any chunk: the proxy reads
    the provider's first chunk before it sends its response headers, and the error comes before that chunk."""
    config = overlay_config(tmp_path, FAULT_OVERLAY)
    env = {"CODEBUDDY_API_KEY": UPSTREAM_KEY, "CODEBUDDY_API_BASE": fake.base_url}
    problems: list[str] = []
    with running_proxy(tmp_path, config=config, env=env, name="fault-proxy") as proxy, proxy.client() as client:
        for directive, status, error, text in FAULTS:
            for stream in (False, True):
                case = f"{directive} stream={stream}"
                word = marker()
                try:
                    client.chat.completions.create(
                        model=MODEL, messages=[user(f"{word} hi {directive}")], stream=stream
                    )
                except openai.APIStatusError as exc:
                    if not isinstance(exc, error) or exc.status_code != status:
                        problems.append(f"{case}: got {type(exc).__name__} {exc.status_code}, want {status}: {exc}")
                    if text not in str(exc) or UPSTREAM_KEY in str(exc):
                        problems.append(f"{case}: message {str(exc)!r} lacks {text!r} (or shows the key)")
                    retry_after = exc.response.headers.get("retry-after")
                    if "retry_after" in directive and retry_after != "3":
                        problems.append(f"{case}: Retry-After {retry_after!r}, want '3' (the gateway's)")
                else:
                    problems.append(f"{case}: no error from create()")
                sent = len(requests_with(fake, word))
                if sent != 1:
                    problems.append(f"{case}: {sent} upstream requests, want 1 (num_retries: 0)")
    assert not problems, "\n".join(problems)


MIDSTREAM = [
    pytest.param("FAKE:midstream=6004", "429", "6004", id="6004"),
    pytest.param("FAKE:midstream=11140", "400", "11140", id="11140"),
    pytest.param("FAKE:midstream=14015", "403", "14015", id="14015"),
    pytest.param("FAKE:cut", "500", "incomplete", id="cut"),
]


@pytest.mark.parametrize(("directive", "code", "text"), MIDSTREAM)
def test_error_after_the_stream_started(
    client: openai.OpenAI, fake: FakeCodeBuddy, directive: str, code: str, text: str
) -> None:
    """Once the proxy has sent 200 and a chunk, an error can only come inside the stream: a final
    ``data: {"error": {..., "code": "<status>"}}`` event, which the openai client raises as ``APIError``
    (no ``status_code``; the status is in ``.code``). Nothing is retried once content went out."""
    word = marker()
    # three content events 0.75 s apart ("Echo:", " one", " two"), then at once the error or the cut
    stream = client.chat.completions.create(
        model=MODEL, messages=[user(f"one two {word} {directive} FAKE:pace=0.75")], stream=True
    )
    got: list[str] = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                got.append(chunk.choices[0].delta.content)
    exc = info.value
    assert not isinstance(exc, openai.APIStatusError), "the status line was already sent"
    assert exc.code == code
    assert text in exc.message
    # the partial answer arrived before the error; " two" can be missing: when it reaches the provider in the
    # same read as the error event right behind it, the provider raises without handing it on first
    assert got[:2] == ["Echo:", " one"] and "Echo: one two".startswith("".join(got)), got
    assert len(requests_with(fake, word)) == 1


def test_project_config_retries(client: openai.OpenAI, fake: FakeCodeBuddy) -> None:
    """The project's config keeps LiteLLM's Router defaults: 5xx retried twice, 400 not retried.
    (gpt-5.4 is used by no other test here, whatever these failures do to its deployment's health.)"""
    word = marker()
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="codebuddy/gpt-5.4", messages=[user(f"{word} FAKE:http=503")])
    assert info.value.status_code == 503
    assert len(requests_with(fake, word)) == 3
    word = marker()
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="codebuddy/gpt-5.4", messages=[user(f"{word} FAKE:code=11101")])
    assert len(requests_with(fake, word)) == 1


# ------------------------------------------------------------------------------------------------ load


async def test_64_concurrent_streams(proxy: Proxy, fake: FakeCodeBuddy) -> None:
    tag = marker()

    async def one(client: openai.AsyncOpenAI, i: int) -> tuple[str, str, str | None]:
        prompt = f"{tag} stream {i}: " + " ".join(f"s{i}w{k}" for k in range(50))  # ~53 events each
        stream = await client.chat.completions.create(model=MODEL, messages=[user(prompt)], stream=True)
        parts: list[str] = []
        finish = None
        async for chunk in stream:
            for choice in chunk.choices:
                parts.append(choice.delta.content or "")
                finish = choice.finish_reason or finish
        return prompt, "".join(parts), finish

    async with proxy.async_client() as client:
        results = await asyncio.gather(*(one(client, i) for i in range(64)))
    for prompt, text, finish in results:
        assert text == f"Echo: {prompt}"
        assert finish == "stop"
    assert len(requests_with(fake, tag)) == 64


# ------------------------------------------------------------------------------------------------ workers


def test_proxy_with_two_workers(tmp_path: Path) -> None:
    """``--num_workers 2``: a separate proxy (and a fake in a subprocess, via launch.start_fake)."""
    fake_proc, fake_url, _ = start_fake(log=tmp_path / "fake.log", extra_args=("--key", UPSTREAM_KEY))
    try:
        env = {"CODEBUDDY_API_KEY": UPSTREAM_KEY, "CODEBUDDY_API_BASE": fake_url}
        with running_proxy(tmp_path, env=env, extra_args=("--num_workers", "2"), name="proxy-2-workers") as proxy:
            assert len(proxy.pids) >= 3, "expected the proxy's main process and two workers"
            with proxy.client() as client:

                def run(i: int) -> None:
                    prompt = f"worker test {i}"
                    answer = ask(client, [user(prompt)], stream=i % 2 == 1)
                    assert answer.content == f"Echo: {prompt}"
                    assert answer.finish_reason == "stop"

                with concurrent.futures.ThreadPoolExecutor(4) as pool:
                    list(pool.map(run, range(8)))
    finally:
        stop(fake_proc)
    assert not wait_gone([fake_proc.pid]), "the fake is still running"
