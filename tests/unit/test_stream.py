"""The answer as the caller sees it: stream conversion, tool calls, usage, on the four paths and unit-level."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import litellm
import pytest
import respx

from litellm_codebuddy.provider.request import DEFAULT_SYSTEM_PROMPT
from litellm_codebuddy.provider.stream import StreamState, normalise_usage

from support.upstream import (
    FULL_USAGE,
    KEY,
    MODEL,
    SSE_HEADERS,
    STREAM_MODES,
    URL,
    USER,
    Parts,
    call,
    event,
    sse,
    sse_response,
    unwrap,
)

SPLITS = [pytest.param(False, id="one-read"), pytest.param(True, id="read-per-event")]


def answer(upstream: respx.MockRouter, *payloads: Any, split: bool = False, done: bool = True) -> respx.Route:
    return upstream.post(URL).mock(side_effect=lambda request: sse_response(*payloads, split=split, done=done))


def tc(
    index: int | None = 0, id: str | None = None, name: str | None = None, args: str | None = None
) -> dict[str, Any]:
    call: dict[str, Any] = {"type": "function", "function": {}}
    if index is not None:
        call["index"] = index
    if id is not None:
        call["id"] = id
    if name is not None:
        call["function"]["name"] = name
    if args is not None:
        call["function"]["arguments"] = args
    return call


# ---------------------------------------------------------------- content and reasoning


@pytest.mark.parametrize("split", SPLITS)
def test_content_and_reasoning(mode: str, upstream: respx.MockRouter, split: bool) -> None:
    answer(
        upstream,
        event(reasoning="Let me ", finish_reason=""),
        event(reasoning="think.", finish_reason=""),
        event("The answer ", finish_reason=""),
        event("is 42.", finish_reason=""),
        event("", finish_reason="stop", usage=FULL_USAGE),
        split=split,
    )
    result = call(mode)
    assert result.content == "The answer is 42."
    assert result.reasoning == "Let me think."
    assert result.finish_reason == "stop"


def test_reasoning_field_alias(mode: str, upstream: respx.MockRouter) -> None:
    thinking = {"id": "r", "choices": [{"delta": {"reasoning": "hmm"}}]}
    answer(upstream, thinking, event("ok", finish_reason="stop"))
    result = call(mode)
    assert result.reasoning == "hmm"
    assert result.content == "ok"


def test_stream_chunks_carry_deltas(upstream: respx.MockRouter) -> None:
    answer(upstream, event("a"), event("b"), event("c", finish_reason="stop"), split=True)
    chunks = list(litellm.completion(model="codebuddy/gpt-5.5", messages=USER, api_key="ck_x.y", stream=True))
    texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert texts == ["a", "b", "c"]
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]


# ---------------------------------------------------------------- tool calls


PARALLEL = [
    event(tool_calls=[tc(0, "tooluse_aaa", "get_weather", "")], finish_reason=""),
    event(tool_calls=[tc(0, "tooluse_aaa", "", '{"city": ')], finish_reason=""),
    event(tool_calls=[tc(0, None, None, '"Paris"}')], finish_reason=""),
    event(tool_calls=[tc(0, "tooluse_bbb", "get_time", "")], finish_reason=""),
    event(tool_calls=[tc(0, "tooluse_bbb", "", '{"tz": ')], finish_reason=""),
    event(tool_calls=[tc(0, "", "", '"UTC"}')], finish_reason=""),
    event("", tool_calls=[], finish_reason="tool_calls", usage=FULL_USAGE),
]


@pytest.mark.parametrize("split", SPLITS)
def test_parallel_tool_calls_with_index_zero(mode: str, upstream: respx.MockRouter, split: bool) -> None:
    answer(upstream, *PARALLEL, split=split)
    result = call(mode)
    assert result.tool_calls == [
        {"id": "tooluse_aaa", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        {"id": "tooluse_bbb", "name": "get_time", "arguments": '{"tz": "UTC"}'},
    ]
    assert result.finish_reason == "tool_calls"
    assert result.content in (None, "")
    for call_ in result.tool_calls:
        json.loads(call_["arguments"])
    if mode == "sync":
        assert result.response.choices[0].message.content is None  # None when only tool calls
    if result.chunks is not None:
        indexes = {
            tool.index: tool.id
            for chunk in result.chunks
            for choice in chunk.choices
            for tool in (choice.delta.tool_calls or [])
            if tool.id
        }
        assert indexes == {0: "tooluse_aaa", 1: "tooluse_bbb"}


def test_non_stream_content_none_with_only_tool_calls(upstream: respx.MockRouter) -> None:
    answer(upstream, *PARALLEL)
    import asyncio

    for resp in (
        litellm.completion(model="codebuddy/gpt-5.5", messages=USER, api_key="ck_x.y"),
        asyncio.run(litellm.acompletion(model="codebuddy/gpt-5.5", messages=USER, api_key="ck_x.y")),
    ):
        assert resp.choices[0].message.content is None
        assert len(resp.choices[0].message.tool_calls) == 2


def test_tool_call_with_distinct_indexes(mode: str, upstream: respx.MockRouter) -> None:
    """The OpenAI way (index 0 and 1, id only on the first delta) still works."""
    answer(
        upstream,
        event(tool_calls=[tc(0, "call_1", "f", '{"a"'), tc(1, "call_2", "g", '{"b"')]),
        event(tool_calls=[tc(0, None, None, ": 1}")]),
        event(tool_calls=[tc(1, None, None, ": 2}")]),
        event(finish_reason="tool_calls"),
    )
    result = call(mode)
    assert result.tool_calls == [
        {"id": "call_1", "name": "f", "arguments": '{"a": 1}'},
        {"id": "call_2", "name": "g", "arguments": '{"b": 2}'},
    ]


def test_tool_call_without_id_gets_one(mode: str, upstream: respx.MockRouter) -> None:
    answer(upstream, event(tool_calls=[tc(0, None, "f", "{}")]), event(finish_reason="tool_calls"))
    result = call(mode)
    assert len(result.tool_calls) == 1
    assert result.tool_calls[0]["id"]
    assert result.tool_calls[0]["name"] == "f"
    assert result.tool_calls[0]["arguments"] == "{}"


def test_text_then_tool_call(mode: str, upstream: respx.MockRouter) -> None:
    answer(
        upstream,
        event("Let me check.", finish_reason=""),
        event(tool_calls=[tc(0, "tooluse_1", "lookup", '{"q": "x"}')], finish_reason=""),
        event(finish_reason="tool_calls"),
    )
    result = call(mode)
    assert result.content == "Let me check."
    assert result.tool_calls == [{"id": "tooluse_1", "name": "lookup", "arguments": '{"q": "x"}'}]


def test_finish_reason_inferred_as_tool_calls_after_done(mode: str, upstream: respx.MockRouter) -> None:
    answer(upstream, event(tool_calls=[tc(0, "t1", "f", "{}")], finish_reason=""))
    assert call(mode).finish_reason == "tool_calls"


# ---------------------------------------------------------------- finish_reason "" and usage


def test_empty_finish_reason_is_absent(mode: str, upstream: respx.MockRouter) -> None:
    odd = {
        "id": "x",
        "choices": [{"delta": {"content": "b", "role": "", "refusal": "", "tool_calls": []}, "finish_reason": ""}],
    }
    answer(upstream, event("a", finish_reason=""), odd, event("c", finish_reason="length", usage=FULL_USAGE))
    result = call(mode)
    assert result.content == "abc"
    assert result.finish_reason == "length"
    assert result.tool_calls == []


@pytest.mark.parametrize("split", SPLITS)
def test_empty_finish_reason_after_the_real_one(mode: str, upstream: respx.MockRouter, split: bool) -> None:
    trailing = {"id": "x", "choices": [{"delta": {"content": ""}, "finish_reason": ""}], "usage": FULL_USAGE}
    answer(upstream, event("cut", finish_reason=""), event("", finish_reason="length"), trailing, split=split)
    result = call(mode)
    assert result.finish_reason == "length"
    assert result.usage.total_tokens == 1801


def test_only_empty_finish_reasons_then_done_is_stop(mode: str, upstream: respx.MockRouter) -> None:
    answer(upstream, event("a", finish_reason=""), event("b", finish_reason=""))
    result = call(mode)
    assert result.content == "ab"
    assert result.finish_reason == "stop"


@pytest.mark.parametrize("split", SPLITS)
def test_usage_exactly_as_upstream(mode: str, upstream: respx.MockRouter, split: bool) -> None:
    answer(upstream, event("hi", finish_reason=""), event("", finish_reason="stop", usage=FULL_USAGE), split=split)
    result = call(mode)
    assert result.usage.prompt_tokens == 1234
    assert result.usage.completion_tokens == 567
    assert result.usage.total_tokens == 1801


@pytest.mark.parametrize("mode", STREAM_MODES)
def test_usage_on_a_streamed_chunk(mode: str, upstream: respx.MockRouter) -> None:
    answer(upstream, event("hi", finish_reason=""), event("", finish_reason="stop", usage=FULL_USAGE), split=True)
    result = call(mode, stream_options={"include_usage": True})
    assert result.chunks is not None
    usages = [getattr(c, "usage", None) for c in result.chunks if getattr(c, "usage", None)]
    assert usages, "no chunk carried usage"
    assert (usages[-1].prompt_tokens, usages[-1].completion_tokens, usages[-1].total_tokens) == (1234, 567, 1801)


def test_usage_after_finish_chunk_before_done(mode: str, upstream: respx.MockRouter) -> None:
    """Some gateways put usage on a separate last event after the finish_reason one."""
    trailing = {"id": "x", "choices": [], "usage": FULL_USAGE}
    answer(upstream, event("hi"), event("", finish_reason="stop"), trailing, split=True)
    result = call(mode)
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.total_tokens) == (1234, 567, 1801)


def test_only_total_tokens(mode: str, upstream: respx.MockRouter) -> None:
    answer(upstream, event("Hello there"), event("", finish_reason="stop", usage={"total_tokens": 500}))
    result = call(mode)
    expected_prompt = litellm.token_counter(
        messages=[{"role": "system", "content": DEFAULT_SYSTEM_PROMPT}, {"role": "user", "content": "hi"}]
    )
    assert result.usage.total_tokens == 500
    assert result.usage.prompt_tokens == expected_prompt
    assert result.usage.completion_tokens == 500 - expected_prompt
    assert result.usage.prompt_tokens + result.usage.completion_tokens == result.usage.total_tokens


def test_thinking_tokens_become_reasoning_tokens(mode: str, upstream: respx.MockRouter) -> None:
    usage = {**FULL_USAGE, "completion_thinking_tokens": 300, "credit": 0.25}
    answer(upstream, event("x", reasoning="y"), event("", finish_reason="stop", usage=usage))
    result = call(mode)
    assert result.usage.completion_tokens_details.reasoning_tokens == 300


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_non_stream_response_fields(mode: str, upstream: respx.MockRouter) -> None:
    usage = {"total_tokens": 90, "prompt_tokens": 60, "completion_tokens": 30, "credit": 0.125}
    answer(
        upstream,
        event("Hi", reasoning="r", id="resp_upstream_1", model="gpt-5.5-2026"),
        event(" there", id="resp_upstream_2"),
        event("", finish_reason="stop", usage=usage, id="resp_upstream_3"),
    )
    result = call(mode, model="codebuddy/gpt-5.5")
    resp = result.response
    assert resp.id == "resp_upstream_1"
    assert resp.model == "gpt-5.5"
    assert result.content == "Hi there"
    assert result.reasoning == "r"
    assert resp.usage.credit == 0.125
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens, resp.usage.total_tokens) == (60, 30, 90)
    assert resp.object == "chat.completion"


def test_whole_json_completion_answer_accepted(mode: str, upstream: respx.MockRouter) -> None:
    """A 200 JSON chat completion instead of a stream is read leniently as one event."""
    body = {"id": "r1", "choices": [{"message": {"content": "plain"}, "finish_reason": "stop"}], "usage": FULL_USAGE}
    upstream.post(URL).mock(return_value=httpx.Response(200, json=body))
    result = call(mode)
    assert result.content == "plain"
    assert result.finish_reason == "stop"


def test_many_events_in_small_reads(mode: str, upstream: respx.MockRouter) -> None:
    raw = sse(*[event(f"{i} ") for i in range(50)], event("", finish_reason="stop", usage=FULL_USAGE))
    parts = [raw[i : i + 7] for i in range(0, len(raw), 7)]
    upstream.post(URL).mock(side_effect=lambda request: httpx.Response(200, headers=SSE_HEADERS, stream=Parts(parts)))
    result = call(mode)
    assert result.content == "".join(f"{i} " for i in range(50))


# ---------------------------------------------------------------- StreamState, unit level


def state(accumulate: bool = False) -> StreamState:
    return StreamState("gpt-5.5", lambda: 10, accumulate=accumulate)


def test_state_empty_finish_reason_is_none() -> None:
    s = state()
    s.feed([json.dumps(event("a", finish_reason=""))])
    assert s.finish_reason is None
    with pytest.raises(litellm.APIConnectionError):
        s.close()


def test_state_finish_chunk_carries_usage() -> None:
    s = state()
    chunks = s.feed([json.dumps(event("a")), json.dumps(event("", finish_reason="stop", usage=FULL_USAGE))])
    finish = chunks[-1]
    assert finish["is_finished"] is True
    assert finish["finish_reason"] == "stop"
    assert finish["usage"]["total_tokens"] == 1801
    assert s.feed(["[DONE]"]) == []
    assert s.close() == []


def test_state_parallel_tool_call_positions() -> None:
    s = state()
    out: list[Any] = []
    for payload in PARALLEL:
        out += s.feed([json.dumps(payload)])
    tools = [c["tool_use"] for c in out if isinstance(c, dict) and c.get("tool_use")]
    assert [t["index"] for t in tools] == [0, 0, 0, 1, 1, 1]
    assert [t["id"] for t in tools if t["id"]] == ["tooluse_aaa", "tooluse_bbb"]
    assert [t["function"]["name"] for t in tools if t["function"]["name"]] == ["get_weather", "get_time"]


def test_state_ignores_events_after_done() -> None:
    s = state(accumulate=True)
    s.feed([json.dumps(event("a")), "[DONE]", json.dumps(event("ignored"))])
    assert s.content == ["a"]
    assert s.done


def test_normalise_usage_rules() -> None:
    assert normalise_usage({"total_tokens": 50}, lambda: 20, lambda: 999) == {
        "prompt_tokens": 20,
        "completion_tokens": 30,
        "total_tokens": 50,
    }
    # the local prompt count is capped at the total
    assert normalise_usage({"total_tokens": 5}, lambda: 20, lambda: 0)["completion_tokens"] == 0
    assert normalise_usage(None, lambda: 3, lambda: 4) == {
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
    }
    usage = normalise_usage(
        {"prompt_tokens": 1, "completion_tokens": 2, "completion_thinking_tokens": 1, "prompt_cache_hit_tokens": 1},
        lambda: 0,
        lambda: 0,
    )
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 1}
    assert usage["prompt_tokens_details"] == {"cached_tokens": 1}
    assert usage["total_tokens"] == 3


# ---------------------------------------------------------------- an error after content, in the same read


@pytest.mark.parametrize("error", [{"code": 6004, "msg": "超出频率限制"}, "{not json"])
def test_content_before_an_error_in_one_read_is_handed_on_first(error: Any) -> None:
    """Mid-answer, text that arrived with the error is delivered before the error is raised, never dropped."""
    state = StreamState("gpt-5.5", lambda: 1)
    assert [c["text"] for c in state.feed([json.dumps(event("Hello"))])] == ["Hello"]
    payload = error if isinstance(error, str) else json.dumps(error)
    chunks = state.feed([json.dumps(event(" world")), payload])
    assert [c["text"] for c in chunks] == [" world"]
    with pytest.raises((litellm.RateLimitError, litellm.APIError)):
        state.check()
    state.check()  # raised once only


def test_an_error_before_anything_was_handed_on_is_raised_at_once() -> None:
    """Before the first chunk the error goes alone, so the proxy can still answer with its HTTP status."""
    state = StreamState("gpt-5.5", lambda: 1)
    with pytest.raises(litellm.RateLimitError):
        state.feed([json.dumps(event("Hello")), json.dumps({"code": 6004, "msg": "limit"})])


@pytest.mark.parametrize("mode", STREAM_MODES)
def test_stream_delivers_content_then_raises_the_error_of_the_same_read(upstream: Any, mode: str) -> None:
    parts = [sse(event("Hello"), done=False), sse(event(" world"), {"code": 11140, "msg": "risk control"}, done=False)]
    upstream.post(URL).mock(return_value=httpx.Response(200, headers=SSE_HEADERS, stream=Parts(parts)))
    seen: list[str] = []

    async def consume_async() -> None:
        stream = await litellm.acompletion(model=MODEL, messages=USER, api_key=KEY, stream=True)
        async for chunk in stream:
            seen.append(chunk.choices[0].delta.content or "")

    with pytest.raises(Exception) as info:
        if mode == "sync_stream":
            for chunk in litellm.completion(model=MODEL, messages=USER, api_key=KEY, stream=True):
                seen.append(chunk.choices[0].delta.content or "")
        else:
            asyncio.run(consume_async())
    assert "".join(seen) == "Hello world"
    assert isinstance(unwrap(info.value), litellm.ContentPolicyViolationError)
