"""The fake enforces the gateway's parameter rules as the field reports describe them (token limits, efforts per
model, reasoning shown only with an effort and a summary, a prompt cache only under a key, credits), and the
provider copes with it: what the provider sends passes the rules, on the four LiteLLM paths."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fake_codebuddy import FakeCodeBuddy
from fake_codebuddy.answer import DEFAULT_MAX_TOKENS
from fake_codebuddy.billing import BLOCK, CACHED, INPUT, credits
from fake_codebuddy.models import ACCOUNT_MODELS, PICKERS
from fake_codebuddy.tokens import count_tokens, prompt_tokens
from litellm_codebuddy.account.discovery import fetch_live_models

from support.upstream import MODES, STREAM_MODES, call

KEY = "ck_params.S3cretParamsKey"
HEADERS = {"Authorization": f"Bearer {KEY}", "X-API-Key": KEY}
SYSTEM = {"role": "system", "content": "You are a helpful assistant."}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCodeBuddy]:
    with FakeCodeBuddy(api_key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def client(fake: FakeCodeBuddy) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.base_url, headers=HEADERS, timeout=30) as http:
        yield http


def body(text: str = "hello there world", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-5.5", "stream": True, "messages": [SYSTEM, {"role": "user", "content": text}], **extra}


def chunks(client: httpx.Client, payload: dict[str, Any]) -> list[dict[str, Any]]:
    resp = client.post("/chat/completions", json=payload)
    assert resp.status_code == 200, resp.text
    if "event-stream" not in resp.headers["content-type"]:
        return [resp.json()]
    return [json.loads(line[6:]) for line in resp.text.splitlines() if line.startswith("data: {")]


def answer(client: httpx.Client, payload: dict[str, Any]) -> tuple[str, str, str, dict[str, Any]]:
    """(content, reasoning, finish_reason, usage) of one streamed answer."""
    got = chunks(client, payload)
    assert "choices" in got[-1], got[-1]
    deltas = [c["choices"][0]["delta"] for c in got]
    text = "".join(d.get("content") or "" for d in deltas)
    thought = "".join(d.get("reasoning_content") or "" for d in deltas)
    return text, thought, got[-1]["choices"][0]["finish_reason"], got[-1].get("usage") or {}


def refusal(client: httpx.Client, payload: dict[str, Any]) -> dict[str, Any]:
    (error,) = chunks(client, payload)
    assert "code" in error, error
    return error


LONG = " ".join(f"word{i}" for i in range(60))


# ------------------------------------------------------------------------------------------------ token limits


def test_max_completion_tokens_is_ignored(client: httpx.Client) -> None:
    text, _, finish, _ = answer(client, body(LONG, max_completion_tokens=1))
    assert text == f"Echo: {LONG}" and finish == "stop"


@pytest.mark.parametrize("limit", [1, 15, 0, "20"])
def test_small_max_tokens_is_rejected(client: httpx.Client, limit: Any) -> None:
    error = refusal(client, body(max_tokens=limit))
    assert error["code"] == 11133 and error["extError"] == {"param": "max_tokens"}


def test_answers_stop_at_max_tokens_with_length(client: httpx.Client) -> None:
    text, _, finish, usage = answer(client, body(f"{LONG} FAKE:usage=full", max_tokens=20))
    assert finish == "length" and usage["completion_tokens"] <= 20
    assert f"Echo: {LONG}".startswith(text) and count_tokens(text) == usage["completion_tokens"] > 10


def test_reasoning_counts_against_max_tokens(client: httpx.Client) -> None:
    payload = body(f"{LONG} FAKE:usage=full", max_tokens=16, reasoning_effort="high", reasoning_summary="auto")
    text, thought, finish, usage = answer(client, payload)
    assert (text, finish) == ("", "length")  # the limit ran out inside the reasoning
    assert thought and usage["completion_tokens_details"]["reasoning_tokens"] == usage["completion_tokens"] <= 16


def test_without_a_limit_the_answer_stops_at_32000(client: httpx.Client) -> None:
    huge = " ".join(f"w{i}" for i in range(12_000))  # echoed: far more than 32,000 tokens
    _, _, finish, usage = answer(client, body(f"{huge} FAKE:usage=full"))
    assert finish == "length" and DEFAULT_MAX_TOKENS - 10 < usage["completion_tokens"] <= DEFAULT_MAX_TOKENS


# ------------------------------------------------------------------------------------------------ efforts


@pytest.mark.parametrize("model", ["gpt-5.5", "gpt-5.4", "gpt-5.3-codex", "default-model"])
def test_max_rejected_on_gpt_models(client: httpx.Client, model: str) -> None:
    error = refusal(client, body(model=model, reasoning_effort="max", reasoning_summary="auto"))
    assert error["code"] == 11133 and error["extError"] == {"param": "reasoning_effort"}
    assert answer(client, body(model=model, reasoning_effort="xhigh", reasoning_summary="auto"))[2] == "stop"


@pytest.mark.parametrize("model", ["claude-sonnet-4.6", "gemini-3.1-pro", "kimi-k3"])
def test_max_accepted_elsewhere(client: httpx.Client, model: str) -> None:
    assert answer(client, body(model=model, reasoning_effort="max", reasoning_summary="auto"))[2] == "stop"


@pytest.mark.parametrize("effort", ["minimal", "auto", "MAX", 3])
def test_words_outside_the_gateways_efforts(client: httpx.Client, effort: Any) -> None:
    assert refusal(client, body(model="claude-sonnet-4.6", reasoning_effort=effort))["code"] == 11150


def test_v3_config_lists_efforts_per_model(client: httpx.Client) -> None:
    rows = {r["id"]: r for r in client.get("/../v3/config").json()["data"]["models"]}
    assert rows["gpt-5.5"]["reasoning"]["supportedEfforts"] == ["low", "medium", "high", "xhigh"]
    assert rows["glm-5.2"]["reasoning"]["supportedEfforts"] == ["high", "xhigh"]
    assert "reasoning" not in rows["claude-sonnet-4.6"]  # not reported: the fake takes all five


def test_discovery_reads_the_fakes_efforts(fake: FakeCodeBuddy) -> None:
    models, _ = fetch_live_models(KEY, fake.base_url)
    found = {m.id: m.efforts for m in models}
    assert found["gpt-5.4"] == ("low", "medium", "high", "xhigh")
    assert found["glm-5.2"] == ("high", "xhigh") and found["kimi-k3"] == ("medium",)
    assert found["claude-sonnet-4.6"] is None


# ------------------------------------------------------------------------------------------------ reasoning shown


@pytest.mark.parametrize(
    ("extra", "shown", "counted"),
    [
        ({"reasoning_effort": "high", "reasoning_summary": "auto"}, True, True),
        ({"reasoning_effort": "high"}, False, True),
        ({"reasoning_summary": "auto"}, False, False),
        ({}, False, False),
    ],
)
def test_reasoning_shown_only_with_effort_and_summary(
    client: httpx.Client, extra: dict[str, Any], shown: bool, counted: bool
) -> None:
    text, thought, _, usage = answer(client, body("ponder FAKE:usage=full", **extra))
    assert text == "Echo: ponder"
    assert thought == ("Thinking about: ponder" if shown else "")
    assert (usage["completion_tokens_details"]["reasoning_tokens"] > 0) is counted


# ------------------------------------------------------------------------------------------------ models


@pytest.mark.parametrize("model", ["claude-opus-5", "gpt-5.3-codex", "gpt-6-astra", "hy4-preview", "kimi-k3"])
def test_newer_models_are_known(client: httpx.Client, model: str) -> None:
    assert model in ACCOUNT_MODELS
    assert answer(client, body(model=model))[0] == "Echo: hello there world"


@pytest.mark.parametrize("picker", sorted(PICKERS))
def test_picker_ids_answer_as_the_model_they_pick(client: httpx.Client, picker: str) -> None:
    got = chunks(client, body(model=picker))
    assert {c["model"] for c in got if "model" in c} == {PICKERS[picker]}


# ------------------------------------------------------------------------------------------------ cache and credits


def conversation(word: str, turns: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are careful. " * 200}]
    for i in range(turns):
        messages.append({"role": "user", "content": f"{word} question {i}"})
        messages.append({"role": "assistant", "content": f"answer {i}"})
    return [*messages, {"role": "user", "content": f"{word} question {turns}"}]


def _u(client: httpx.Client, payload: dict[str, Any]) -> dict[str, Any]:
    """The full usage of one answer (the directive goes on a copy of the last message)."""
    last = payload["messages"][-1]
    marked = [*payload["messages"][:-1], {**last, "content": last["content"] + " FAKE:usage=full"}]
    return answer(client, {**payload, "messages": marked})[3]


def test_no_key_no_cache(client: httpx.Client) -> None:
    messages = conversation("nokey", 2)
    first = _u(client, {"model": "gpt-5.5", "stream": True, "messages": messages})
    second = _u(client, {"model": "gpt-5.5", "stream": True, "messages": messages})
    assert first["prompt_cache_hit_tokens"] == second["prompt_cache_hit_tokens"] == 0
    assert first["credit"] == second["credit"]


def test_cache_only_with_a_key(client: httpx.Client) -> None:
    messages = conversation("keyed", 2)
    payload = {"model": "gpt-5.5", "stream": True, "messages": messages, "prompt_cache_key": "conv-keyed"}
    first = _u(client, payload)
    assert first["prompt_cache_hit_tokens"] == 0 and first["prompt_tokens_details"]["cache_write_tokens"] > 0
    grown = [*messages, {"role": "assistant", "content": "answer 2"}, {"role": "user", "content": "keyed next"}]
    second = _u(client, {**payload, "messages": grown})
    # everything but the last user message was sent before under this key (the directive's text is not in it),
    # read in whole blocks
    assert (
        second["prompt_cache_hit_tokens"]
        == blocks(prompt_tokens(messages[:-1]))
        == second["prompt_tokens_details"]["cached_tokens"]
        > 0
    )
    assert second["prompt_cache_miss_tokens"] == second["prompt_tokens"] - second["prompt_cache_hit_tokens"]
    assert second["credit"] < first["credit"]
    other_key = _u(client, {**payload, "messages": grown, "prompt_cache_key": "conv-other"})
    other_model = _u(client, {**payload, "messages": grown, "model": "gpt-5.4"})
    assert other_key["prompt_cache_hit_tokens"] == other_model["prompt_cache_hit_tokens"] == 0


def blocks(tokens: int) -> int:
    """``tokens`` rounded down to whole cache blocks."""
    return tokens // BLOCK * BLOCK


def test_thin_usage_reports_hits_for_a_keyed_request(client: httpx.Client) -> None:
    payload = {**body("thin hits", prompt_cache_key="conv-thin"), "messages": conversation("thin", 0)}
    _, _, _, first = answer(client, payload)
    _, _, _, second = answer(client, payload)
    assert set(first) == {"total_tokens", "credit", "prompt_cache_hit_tokens"} and first["prompt_cache_hit_tokens"] == 0
    assert second["prompt_cache_hit_tokens"] == blocks(prompt_tokens(payload["messages"]) - 1) > 0
    assert set(answer(client, body("thin no key"))[3]) == {"total_tokens", "credit"}


def test_a_cache_hit_covers_whole_blocks_of_the_prefix_only(client: httpx.Client) -> None:
    """As the field reports it (7,808 hit tokens of about 8,000): a hit is the repeated prefix in whole blocks,
    never the whole prompt, even when the whole prompt is repeated."""
    system = {"role": "system", "content": "Read the repository before you change it. " * 880}
    first = [system, {"role": "user", "content": "first question"}]
    payload = {"model": "gpt-5.5", "stream": True, "messages": first, "prompt_cache_key": "conv-blocks"}
    assert _u(client, payload)["prompt_cache_hit_tokens"] == 0
    grown = [*first, {"role": "assistant", "content": "answer"}, {"role": "user", "content": "second question"}]
    usage = _u(client, {**payload, "messages": grown})
    prefix, prompt = prompt_tokens(first), usage["prompt_tokens"]
    assert 7_500 < prompt < 8_500
    assert usage["prompt_cache_hit_tokens"] == blocks(prefix) and prefix - BLOCK < blocks(prefix) < prompt
    again = _u(client, {**payload, "messages": grown})
    assert 0 < prompt - again["prompt_cache_hit_tokens"] <= BLOCK and again["prompt_cache_hit_tokens"] % BLOCK == 0
    assert again["prompt_cache_miss_tokens"] == prompt - again["prompt_cache_hit_tokens"]


def test_the_reported_measurement() -> None:
    """The rates reproduce the one public figure: an 8k-token prefix billed 0.34 credits without a key and 0.02
    with one (7,808 hit tokens), for a short answer."""
    assert credits(8_000, 0, 10) == pytest.approx(0.34, abs=0.005)
    assert credits(8_000, 7_808, 10) == pytest.approx(0.02, abs=0.003)
    assert CACHED < INPUT / 10


# ------------------------------------------------------------------------------------------------ the provider copes


def test_the_provider_raises_small_limits(mode: str, fake: FakeCodeBuddy) -> None:
    result = call(mode, api_base=fake.base_url, api_key=KEY, max_tokens=5)
    assert result.content == "Echo: hi"
    assert fake.requests[-1].body["max_tokens"] == 16


def test_max_completion_tokens_limits_through_the_provider(mode: str, fake: FakeCodeBuddy) -> None:
    result = call(mode, api_base=fake.base_url, api_key=KEY, messages=[{"role": "user", "content": LONG}])
    assert result.finish_reason == "stop"
    limited = call(
        mode,
        api_base=fake.base_url,
        api_key=KEY,
        messages=[{"role": "user", "content": LONG}],
        max_completion_tokens=20,
    )
    assert limited.finish_reason == "length" and len(limited.content or "") < len(result.content or "")


def test_max_effort_through_the_provider(mode: str, fake: FakeCodeBuddy) -> None:
    result = call(
        mode, api_base=fake.base_url, api_key=KEY, reasoning_effort="max", allowed_openai_params=["reasoning_effort"]
    )
    assert result.reasoning == "Thinking about: hi" and result.content == "Echo: hi"
    assert fake.requests[-1].body["reasoning_effort"] == "xhigh"


@pytest.mark.parametrize("mode", MODES)
def test_the_second_turn_reads_the_cache(mode: str, fake: FakeCodeBuddy) -> None:
    messages = conversation(f"provider-{mode}", 1)
    first = call(mode, api_base=fake.base_url, api_key=KEY, messages=messages)
    grown = [*messages, {"role": "assistant", "content": first.content}, {"role": "user", "content": "and then?"}]
    second = call(mode, api_base=fake.base_url, api_key=KEY, messages=grown)
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert prompt_tokens(messages) - BLOCK < cached <= second.usage.prompt_tokens and cached % BLOCK == 0
    unkeyed = call(mode, api_base=fake.base_url, api_key=KEY, messages=grown, auto_prompt_cache_key=False)
    details = unkeyed.usage.prompt_tokens_details
    assert details is None or not details.cached_tokens
    if mode not in STREAM_MODES:  # a stream carries its credit on the finishing chunk, not in usage
        assert second.usage.credit < unkeyed.usage.credit


# ------------------------------------------------------------------------------------------------ history and tools

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.mark.parametrize("mode", MODES)
def test_reasoning_goes_back_through_the_provider(mode: str, fake: FakeCodeBuddy) -> None:
    """The reasoning of an earlier tool-call turn reaches the gateway as ``reasoning`` and the answer goes on."""
    tool_call = {"id": "call_w", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"x"}'}}
    messages = [
        {"role": "user", "content": "weather in x?"},
        {"role": "assistant", "content": None, "tool_calls": [tool_call], "reasoning_content": "Ask the tool."},
        {"role": "tool", "tool_call_id": "call_w", "content": "sunny"},
    ]
    result = call(mode, api_base=fake.base_url, api_key=KEY, messages=messages, tools=[WEATHER])
    assert result.content == "Tool results: sunny"
    sent = fake.requests[-1].body["messages"][2]
    assert sent["reasoning"] == "Ask the tool." and "reasoning_content" not in sent


@pytest.mark.parametrize("mode", MODES)
def test_tool_choice_none_through_the_provider(mode: str, fake: FakeCodeBuddy) -> None:
    """The gateway calls a tool while tools are sent whatever ``tool_choice`` says; with ``"none"`` none is sent."""
    messages = [{"role": "user", "content": "weather?"}]
    called = call(mode, api_base=fake.base_url, api_key=KEY, messages=messages, tools=[WEATHER])
    assert called.finish_reason == "tool_calls"
    result = call(mode, api_base=fake.base_url, api_key=KEY, messages=messages, tools=[WEATHER], tool_choice="none")
    assert result.content == "Echo: weather?" and not result.tool_calls and result.finish_reason == "stop"
    assert "tools" not in fake.requests[-1].body and "tool_choice" not in fake.requests[-1].body
