"""End to end for coding agents: the real ``litellm`` proxy with the project's proxy_config.yaml in front of the
built-in fake, driven through LiteLLM's Anthropic bridge (``/v1/messages``, the official ``anthropic`` SDK, as
Claude Code does) and its Responses bridge (``/v1/responses``, the ``openai`` SDK's Responses API, as Codex CLI
does). Each test checks what the client received and what reached the fake. One fake and one proxy per module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
import yaml

from fake_codebuddy import FakeCodeBuddy
from fake_codebuddy.tokens import count_tokens

from support.proxy import (
    CLIENT_TIMEOUT,
    PROJECT_CONFIG,
    UPSTREAM_KEY,
    Proxy,
    fake_prompt_tokens,
    marker,
    request_with,
    running_proxy,
)

CLAUDE = "codebuddy/claude-sonnet-4.6"
GPT = "codebuddy/gpt-5.5"
ALIAS = "codebuddy-gpt-5.5"
DEFAULT_SYSTEM = "You are a helpful assistant."
WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city", "unit"],
    },
}
WEATHER_ARGS = {"city": "test", "unit": "celsius"}  # what the fake calls it with (see fake/answer.py)
RESPONSES_WEATHER = {"type": "function", "name": WEATHER["name"], "description": WEATHER["description"]} | {
    "parameters": WEATHER["input_schema"]
}
STREAM = pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
CUTS = pytest.mark.parametrize("cut", ["FAKE:cut=3", "FAKE:cut=reset"], ids=["cut", "reset"])


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCodeBuddy]:
    with FakeCodeBuddy(api_key=UPSTREAM_KEY) as server:
        yield server


def with_alias(tmp_dir: Path) -> Path:
    """The project's config plus the alias pattern of docs/agents.md: a ``model_name`` without a slash (Codex CLI and
    other clients look their model up with ``GET /v1/models/{name}``, a route that cannot take a ``/``)."""
    config = yaml.safe_load(PROJECT_CONFIG.read_text())
    base = next(d for d in config["model_list"] if d["model_name"] == GPT)
    config["model_list"].append({**base, "model_name": ALIAS})
    path = tmp_dir / "proxy_config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def proxy(fake: FakeCodeBuddy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    env = {"CODEBUDDY_API_KEY": UPSTREAM_KEY, "CODEBUDDY_API_BASE": fake.base_url}
    tmp_dir = tmp_path_factory.mktemp("e2e-agents")
    with running_proxy(tmp_dir, config=with_alias(tmp_dir), env=env) as running:
        yield running


@pytest.fixture(scope="module")
def claude(proxy: Proxy) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=proxy.base_url,
        api_key=proxy.master_key,
        max_retries=0,
        timeout=CLIENT_TIMEOUT,
        http_client=anthropic.DefaultHttpxClient(trust_env=False),
    ) as client:
        yield client


@pytest.fixture(scope="module")
def oai(proxy: Proxy) -> Iterator[openai.OpenAI]:
    with proxy.client() as client:
        yield client


def sent(fake: FakeCodeBuddy, word: str) -> dict[str, Any]:
    body = request_with(fake, word).body
    assert "thinking" not in body and "output_config" not in body
    assert body["messages"][0]["role"] == "system"
    return body


def message(client: anthropic.Anthropic, stream: bool, **kw: Any) -> anthropic.types.Message:
    kw.setdefault("max_tokens", 1024)
    if not stream:
        return client.messages.create(**kw)
    with client.messages.stream(**kw) as events:
        types = [event.type for event in events]
        final = events.get_final_message()
    assert types[0] == "message_start" and types[-1] == "message_stop"
    return final


def blocks(msg: anthropic.types.Message, kind: str) -> list[Any]:
    return [b for b in msg.content if b.type == kind]


# ------------------------------------------------------------------------------------------------ health


def test_health_reports_every_deployment_healthy(proxy: Proxy) -> None:
    resp = httpx.get(
        f"{proxy.base_url}/health", headers={"Authorization": f"Bearer {proxy.master_key}"}, timeout=CLIENT_TIMEOUT
    )
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["unhealthy_count"] == 0, report["unhealthy_endpoints"]
    # the codebuddy/* wildcard is checked with a catalog model (litellm.models_by_provider["codebuddy"])
    assert "codebuddy/*" in {e["model"] for e in report["healthy_endpoints"]}
    assert report["healthy_count"] == 7  # the catalog's four, the wildcard, the alias, the image model (a picture)


def test_alias_without_slash(oai: openai.OpenAI, fake: FakeCodeBuddy) -> None:
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve(GPT)  # LiteLLM's /v1/models/{model_id} route cannot take a "/"
    assert oai.models.retrieve(ALIAS).id == ALIAS
    word = marker()
    assert oai.responses.create(model=ALIAS, input=word).output_text == f"Echo: {word}"
    assert sent(fake, word)["model"] == "gpt-5.5"


# ------------------------------------------------------------------------------------------------ /v1/messages


@STREAM
def test_messages_answer(claude: anthropic.Anthropic, fake: FakeCodeBuddy, stream: bool) -> None:
    word = marker()
    # usage=full: the gateway's full usage object (the fake's own prompt and answer counts)
    msg = message(claude, stream, model=GPT, messages=[{"role": "user", "content": f"{word} hello FAKE:usage=full"}])
    assert [b.text for b in blocks(msg, "text")] == [f"Echo: {word} hello"]
    assert msg.stop_reason == "end_turn"
    body = sent(fake, word)
    expected = (fake_prompt_tokens(body), count_tokens(f"Echo: {word} hello"))
    # Anthropic's input_tokens leave out the tokens read from or written to the prompt cache (the request carries
    # the provider's derived prompt_cache_key, and the fake reports what it wrote)
    cache = (msg.usage.cache_read_input_tokens or 0) + (msg.usage.cache_creation_input_tokens or 0)
    assert (msg.usage.input_tokens + cache, msg.usage.output_tokens) == expected
    assert body["messages"][0] == {"role": "system", "content": DEFAULT_SYSTEM}
    assert body["model"] == "gpt-5.5"
    assert "reasoning_effort" not in body


@STREAM
def test_messages_system(claude: anthropic.Anthropic, fake: FakeCodeBuddy, stream: bool) -> None:
    word = marker()
    system = f"You are a terse reviewer {word}."
    msg = message(claude, stream, model=CLAUDE, system=system, messages=[{"role": "user", "content": f"{word} hi"}])
    assert blocks(msg, "text")[0].text == f"Echo: {word} hi"
    body = sent(fake, word)
    assert body["messages"][0]["role"] == "system" and word in str(body["messages"][0]["content"])
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


@STREAM
def test_messages_tool_round_trip(claude: anthropic.Anthropic, fake: FakeCodeBuddy, stream: bool) -> None:
    word = marker()
    question = {"role": "user", "content": f"{word} weather?"}
    first = message(claude, stream, model=CLAUDE, tools=[WEATHER], messages=[question])
    assert first.stop_reason == "tool_use"
    (call,) = blocks(first, "tool_use")
    assert (call.name, call.input) == ("get_weather", WEATHER_ARGS)
    assert sent(fake, word)["tools"][0]["function"]["name"] == "get_weather"

    result = {"type": "tool_result", "tool_use_id": call.id, "content": f"sunny {word}"}
    history = [question, {"role": "assistant", "content": first.content}, {"role": "user", "content": [result]}]
    second = message(claude, stream, model=CLAUDE, tools=[WEATHER], messages=history)
    assert blocks(second, "text")[0].text == f"Tool results: sunny {word}"
    body = sent(fake, word)
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "tool"]
    assert body["messages"][2]["tool_calls"][0]["id"] == call.id
    assert body["messages"][3]["tool_call_id"] == call.id


@STREAM
@pytest.mark.parametrize(
    ("model", "budget", "effort"), [(CLAUDE, 2000, "low"), (CLAUDE, 20000, "high"), (GPT, 2000, "low")]
)
def test_messages_thinking(
    claude: anthropic.Anthropic, fake: FakeCodeBuddy, stream: bool, model: str, budget: int, effort: str
) -> None:
    word = marker()
    msg = message(
        claude,
        stream,
        model=model,
        max_tokens=budget + 1000,
        thinking={"type": "enabled", "budget_tokens": budget},
        messages=[{"role": "user", "content": f"{word} think"}],
    )
    # the gateway's reasoning_content comes back as a thinking block, before the answer
    assert [b.type for b in msg.content] == ["thinking", "text"]
    assert msg.content[0].thinking == f"Thinking about: {word} think"  # type: ignore[union-attr]
    assert msg.content[1].text == f"Echo: {word} think"  # type: ignore[union-attr]
    assert sent(fake, word)["reasoning_effort"] == effort


@STREAM
def test_messages_thinking_with_claude_code_user_agent(
    claude: anthropic.Anthropic, fake: FakeCodeBuddy, stream: bool
) -> None:
    # LiteLLM turns drop_params on for Claude Code's User-Agent; thinking is allowed, so it is not dropped
    word = marker()
    cc = claude.with_options(default_headers={"User-Agent": "claude-cli/2.1.197 (external, sdk-cli)"})
    msg = message(
        cc,
        stream,
        model=CLAUDE,
        max_tokens=9000,
        thinking={"type": "enabled", "budget_tokens": 8000},
        messages=[{"role": "user", "content": f"{word} think"}],
    )
    assert [b.type for b in msg.content] == ["thinking", "text"]
    assert sent(fake, word)["reasoning_effort"] == "medium"


def test_messages_thinking_disabled(claude: anthropic.Anthropic, fake: FakeCodeBuddy) -> None:
    word = marker()
    msg = message(
        claude, False, model=CLAUDE, thinking={"type": "disabled"}, messages=[{"role": "user", "content": word}]
    )
    assert [b.type for b in msg.content] == ["text"]
    assert "reasoning_effort" not in sent(fake, word)


def test_count_tokens(claude: anthropic.Anthropic) -> None:
    counted = claude.messages.count_tokens(model=CLAUDE, messages=[{"role": "user", "content": "one two three"}])
    assert counted.input_tokens > 0
    longer = claude.messages.count_tokens(model=CLAUDE, messages=[{"role": "user", "content": "one two three " * 50}])
    assert longer.input_tokens > counted.input_tokens


@CUTS
def test_messages_cut_stream_is_an_error(claude: anthropic.Anthropic, fake: FakeCodeBuddy, cut: str) -> None:
    word = marker()
    types: list[str] = []
    with pytest.raises(anthropic.APIError) as info:
        with claude.messages.stream(
            model=GPT, max_tokens=256, messages=[{"role": "user", "content": f"{word} a b c d e f g {cut}"}]
        ) as events:
            types.extend(event.type for event in events)
    assert "message_stop" not in types
    assert "incomplete" in str(info.value) or "reset" in str(info.value).lower()
    request_with(fake, word)


# ------------------------------------------------------------------------------------------------ /v1/responses


@STREAM
def test_responses_answer(oai: openai.OpenAI, fake: FakeCodeBuddy, stream: bool) -> None:
    word = marker()
    if stream:
        events = list(oai.responses.create(model=GPT, input=f"{word} hello", instructions="Be brief.", stream=True))
        assert events[-1].type == "response.completed"
        resp = events[-1].response  # type: ignore[union-attr]
        deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")  # type: ignore[union-attr]
        assert deltas == f"Echo: {word} hello"
    else:
        resp = oai.responses.create(model=GPT, input=f"{word} hello", instructions="Be brief.")
    assert resp.output_text == f"Echo: {word} hello"
    assert resp.status == "completed"
    body = sent(fake, word)
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}


@STREAM
def test_responses_tool_round_trip(oai: openai.OpenAI, fake: FakeCodeBuddy, stream: bool) -> None:
    word = marker()
    question = {"role": "user", "content": f"{word} weather?"}

    def create(**kw: Any) -> Any:
        if not stream:
            return oai.responses.create(model=GPT, tools=[RESPONSES_WEATHER], **kw)  # type: ignore[list-item]
        events = list(oai.responses.create(model=GPT, tools=[RESPONSES_WEATHER], stream=True, **kw))  # type: ignore[list-item]
        assert events[-1].type == "response.completed"
        return events[-1].response  # type: ignore[union-attr]

    first = create(input=[question])
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == WEATHER_ARGS
    output = {"type": "function_call_output", "call_id": call.call_id, "output": f"sunny {word}"}
    second = create(input=[question, call.model_dump(exclude_none=True), output])
    assert second.output_text == f"Tool results: sunny {word}"
    body = sent(fake, word)
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "tool"]
    assert body["messages"][3]["tool_call_id"] == call.call_id


def test_responses_reasoning_effort(oai: openai.OpenAI, fake: FakeCodeBuddy) -> None:
    word = marker()
    resp = oai.responses.create(model=GPT, input=f"{word} think", reasoning={"effort": "high"})
    assert resp.output_text == f"Echo: {word} think"
    assert [item.type for item in resp.output] == ["reasoning", "message"]
    assert sent(fake, word)["reasoning_effort"] == "high"


@CUTS
def test_responses_cut_stream_is_an_error(oai: openai.OpenAI, fake: FakeCodeBuddy, cut: str) -> None:
    # The Responses protocol reports a failure as a response.failed event (the openai SDK yields it, it does
    # not raise); what matters is that the stream never ends in response.completed with the partial text.
    word = marker()
    events = list(oai.responses.create(model=GPT, input=f"{word} a b c d e f g {cut}", stream=True))
    types = [e.type for e in events]
    assert "response.completed" not in types
    assert types[-1] == "response.failed"
    failed = events[-1].response  # type: ignore[union-attr]
    assert failed.status == "failed" and failed.error is not None
    request_with(fake, word)
