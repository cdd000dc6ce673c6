"""What reaches the gateway through the real LiteLLM proxy, for the parameters the gateway reads its own way:
``prompt_cache_key`` (forwarded, or derived per conversation), one ``max_tokens`` (the smallest, at least 16),
``reasoning_effort`` with ``reasoning_summary`` (lowered to what the model accepts), and ``response_format`` /
``logprobs`` refused unless dropped; on ``/v1/chat/completions`` (openai), ``/v1/messages`` (anthropic) and
``/v1/responses`` (openai's Responses API). One fake and one proxy per module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from fake_codebuddy import FakeCodeBuddy

from support.proxy import (
    CLIENT_TIMEOUT,
    PROJECT_CONFIG,
    REPO,
    UPSTREAM_KEY,
    Proxy,
    marker,
    request_with,
    running_proxy,
)

GPT = "codebuddy/gpt-5.5"
CLAUDE = "codebuddy/claude-sonnet-4.6"
NO_KEY = "codebuddy-no-derived-key"  # a deployment with auto_prompt_cache_key: false
WITH_MAX = "codebuddy/fake-with-max"  # a deployment whose model_info declares every effort, max included
PRICED = "codebuddy/fake-priced"  # a deployment with token prices, cache reads cheaper
IN, CACHE_READ, OUT = 2e-6, 2e-7, 8e-6
LENIENT = "codebuddy-drop-params"  # a deployment with drop_params: true
TEAM = "codebuddy-team"  # proxy_team.yaml's gpt-5.5 deployment (with the one key of this module)
TEAM_CONFIG = REPO / "proxy_team.yaml"
STREAM = pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
JSON_SCHEMA = {
    "type": "json_schema",
    "json_schema": {"name": "n", "schema": {"type": "object", "properties": {"n": {"type": "integer"}}}},
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCodeBuddy]:
    with FakeCodeBuddy(api_key=UPSTREAM_KEY) as server:
        yield server


def deployment(name: str, path: Path = PROJECT_CONFIG) -> dict[str, Any]:
    """The first deployment named ``name`` in a shipped config."""
    import yaml

    return next(d for d in yaml.safe_load(path.read_text())["model_list"] if d["model_name"] == name)


def config(tmp_dir: Path) -> Path:
    import yaml

    data = yaml.safe_load(PROJECT_CONFIG.read_text())
    params = deployment(GPT)["litellm_params"]
    team = {**deployment(GPT, TEAM_CONFIG)["litellm_params"], "api_key": params["api_key"]}
    data["model_list"] += [
        {"model_name": TEAM, "litellm_params": team},
        {"model_name": NO_KEY, "litellm_params": {**params, "auto_prompt_cache_key": False}},
        {"model_name": LENIENT, "litellm_params": {**params, "drop_params": True}},
        {
            "model_name": WITH_MAX,
            "litellm_params": {**params, "model": WITH_MAX},
            "model_info": {"mode": "chat", "supports_reasoning": True, "reasoning_effort_levels": ["high", "max"]},
        },
        {
            "model_name": PRICED,
            "litellm_params": {**params, "model": PRICED},
            "model_info": {
                "mode": "chat",
                "input_cost_per_token": IN,
                "cache_read_input_token_cost": CACHE_READ,
                "output_cost_per_token": OUT,
            },
        },
    ]
    path = tmp_dir / "proxy_config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def proxy(fake: FakeCodeBuddy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    env = {"CODEBUDDY_API_KEY": UPSTREAM_KEY, "CODEBUDDY_API_BASE": fake.base_url}
    tmp_dir = tmp_path_factory.mktemp("e2e-params")
    with running_proxy(tmp_dir, config=config(tmp_dir), env=env) as running:
        yield running


@pytest.fixture(scope="module")
def oai(proxy: Proxy) -> Iterator[openai.OpenAI]:
    with proxy.client() as client:
        yield client


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


def sent(fake: FakeCodeBuddy, word: str) -> dict[str, Any]:
    body = request_with(fake, word).body
    assert isinstance(body, dict)
    assert "max_completion_tokens" not in body and "max_output_tokens" not in body
    return body


def chat(oai: openai.OpenAI, stream: bool, **kw: Any) -> str:
    if not stream:
        return oai.chat.completions.create(**kw).choices[0].message.content or ""
    return "".join(
        c.choices[0].delta.content or "" for c in oai.chat.completions.create(stream=True, **kw) if c.choices
    )


def message(client: anthropic.Anthropic, stream: bool, **kw: Any) -> anthropic.types.Message:
    kw.setdefault("max_tokens", 1024)
    if not stream:
        return client.messages.create(**kw)
    with client.messages.stream(**kw) as events:
        return events.get_final_message()


def respond(oai: openai.OpenAI, stream: bool, **kw: Any) -> Any:
    if not stream:
        return oai.responses.create(**kw)
    events = list(oai.responses.create(stream=True, **kw))
    assert events[-1].type == "response.completed"
    return events[-1].response  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------------------ prompt_cache_key


@STREAM
def test_chat_forwards_the_callers_key(oai: openai.OpenAI, fake: FakeCodeBuddy, stream: bool) -> None:
    word = marker()
    chat(oai, stream, model=GPT, messages=[{"role": "user", "content": word}], prompt_cache_key=f"conv-{word}")
    assert sent(fake, word)["prompt_cache_key"] == f"conv-{word}"


@STREAM
def test_chat_derives_one_key_per_conversation(oai: openai.OpenAI, fake: FakeCodeBuddy, stream: bool) -> None:
    word, other = marker(), marker()
    system = {"role": "system", "content": "You are a coding agent."}
    first = [system, {"role": "user", "content": f"{word} fix a.py"}]
    chat(oai, stream, model=GPT, messages=first)
    key = sent(fake, word)["prompt_cache_key"]
    second = [*first, {"role": "assistant", "content": "Done."}, {"role": "user", "content": f"{word} and b.py"}]
    chat(oai, stream, model=GPT, messages=second)
    assert sent(fake, f"{word} and b.py")["prompt_cache_key"] == key and key.startswith("cb-")
    chat(oai, stream, model=GPT, messages=[system, {"role": "user", "content": f"{other} fix a.py"}])
    assert sent(fake, other)["prompt_cache_key"] not in (key, None)
    assert word not in key and UPSTREAM_KEY not in key


def test_a_deployment_turns_the_derived_key_off(oai: openai.OpenAI, fake: FakeCodeBuddy) -> None:
    word = marker()
    chat(oai, False, model=NO_KEY, messages=[{"role": "user", "content": word}])
    body = sent(fake, word)
    assert "prompt_cache_key" not in body and "auto_prompt_cache_key" not in body
    chat(oai, False, model=NO_KEY, messages=[{"role": "user", "content": f"{word}b"}], prompt_cache_key="mine")
    assert sent(fake, f"{word}b")["prompt_cache_key"] == "mine"


@STREAM
def test_messages_key_from_claude_codes_session(claude: anthropic.Anthropic, fake: FakeCodeBuddy, stream: bool) -> None:
    """Claude Code packs its session id into metadata.user_id; LiteLLM's bridge makes it the prompt_cache_key."""
    word = marker()
    user_id = json.dumps({"device_id": "d1", "account_uuid": "", "session_id": f"session-{word}"})
    message(claude, stream, model=CLAUDE, messages=[{"role": "user", "content": word}], metadata={"user_id": user_id})
    assert sent(fake, word)["prompt_cache_key"] == f"session-{word}"


@STREAM
def test_messages_without_a_session_gets_a_derived_key(
    claude: anthropic.Anthropic, fake: FakeCodeBuddy, stream: bool
) -> None:
    word = marker()
    message(claude, stream, model=GPT, system="You review code.", messages=[{"role": "user", "content": word}])
    assert sent(fake, word)["prompt_cache_key"].startswith("cb-")


@STREAM
def test_responses_forwards_the_callers_key(oai: openai.OpenAI, fake: FakeCodeBuddy, stream: bool) -> None:
    word = marker()
    respond(oai, stream, model=GPT, input=word, prompt_cache_key=f"codex-{word}")
    assert sent(fake, word)["prompt_cache_key"] == f"codex-{word}"
    respond(oai, stream, model=GPT, input=f"{word}b", instructions="Be brief.")
    assert sent(fake, f"{word}b")["prompt_cache_key"].startswith("cb-")


# ------------------------------------------------------------------------------------------------ max_tokens


@pytest.mark.parametrize(
    ("kw", "limit"),
    [
        ({"max_tokens": 300, "max_completion_tokens": 120}, 120),
        ({"max_tokens": 120, "max_completion_tokens": 300}, 120),
        ({"max_completion_tokens": 200}, 200),
        ({"max_tokens": 5}, 16),
    ],
)
def test_chat_sends_one_max_tokens(oai: openai.OpenAI, fake: FakeCodeBuddy, kw: dict[str, Any], limit: int) -> None:
    word = marker()
    chat(oai, False, model=GPT, messages=[{"role": "user", "content": word}], **kw)
    assert sent(fake, word).get("max_tokens") == limit


@STREAM
def test_chat_sends_the_models_longest_answer_without_a_limit(
    oai: openai.OpenAI, fake: FakeCodeBuddy, stream: bool
) -> None:
    """Without a limit: the deployment's model_info max_output_tokens (as the config says), and 32000 for a model
    nobody knows (through the wildcard)."""
    word = marker()
    chat(oai, stream, model=GPT, messages=[{"role": "user", "content": word}])
    assert sent(fake, word)["max_tokens"] == deployment(GPT)["model_info"]["max_output_tokens"]
    chat(oai, stream, model="codebuddy/fake-nobody-knows", messages=[{"role": "user", "content": f"{word}b"}])
    assert sent(fake, f"{word}b")["max_tokens"] == 32_000


@STREAM
def test_messages_max_tokens(claude: anthropic.Anthropic, fake: FakeCodeBuddy, stream: bool) -> None:
    word = marker()
    message(claude, stream, model=CLAUDE, max_tokens=5, messages=[{"role": "user", "content": word}])
    assert sent(fake, word)["max_tokens"] == 16
    message(claude, stream, model=CLAUDE, max_tokens=700, messages=[{"role": "user", "content": f"{word}b"}])
    assert sent(fake, f"{word}b")["max_tokens"] == 700


@STREAM
def test_responses_max_output_tokens(oai: openai.OpenAI, fake: FakeCodeBuddy, stream: bool) -> None:
    word = marker()
    respond(oai, stream, model=GPT, input=word, max_output_tokens=300)
    assert sent(fake, word)["max_tokens"] == 300
    respond(oai, stream, model=GPT, input=f"{word}b", max_output_tokens=16)
    assert sent(fake, f"{word}b")["max_tokens"] == 16


# ------------------------------------------------------------------------------------------------ reasoning


@pytest.mark.parametrize(("asked", "effort"), [("high", "high"), ("max", "xhigh"), ("minimal", "low")])
def test_chat_effort_with_its_summary(oai: openai.OpenAI, fake: FakeCodeBuddy, asked: str, effort: str) -> None:
    word = marker()
    chat(oai, False, model=GPT, messages=[{"role": "user", "content": word}], reasoning_effort=asked)
    body = sent(fake, word)
    assert (body["reasoning_effort"], body["reasoning_summary"]) == (effort, "auto")


def test_chat_summary_alone_is_not_sent(oai: openai.OpenAI, fake: FakeCodeBuddy) -> None:
    word = marker()
    chat(oai, False, model=GPT, messages=[{"role": "user", "content": word}], extra_body={"reasoning_summary": "auto"})
    body = sent(fake, word)
    assert "reasoning_summary" not in body and "reasoning_effort" not in body


@pytest.mark.parametrize(
    ("model", "effort"),
    [
        (GPT, "xhigh"),
        ("codebuddy/glm-5.2", "xhigh"),  # the catalog declares high and xhigh
        ("codebuddy/fake-unmapped", "high"),
        (WITH_MAX, "max"),
        (CLAUDE, "medium"),
    ],
)
def test_messages_adaptive_max(claude: anthropic.Anthropic, fake: FakeCodeBuddy, model: str, effort: str) -> None:
    """Adaptive thinking's output_config.effort "max" on /v1/messages: LiteLLM's bridge itself lowers it to what
    the model map declares (gpt-5.5's and glm-5.2's levels end at xhigh; a model the map does not know gets
    "high"), so "max" reaches the gateway only for a model that declares it (reasoning_effort_levels in model_info,
    or the account's list); for names with "claude" the bridge keeps only thinking, whose adaptive form means medium."""
    word = marker()
    message(
        claude,
        False,
        model=model,
        thinking={"type": "adaptive"},
        messages=[{"role": "user", "content": word}],
        extra_body={"output_config": {"effort": "max"}},
    )
    body = sent(fake, word)
    assert (body["reasoning_effort"], body["reasoning_summary"]) == (effort, "auto")


def test_responses_reasoning_with_summary(oai: openai.OpenAI, fake: FakeCodeBuddy) -> None:
    word = marker()
    respond(oai, False, model=GPT, input=word, reasoning={"effort": "max", "summary": "auto"})
    body = sent(fake, word)
    assert (body["reasoning_effort"], body["reasoning_summary"]) == ("xhigh", "auto")


# ------------------------------------------------------------------------------------------------ no pretence


@STREAM
@pytest.mark.parametrize(
    "kw", [{"response_format": {"type": "json_object"}}, {"response_format": JSON_SCHEMA}, {"logprobs": True}]
)
def test_chat_refuses_what_the_gateway_ignores(
    oai: openai.OpenAI, fake: FakeCodeBuddy, stream: bool, kw: dict[str, Any]
) -> None:
    word = marker()
    with pytest.raises(openai.BadRequestError) as info:
        chat(oai, stream, model=GPT, messages=[{"role": "user", "content": f"{word} JSON please"}], **kw)
    assert "does not support parameters" in str(info.value) and "drop_params" in str(info.value)
    assert not [r for r in fake.requests if word in json.dumps(r.body)]


def test_chat_drop_params_sends_without_them(oai: openai.OpenAI, fake: FakeCodeBuddy) -> None:
    word = marker()
    text = chat(
        oai,
        False,
        model=LENIENT,
        messages=[{"role": "user", "content": word}],
        response_format=JSON_SCHEMA,
        logprobs=True,
    )
    assert text == f"Echo: {word}"
    assert not {"response_format", "logprobs"} & set(sent(fake, word))


def test_responses_text_format_refused(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="does not support parameters"):
        oai.responses.create(model=GPT, input=marker(), text={"format": {"type": "json_object"}})


def test_codex_user_agent_drops_them(oai: openai.OpenAI, fake: FakeCodeBuddy) -> None:
    """The proxy turns drop_params on for Codex's User-Agent: the format is left out, the request goes through."""
    word = marker()
    codex = oai.with_options(default_headers={"User-Agent": "codex_cli_rs/0.50.0"})
    resp = codex.responses.create(model=GPT, input=word, text={"format": {"type": "json_object"}})
    assert resp.output_text == f"Echo: {word}"
    assert "response_format" not in sent(fake, word)


# ------------------------------------------------------------------------------------------------ cache usage


def two_turns(word: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """An agent's first and second turn: the second resends the first (a long system prompt) and adds to it."""
    first = [{"role": "system", "content": "You are a careful coding agent. " * 150}, {"role": "user", "content": word}]
    second = [*first, {"role": "assistant", "content": f"Echo: {word}"}, {"role": "user", "content": f"{word} more"}]
    return first, second


@STREAM
def test_chat_usage_shows_cache_reads(oai: openai.OpenAI, stream: bool) -> None:
    first, second = two_turns(marker())
    usages = []
    for messages in (first, second):
        if stream:
            chunks = list(
                oai.chat.completions.create(
                    model=GPT,
                    messages=messages,
                    stream=True,
                    stream_options={"include_usage": True},  # type: ignore[arg-type]
                )
            )
            usages.append(chunks[-1].usage)
        else:
            usages.append(oai.chat.completions.create(model=GPT, messages=messages).usage)  # type: ignore[arg-type]
    assert not (usages[0].prompt_tokens_details and usages[0].prompt_tokens_details.cached_tokens)
    cached = usages[1].prompt_tokens_details.cached_tokens
    assert 0 < cached <= usages[1].prompt_tokens


@STREAM
def test_messages_usage_shows_cache_read_input_tokens(claude: anthropic.Anthropic, stream: bool) -> None:
    """Anthropic clients see the gateway's cache hits as cache_read_input_tokens (input_tokens the rest)."""
    first, second = two_turns(marker())
    system = first[0]["content"]
    kw: dict[str, Any] = {"model": CLAUDE, "system": system}
    message(claude, stream, messages=first[1:], **kw)
    usage = message(claude, stream, messages=second[1:], **kw).usage
    assert usage.cache_read_input_tokens and usage.cache_read_input_tokens > 1000
    assert usage.input_tokens < usage.cache_read_input_tokens


@STREAM
def test_responses_usage_shows_cached_tokens(oai: openai.OpenAI, stream: bool) -> None:
    first, second = two_turns(marker())
    instructions = first[0]["content"]
    respond(oai, stream, model=GPT, instructions=instructions, input=first[1:])
    usage = respond(oai, stream, model=GPT, instructions=instructions, input=second[1:]).usage
    assert usage.input_tokens_details.cached_tokens > 1000


def test_spend_prices_cache_reads(oai: openai.OpenAI) -> None:
    """The proxy's response cost (its spend) prices cache reads at the deployment's cache-read price."""
    first, second = two_turns(marker())
    oai.chat.completions.create(model=PRICED, messages=first)  # type: ignore[arg-type]
    raw = oai.chat.completions.with_raw_response.create(model=PRICED, messages=second)  # type: ignore[arg-type]
    usage = raw.parse().usage
    cached = usage.prompt_tokens_details.cached_tokens
    assert cached > 1000
    expected = (usage.prompt_tokens - cached) * IN + cached * CACHE_READ + usage.completion_tokens * OUT
    assert float(raw.headers["x-litellm-response-cost"]) == pytest.approx(expected, rel=1e-6)


# ------------------------------------------------------------------------------------------------ headers


@STREAM
def test_team_settings_send_private_data(oai: openai.OpenAI, fake: FakeCodeBuddy, stream: bool) -> None:
    """proxy_team.yaml's deployment opts out (``X-Private-Data: true``); the shipped config does not, unless the
    client's own body does; a client's extra_headers cannot change it."""
    word = marker()
    chat(oai, stream, model=TEAM, messages=[{"role": "user", "content": word}])
    assert request_with(fake, word).headers["x-private-data"] == "true"
    chat(oai, stream, model=GPT, messages=[{"role": "user", "content": f"{word}b"}])
    assert request_with(fake, f"{word}b").headers["x-private-data"] == "false"
    chat(oai, stream, model=GPT, messages=[{"role": "user", "content": f"{word}c"}], extra_body={"private_data": True})
    assert request_with(fake, f"{word}c").headers["x-private-data"] == "true"
    headers = {"extra_headers": {"X-Private-Data": "false"}}
    chat(oai, stream, model=TEAM, messages=[{"role": "user", "content": f"{word}d"}], extra_body=headers)
    assert request_with(fake, f"{word}d").headers["x-private-data"] == "true"
    assert "private_data" not in str(request_with(fake, f"{word}c").body)
    # LiteLLM would let a request's body replace a deployment's litellm_params for that request: the doors keep a
    # client's private_data only as an opt-out, so a team's opt-out holds (docs/teams.md)
    for back_in in (False, "false", 0):
        text = f"{word}e{back_in}"
        chat(
            oai, stream, model=TEAM, messages=[{"role": "user", "content": text}], extra_body={"private_data": back_in}
        )
        assert request_with(fake, text).headers["x-private-data"] == "true"


@STREAM
def test_extra_headers_cannot_replace_the_key(oai: openai.OpenAI, fake: FakeCodeBuddy, stream: bool) -> None:
    """A client's extra_headers reach the gateway only where they do not name the provider's own headers: the
    operator's key, the User-Agent and the correlation headers stay the provider's, and the answer comes."""
    word = marker()
    theirs = {
        "X-API-Key": "ck_intruder.key",
        "authorization": "Bearer ck_intruder.key",
        "User-Agent": "CLI/2.163.0 CodeBuddy/2.163.0",
        "X-Conversation-ID": "mine",
        "X-Client-Trace": "t-1",
    }
    got = chat(
        oai, stream, model=GPT, messages=[{"role": "user", "content": word}], extra_body={"extra_headers": theirs}
    )
    assert got == f"Echo: {word}"
    headers = request_with(fake, word).headers
    assert headers["x-api-key"] == UPSTREAM_KEY and headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert headers["user-agent"].startswith("litellm-codebuddy/") and headers["x-conversation-id"] != "mine"
    assert headers["x-client-trace"] == "t-1" and "ck_intruder" not in str(headers)


# ------------------------------------------------------------------------------------------------ history


def test_messages_thinking_goes_back_as_reasoning(claude: anthropic.Anthropic, fake: FakeCodeBuddy) -> None:
    """Claude Code sends its earlier thinking blocks back with the tool call they led to: the gateway gets their
    text as ``reasoning`` on that assistant message, as the official client sends it."""
    word = marker()
    tool = {"name": "read_file", "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}
    history: list[Any] = [
        {"role": "user", "content": f"{word} read a.py"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": f"{word}: the file comes first.", "signature": ""},
                {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "a.py"}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": f"{word} x = 1"}]},
    ]
    message(claude, False, model=GPT, tools=[tool], messages=history)
    sent_messages = request_with(fake, word).body["messages"]
    assistant = next(m for m in sent_messages if m["role"] == "assistant")
    assert assistant["reasoning"] == f"{word}: the file comes first." and assistant["tool_calls"]
    assert "thinking_blocks" not in assistant and "reasoning_content" not in assistant
