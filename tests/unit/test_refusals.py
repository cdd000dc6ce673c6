"""Refusals and limits become LiteLLM's own errors: the content-safety soft block, 11128, 11115, 6004 with its reset
time, 11140's rate limit and the newer codes; unit-level, on the four call paths, and through a ``litellm.Router``
(content-policy and context-window fallbacks, a model group of two keys with a cooldown until the reset)."""

from __future__ import annotations

import asyncio
import datetime
import json
import time
from typing import Any

import httpx
import litellm
import pytest
import respx
from litellm.litellm_core_utils.exception_mapping_utils import _get_response_headers
from litellm.router_utils.cooldown_handlers import get_cooldown_deployments

from litellm_codebuddy.provider.errors import (
    SOFT_BLOCK,
    SOFT_BLOCK_NOTICE,
    TOO_LONG,
    error_from_body,
    error_from_response,
    is_soft_block,
    may_be_soft_block,
    reset_delay,
    upstream_of,
)
from litellm_codebuddy.provider.params import default_max_tokens
from litellm_codebuddy.provider.stream import StreamState

from support.upstream import (
    FULL_USAGE,
    KEY,
    MODEL,
    STREAM_MODES,
    URL,
    USER,
    call,
    event,
    json_error,
    ok_response,
    raised,
    router_call,
    sse_response,
)

UTC8 = datetime.timezone(datetime.timedelta(hours=8))
NOW = datetime.datetime(2026, 10, 9, 20, 0, 0, tzinfo=UTC8)
EN_6004 = (
    "usage exceeds frequency limit, but don't worry, your usage will reset at 2026-10-10 00:08:52 UTC+8, "
    "alternatively, you can switch to the other models to continue using it."
)
ZH_6004 = "您的使用量已超出频率限制，将在 2026-10-09 21:24:55 UTC+8 重置，您也可以切换其他模型继续使用。"
CHANNEL = {
    "code": 11128,
    "msg": "Illegal API invocation from an unapproved channel",
    "displayMsg": {
        "en": "The request was blocked by security policy. Please retry later or contact support.",
        "zh": "请求被安全策略拦截，请稍后重试或联系客服。",
        "zh-hant": "請求被安全策略攔截，請稍後重試或聯繫客服。",
    },
    "requestId": "req-channel-1",
}
TOO_LONG_BODY = {
    "code": 11115,
    "msg": "prompt is too long: 250123 tokens > 200000 maximum",
    "extError": {"code": "context_length_exceeded"},
    "displayMsg": {"en": "The conversation is too long.", "zh": "对话过长"},
    "requestId": "req-long-1",
}
# Claude Code's own test of an API error message (read from its bundle): a context-window error it compacts on
CLAUDE_CODE_TOO_LONG = r"prompt is too long[^0-9]*(\d+)\s*tokens?\s*>\s*(\d+)"


def notice_events(*, pieces: int = 1, finish: str = "content_filter") -> list[dict[str, Any]]:
    """The soft block as the field reports it: the notice in ``pieces`` events, finish content_filter, usage."""
    size = -(-len(SOFT_BLOCK_NOTICE) // pieces)
    parts = [SOFT_BLOCK_NOTICE[i : i + size] for i in range(0, len(SOFT_BLOCK_NOTICE), size)]
    return [event(p, finish_reason="") for p in parts] + [event("", finish_reason=finish, usage={"total_tokens": 52})]


# ---------------------------------------------------------------- the notice, pure


def test_notice_recognised_exactly() -> None:
    assert is_soft_block(SOFT_BLOCK_NOTICE)
    assert is_soft_block(f"\n {SOFT_BLOCK_NOTICE} \n")
    assert not is_soft_block(SOFT_BLOCK_NOTICE[:-1])
    assert not is_soft_block(SOFT_BLOCK_NOTICE + " 但是我可以帮你")
    assert not is_soft_block("This topic is currently outside the scope of my capabilities.")  # decided: not matched
    assert not is_soft_block("")


@pytest.mark.parametrize(
    ("text", "could"),
    [
        ("", True),
        ("  ", True),
        ("抱", True),
        ("抱歉", True),
        (" 抱歉，系统", True),
        (SOFT_BLOCK_NOTICE, True),
        (SOFT_BLOCK_NOTICE + "\n", True),
        ("抱歉，我", False),
        ("Hello", False),
        ("This", False),
        (SOFT_BLOCK_NOTICE + " more", False),
    ],
)
def test_may_be_soft_block(text: str, could: bool) -> None:
    assert may_be_soft_block(text) is could


# ---------------------------------------------------------------- the reset time, pure


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (EN_6004, 4 * 3600 + 8 * 60 + 52),
        (ZH_6004, 3600 + 24 * 60 + 55),
        ("超出频率限制，将于 2026-10-09 21:00:00 (UTC+8) 重置", 3600),  # the fake's older wording
        ("resets at 2026-10-09 20:00:30", 30),  # no zone named: the gateway's UTC+8
        ("resets at 2026-10-09T12:00:10 UTC+0", 10),
        ("resets at 2026-10-09 19:00:00 UTC+8", 1),  # already past: never below 1
        ("resets at 2026-10-09 20:00:00.4 UTC+8", 1),
    ],
)
def test_reset_delay(text: str, seconds: int) -> None:
    assert reset_delay(text, NOW) == seconds


@pytest.mark.parametrize("text", ["usage exceeds frequency limit", "", "resets at 2026-13-40 99:99:99 UTC+8"])
def test_reset_delay_without_a_time(text: str) -> None:
    assert reset_delay(text, NOW) is None


# ---------------------------------------------------------------- error bodies, unit level


def retry_after_of(exc: BaseException) -> int:
    """The cooldown a Router takes from the exception: LiteLLM's own two readers, as router.py calls them."""
    headers = _get_response_headers(exc)  # type: ignore[arg-type]
    return int(litellm.utils._get_retry_after_from_exception_header(headers))  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", [200, 400])
@pytest.mark.parametrize("msg", ["Illegal API invocation from an unapproved channel", "request illegal"])
def test_channel_refusal_is_a_content_policy_violation(status: int, msg: str) -> None:
    exc = error_from_response(status, {}, json.dumps({**CHANNEL, "msg": msg}).encode(), "gpt-5.5", secrets=(KEY,))
    assert isinstance(exc, litellm.ContentPolicyViolationError)
    assert exc.status_code == 400
    said = upstream_of(exc)
    assert said is not None
    assert (said.code, said.text, said.request_id, said.http_status) == (11128, msg, "req-channel-1", status)
    assert said.display == CHANNEL["displayMsg"]["en"]  # type: ignore[index]
    assert said.known is not None and said.known.kind == "content_policy"
    assert "11128" in str(exc) and msg in str(exc) and "req-channel-1" in str(exc)
    assert exc.code == "content_policy_violation"


@pytest.mark.parametrize("status", [200, 400])
def test_soft_block_error_body(status: int) -> None:
    exc = error_from_response(status, {}, json.dumps({"error": {"message": SOFT_BLOCK_NOTICE}}).encode(), "m")
    assert isinstance(exc, litellm.ContentPolicyViolationError)
    said = upstream_of(exc)
    assert said is not None and said.known is SOFT_BLOCK and said.text == SOFT_BLOCK_NOTICE
    assert "content-safety" in str(exc)


@pytest.mark.parametrize(
    ("body", "headline"),
    [
        (TOO_LONG_BODY, "prompt is too long: 250123 tokens > 200000 maximum"),
        ({"code": 4028, "msg": "prompt is too long: 5,000 tokens > 4,096 maximum"}, "prompt is too long: 5000 tokens"),
        ({"code": 99901, "msg": "input length too long"}, "prompt is too long."),
        ({"code": 99902, "msg": "bad", "extError": {"code": "context_length_exceeded"}}, "prompt is too long."),
        ({"error": {"message": "prompt is too long: 9 tokens > 8 maximum"}}, "prompt is too long: 9 tokens > 8"),
    ],
)
def test_context_too_long(body: dict[str, Any], headline: str) -> None:
    exc = error_from_response(400, {}, json.dumps(body).encode(), "m")
    assert isinstance(exc, litellm.ContextWindowExceededError)
    assert exc.status_code == 400
    text = str(exc)
    # Anthropic's words come first: Claude Code (through LiteLLM's /v1/messages bridge) compacts on them
    assert text.split("litellm.BadRequestError: ", 1)[1].startswith(headline), text
    said = upstream_of(exc)
    assert said is not None and said.known is TOO_LONG
    # OpenAI's error object: LiteLLM's Responses bridge puts its code into a streamed response.failed event
    assert exc.code == "context_length_exceeded" and exc.body["code"] == "context_length_exceeded"  # type: ignore[index]


def test_context_too_long_counts_as_claude_code_reads_them() -> None:
    import re

    exc = error_from_response(400, {}, json.dumps(TOO_LONG_BODY).encode(), "m")
    match = re.search(CLAUDE_CODE_TOO_LONG, str(exc), re.IGNORECASE)
    assert match is not None and match.groups() == ("250123", "200000")


@pytest.mark.parametrize("msg", [EN_6004, ZH_6004])
@pytest.mark.parametrize("status", [200, 429])
def test_6004_carries_retry_after_until_the_reset(msg: str, status: int) -> None:
    exc = error_from_body({"code": 6004, "msg": msg, "requestId": "r"}, status, "m", now=NOW)
    assert isinstance(exc, litellm.RateLimitError)
    expected = reset_delay(msg, NOW)
    assert expected is not None and expected > 3600
    assert retry_after_of(exc) == expected
    said = upstream_of(exc)
    assert said is not None and said.retry_after == expected and said.code == 6004
    assert f"Retry-After: {expected}s" in str(exc)


def test_6004_without_a_time_is_parked_until_the_end_of_the_day() -> None:
    """6004 is a per-day limit: without a named reset, the Retry-After is the end of the gateway's day (UTC+8)."""
    exc = error_from_body({"code": 6004, "msg": "usage exceeds frequency limit"}, 429, "m", now=NOW)
    assert isinstance(exc, litellm.RateLimitError)
    assert retry_after_of(exc) == 4 * 3600  # NOW is 20:00 UTC+8
    assert upstream_of(exc).retry_after == 4 * 3600  # type: ignore[union-attr]


def test_the_gateways_own_retry_after_wins() -> None:
    exc = error_from_body({"code": 6004, "msg": EN_6004}, 429, "m", {"Retry-After": "42"}, now=NOW)
    assert retry_after_of(exc) == 42


def test_6004_reset_computed_now() -> None:
    """Without a fixed clock: a reset ten minutes ahead (UTC+8) gives about 600 s."""
    reset = (datetime.datetime.now(UTC8) + datetime.timedelta(minutes=10)).strftime("%Y-%m-%d %H:%M:%S")
    exc = error_from_body({"code": 6004, "msg": f"usage will reset at {reset} UTC+8"}, 429, "m")
    assert 595 <= retry_after_of(exc) <= 601


@pytest.mark.parametrize("status", [200, 429])
def test_11140_rate_limiting_is_a_rate_limit(status: int) -> None:
    body = {"code": 11140, "msg": "The model provider is rate-limiting requests.", "requestId": "r"}
    exc = error_from_body(body, status, "m")
    assert isinstance(exc, litellm.RateLimitError)
    said = upstream_of(exc)
    assert said is not None and said.known is not None and "rate-limiting" in said.known.meaning


@pytest.mark.parametrize("status", [200, 403])
def test_11140_safety_review_is_a_content_policy_refusal(status: int) -> None:
    """A refusal about the request, not the key: 400 ContentPolicyViolationError, never a 403 a Router retries on
    every key of its group."""
    exc = error_from_body({"code": 11140, "msg": "The content did not pass the safety review."}, status, "m")
    assert isinstance(exc, litellm.ContentPolicyViolationError) and exc.status_code == 400


NEW_CODES: dict[int, tuple[int, type[Exception]]] = {
    11114: (400, litellm.RateLimitError),
    1005: (200, litellm.RateLimitError),
    12153: (401, litellm.AuthenticationError),
    11103: (400, litellm.NotFoundError),
    11135: (400, litellm.BadRequestError),
}


@pytest.mark.parametrize("code", sorted(NEW_CODES))
def test_new_codes(code: int) -> None:
    status, expected = NEW_CODES[code]
    exc = error_from_body({"code": code, "msg": f"said {code}", "requestId": "r"}, status, "m")
    assert type(exc) is expected
    said = upstream_of(exc)
    assert said is not None and said.known is not None and said.known.hint


def test_codes_match_exactly() -> None:
    """``111020`` is not ``11102``: an unknown code gets its HTTP status's class, never a neighbour's entry."""
    exc = error_from_body({"code": 111020, "msg": "something else"}, 503, "m")
    assert isinstance(exc, litellm.ServiceUnavailableError)
    assert upstream_of(exc).known is None  # type: ignore[union-attr]
    exc = error_from_body({"code": "111020", "msg": "x"}, 400, "m")
    assert type(exc) is litellm.BadRequestError and upstream_of(exc).known is None  # type: ignore[union-attr]


# ---------------------------------------------------------------- the stream, pure


def state(accumulate: bool = False) -> StreamState:
    return StreamState("gpt-5.5", lambda: 5, accumulate=accumulate)


def feed_all(st: StreamState, batches: list[list[dict[str, Any] | str]]) -> list[list[Any]]:
    return [st.feed([p if isinstance(p, str) else json.dumps(p) for p in batch]) for batch in batches]


def texts(chunks: list[Any]) -> str:
    return "".join(c["text"] if isinstance(c, dict) else (c.choices[0].delta.content or "") for c in chunks)


@pytest.mark.parametrize("pieces", [1, 3, len(SOFT_BLOCK_NOTICE)])
def test_soft_block_stream_raises_before_any_chunk(pieces: int) -> None:
    st = state()
    events = notice_events(pieces=pieces)
    handed: list[Any] = []
    with pytest.raises(litellm.ContentPolicyViolationError) as info:
        for e in [*events, "[DONE]"]:
            handed += st.feed([e if isinstance(e, str) else json.dumps(e)])
    assert handed == []
    said = upstream_of(info.value)
    assert said is not None and said.known is SOFT_BLOCK and said.request_id == "resp_abc"
    assert "content_filter" in str(info.value)


@pytest.mark.parametrize("finish", ["content_filter", "stop"])
def test_soft_block_in_one_batch(finish: str) -> None:
    with pytest.raises(litellm.ContentPolicyViolationError):
        feed_all(state(), [[*notice_events(finish=finish), "[DONE]"]])


def test_soft_block_finish_before_usage_raises_at_the_finish() -> None:
    st = state()
    assert st.feed([json.dumps(event(SOFT_BLOCK_NOTICE))]) == []
    with pytest.raises(litellm.ContentPolicyViolationError):
        st.feed([json.dumps(event("", finish_reason="content_filter"))])


def test_soft_block_without_finish_or_done_is_an_incomplete_stream() -> None:
    st = state()
    assert st.feed([json.dumps(event(SOFT_BLOCK_NOTICE))]) == []
    with pytest.raises(litellm.APIConnectionError):
        st.close()


def test_ordinary_answer_flows_at_once() -> None:
    st = state()
    (first,) = st.feed([json.dumps(event("Hello"))])
    assert first["text"] == "Hello"
    assert st.screening is False


def test_held_prefix_released_with_the_event_that_cannot_be_the_notice() -> None:
    st = state()
    assert st.feed([json.dumps(event("抱"))]) == []
    assert st.feed([json.dumps(event("歉"))]) == []
    (chunk,) = st.feed([json.dumps(event("，我不能"))])
    assert chunk["text"] == "抱歉，我不能"
    (later,) = st.feed([json.dumps(event("做这件事。"))])
    assert later["text"] == "做这件事。"


def test_reasoning_first_flows_at_once() -> None:
    st = state()
    (chunk,) = st.feed([json.dumps(event(reasoning="thinking"))])
    assert chunk.choices[0].delta.reasoning_content == "thinking"


def test_notice_with_reasoning_or_a_tool_call_is_an_answer() -> None:
    st = state()
    chunks = st.feed([json.dumps(event(reasoning="hm")), json.dumps(event(SOFT_BLOCK_NOTICE))])
    assert texts(chunks) == SOFT_BLOCK_NOTICE
    st = state()
    assert st.feed([json.dumps(event(SOFT_BLOCK_NOTICE))]) == []
    call = {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    (chunk,) = st.feed([json.dumps(event(tool_calls=[call]))])
    assert chunk["text"] == SOFT_BLOCK_NOTICE and chunk["tool_use"]["id"] == "c1"


def test_short_prefix_answer_released_at_the_end() -> None:
    st = state()
    assert st.feed([json.dumps(event("抱歉"))]) == []
    chunks = st.feed([json.dumps(event("", finish_reason="stop", usage=FULL_USAGE)), "[DONE]"])
    assert [c["text"] for c in chunks] == ["抱歉", ""]
    assert chunks[-1]["finish_reason"] == "stop"


def test_content_filter_after_real_content_is_passed_on() -> None:
    st = state()
    chunks = st.feed([json.dumps(event("Part of an answer")), json.dumps(event("", finish_reason="content_filter"))])
    chunks += st.feed(["[DONE]"]) + st.close()
    assert texts(chunks) == "Part of an answer"
    assert chunks[-1]["finish_reason"] == "content_filter"


def test_empty_answer_finished_by_the_filter_is_a_refusal() -> None:
    with pytest.raises(litellm.ContentPolicyViolationError):
        feed_all(state(), [[event("", finish_reason="content_filter"), "[DONE]"]])
    st = state(accumulate=True)
    feed_all(st, [[event("", finish_reason="content_filter"), "[DONE]"]])
    with pytest.raises(litellm.ContentPolicyViolationError):
        st.close()


def test_soft_block_accumulated_raises_at_close() -> None:
    st = state(accumulate=True)
    feed_all(st, [[*notice_events(pieces=4), "[DONE]"]])
    with pytest.raises(litellm.ContentPolicyViolationError):
        st.close()


# ---------------------------------------------------------------- the four call paths


@pytest.mark.parametrize("split", [False, True], ids=["one-read", "read-per-event"])
def test_soft_block_on_every_path(mode: str, upstream: respx.MockRouter, split: bool) -> None:
    upstream.post(URL).mock(side_effect=lambda request: sse_response(*notice_events(pieces=5), split=split))
    received: list[Any] = []
    if mode in STREAM_MODES:
        received = stream_until_error(mode)
    else:
        raised(mode, litellm.ContentPolicyViolationError)
    assert received == []


def stream_until_error(mode: str) -> list[Any]:
    """Iterate a stream, keep what arrived before the error, and check the error is the content-policy one."""
    got: list[Any] = []

    async def run_async() -> None:
        stream = await litellm.acompletion(model=MODEL, messages=USER, api_key=KEY, stream=True)
        async for chunk in stream:
            got.append(chunk)

    with pytest.raises(litellm.ContentPolicyViolationError):
        if mode == "sync_stream":
            for chunk in litellm.completion(model=MODEL, messages=USER, api_key=KEY, stream=True):
                got.append(chunk)
        else:
            asyncio.run(run_async())
    return [c for c in got if c.choices and (c.choices[0].delta.content or c.choices[0].finish_reason)]


def test_soft_block_400_on_every_path(mode: str, upstream: respx.MockRouter) -> None:
    upstream.post(URL).mock(return_value=json_error({"error": {"message": SOFT_BLOCK_NOTICE}}, 400))
    exc = raised(mode, litellm.ContentPolicyViolationError)
    assert upstream_of(exc).known is SOFT_BLOCK  # type: ignore[union-attr]


def test_content_filter_finish_on_every_path(mode: str, upstream: respx.MockRouter) -> None:
    upstream.post(URL).mock(
        return_value=sse_response(
            event("The first half of an answer", finish_reason=""),
            event("", finish_reason="content_filter", usage=FULL_USAGE),
        )
    )
    result = call(mode)
    assert result.content == "The first half of an answer"
    assert result.finish_reason == "content_filter"
    if result.chunks is not None:
        assert [c.choices[0].finish_reason for c in result.chunks if c.choices and c.choices[0].finish_reason] == [
            "content_filter"
        ]


def test_answer_starting_like_the_notice_on_every_path(mode: str, upstream: respx.MockRouter) -> None:
    upstream.post(URL).mock(
        return_value=sse_response(
            event("抱歉"), event("，我不知道。"), event("", finish_reason="stop", usage=FULL_USAGE)
        )
    )
    assert call(mode).content == "抱歉，我不知道。"


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        (CHANNEL, 400, litellm.ContentPolicyViolationError),
        (TOO_LONG_BODY, 400, litellm.ContextWindowExceededError),
        ({"code": 6004, "msg": EN_6004}, 429, litellm.RateLimitError),
        ({"code": 11140, "msg": "The model provider is rate-limiting requests."}, 200, litellm.RateLimitError),
    ],
    ids=["11128", "11115", "6004", "11140-rate"],
)
def test_refusals_on_every_path(
    mode: str, upstream: respx.MockRouter, body: dict[str, Any], status: int, expected: type[Exception]
) -> None:
    upstream.post(URL).mock(return_value=json_error(body, status))
    exc = raised(mode, expected)
    said = upstream_of(exc)
    assert said is not None and said.code == body["code"] and said.http_status == status


def test_6004_retry_after_on_every_path(mode: str, upstream: respx.MockRouter) -> None:
    reset = (datetime.datetime.now(UTC8) + datetime.timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S")
    upstream.post(URL).mock(return_value=json_error({"code": 6004, "msg": f"将在 {reset} UTC+8 重置"}, 429))
    exc = raised(mode, litellm.RateLimitError)
    assert 7190 <= retry_after_of(exc) <= 7201


@pytest.mark.parametrize("first", [True, False], ids=["first-event", "after-content"])
def test_11128_inside_a_stream(mode: str, upstream: respx.MockRouter, first: bool) -> None:
    events = [CHANNEL] if first else [event("partial "), CHANNEL]
    upstream.post(URL).mock(return_value=sse_response(*events, done=False))
    raised(mode, litellm.ContentPolicyViolationError)


# ---------------------------------------------------------------- through a litellm.Router

PRIMARY, BACKUP = "gpt-5.5", "claude-sonnet-4.6"
CONVERSATION = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "one"},
    {"role": "assistant", "content": "two"},
    {"role": "user", "content": "three"},
]


def fallback_router(**kw: Any) -> litellm.Router:
    return litellm.Router(
        model_list=[
            {"model_name": "main", "litellm_params": {"model": f"codebuddy/{PRIMARY}", "api_key": KEY}},
            {"model_name": "backup", "litellm_params": {"model": f"codebuddy/{BACKUP}", "api_key": KEY}},
        ],
        num_retries=0,
        **kw,
    )


def routed(upstream: respx.MockRouter, refusal: Any) -> respx.Route:
    """The primary model refuses (``refusal()`` is its answer); the backup answers."""

    def answer(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["model"] == PRIMARY:
            return refusal()
        return ok_response("from the backup")

    return upstream.post(URL).mock(side_effect=answer)


REFUSALS = {
    "soft-block-stream": (lambda: sse_response(*notice_events(pieces=3), split=True), "content_policy_fallbacks"),
    "soft-block-400": (lambda: json_error({"error": {"message": SOFT_BLOCK_NOTICE}}, 400), "content_policy_fallbacks"),
    "11128": (lambda: json_error(CHANNEL, 400), "content_policy_fallbacks"),
    "11115": (lambda: json_error(TOO_LONG_BODY, 400), "context_window_fallbacks"),
}


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_router_fallbacks(mode: str, upstream: respx.MockRouter, refusal: str) -> None:
    answer, setting = REFUSALS[refusal]
    route = routed(upstream, answer)
    router = fallback_router(**{setting: [{"main": ["backup"]}]})
    assert router_call(router, mode, CONVERSATION) == "from the backup"
    sent = [json.loads(c.request.content) for c in route.calls]
    assert [b["model"] for b in sent] == [PRIMARY, BACKUP]  # the refused request was not retried on the primary
    # the backup got the request unchanged: same messages (and everything else) apart from the model, and the
    # prompt-cache key the provider derives from it (cache_key.py: one per model and conversation)
    assert sent[0]["prompt_cache_key"].startswith("cb-") and sent[1]["prompt_cache_key"].startswith("cb-")
    derived = {"model": None, "prompt_cache_key": None, "max_tokens": None}  # each model's own longest answer
    assert {**sent[0], **derived} == {**sent[1], **derived}
    assert [b["max_tokens"] for b in sent] == [default_max_tokens(PRIMARY), default_max_tokens(BACKUP)]
    assert sent[0]["messages"] == CONVERSATION


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_router_without_the_fallback_reports_the_refusal(upstream: respx.MockRouter, refusal: str) -> None:
    answer, setting = REFUSALS[refusal]
    routed(upstream, answer)
    expected: type[Exception] = litellm.ContentPolicyViolationError
    if setting.startswith("context"):
        expected = litellm.ContextWindowExceededError
    with pytest.raises(expected):
        router_call(fallback_router(), "async_stream", USER)


def group_router(**kw: Any) -> litellm.Router:
    """One model group, two deployments told apart by their keys."""
    return litellm.Router(
        model_list=[
            {"model_name": "main", "litellm_params": {"model": f"codebuddy/{PRIMARY}", "api_key": key}}
            for key in (KEY_A, KEY_B)
        ],
        **kw,
    )


KEY_A, KEY_B = "ck_keyA.secretA", "ck_keyB.secretB"


def key_of(request: httpx.Request) -> str:
    return request.headers["x-api-key"]


def test_router_sets_a_limited_key_aside_until_the_reset(upstream: respx.MockRouter) -> None:
    """6004 on key A: the Router keeps A aside for the seconds until the named reset, longer than its own
    cooldown, and sends every request to key B meanwhile; after the reset A is asked again."""
    reset_in = 4
    reset = (datetime.datetime.now(UTC8) + datetime.timedelta(seconds=reset_in)).replace(microsecond=0)
    message = f"usage exceeds frequency limit, your usage will reset at {reset:%Y-%m-%d %H:%M:%S} UTC+8."

    def answer(request: httpx.Request) -> httpx.Response:
        if key_of(request) == KEY_A and datetime.datetime.now(UTC8) < reset:
            return json_error({"code": 6004, "msg": message}, 429)
        return ok_response(f"from {key_of(request)}")

    route = upstream.post(URL).mock(side_effect=answer)
    router = group_router(num_retries=2, cooldown_time=1, retry_after=0)

    def asked_a() -> int:
        return len([c for c in route.calls if key_of(c.request) == KEY_A])

    async def run(n: int) -> list[str]:
        out = []
        for _ in range(n):
            resp = await router.acompletion(model="main", messages=USER)
            out.append(resp.choices[0].message.content)
        return out

    start = time.monotonic()
    answers: list[str] = []
    while asked_a() == 0 and len(answers) < 40:  # the Router picks at random: ask until it has tried A once
        answers += asyncio.run(run(1))
    answers += asyncio.run(run(6))
    # the request that met the limit may be retried on key A once more before its cooldown is recorded
    tried = asked_a()
    assert tried in (1, 2), "the Router never tried key A"
    assert set(answers) == {f"from {KEY_B}"}  # A's 429 was retried on B at once; the caller never saw it
    while time.monotonic() - start < 2.0:  # past the Router's own cooldown (1 s), well before the reset
        answers += asyncio.run(run(2))
        time.sleep(0.1)
    assert asked_a() == tried, "A was asked again before the reset"
    assert set(answers) == {f"from {KEY_B}"}
    time.sleep(max(0.0, reset_in + 1.5 - (time.monotonic() - start)))
    later = asyncio.run(run(12))
    assert f"from {KEY_A}" in later, "A was not asked again after the reset"


@pytest.mark.parametrize(
    "body",
    [
        {**CHANNEL, "msg": f"unapproved channel for {KEY}", "displayMsg": {"en": f"blocked {KEY}"}},
        {"code": 11115, "msg": f"prompt is too long: 9 tokens > 8 maximum ({KEY})", "requestId": KEY},
        {"code": 6004, "msg": f"{EN_6004} {KEY}"},
        {"error": {"message": f"{SOFT_BLOCK_NOTICE} {KEY}"}},
    ],
    ids=["11128", "11115", "6004", "soft-block"],
)
def test_key_never_shown(body: dict[str, Any]) -> None:
    exc = error_from_response(400, {"Retry-After": KEY}, json.dumps(body).encode(), "m", secrets=(KEY,))
    said = upstream_of(exc)
    shown = [str(exc), repr(exc), repr(said), exc.response.text, str(dict(exc.response.headers))]  # type: ignore[attr-defined]
    assert all(KEY not in text for text in shown)


# ---------------------------------------------------------------- a Router's streams: LiteLLM's envelope


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (lambda: sse_response(*notice_events(pieces=3), split=True), litellm.ContentPolicyViolationError),
        (lambda: json_error(CHANNEL, 400), litellm.ContentPolicyViolationError),
        (lambda: json_error(TOO_LONG_BODY, 400), litellm.ContextWindowExceededError),
        (lambda: sse_response(TOO_LONG_BODY, done=False), litellm.ContextWindowExceededError),
    ],
    ids=["soft-block", "11128", "11115", "11115-in-stream"],
)
@pytest.mark.parametrize("routed", [True, False], ids=["router", "sdk"])
def test_a_routers_stream_refusal_comes_in_litellms_envelope(
    upstream: respx.MockRouter, answer: Any, kind: type[Exception], routed: bool
) -> None:
    """Called by a Router (its metadata names a model group), an async stream's refusal before the first chunk is
    raised as MidStreamFallbackError(original_exception=<refusal>, is_pre_first_chunk=True), the envelope LiteLLM's
    /v1/responses bridge runs its content-policy fallbacks from; called directly, it stays the refusal itself."""
    upstream.post(URL).mock(side_effect=lambda request: answer())
    metadata = {"model_group": "main"} if routed else {}

    async def run() -> None:
        stream = await litellm.acompletion(model=MODEL, messages=USER, api_key=KEY, stream=True, metadata=metadata)
        async for _ in stream:
            pass

    with pytest.raises(Exception) as info:
        asyncio.run(run())
    exc = info.value
    if routed:
        assert isinstance(exc, litellm.exceptions.MidStreamFallbackError), repr(exc)
        assert isinstance(exc.original_exception, kind) and exc.is_pre_first_chunk
        assert exc.status_code == 400
    else:
        assert isinstance(exc, kind), repr(exc)
    assert upstream_of(exc) is not None


def test_a_refusal_after_content_is_not_enveloped(upstream: respx.MockRouter) -> None:
    upstream.post(URL).mock(return_value=sse_response(event("partial "), CHANNEL, done=False, split=True))

    async def run() -> list[Any]:
        stream = await litellm.acompletion(
            model=MODEL, messages=USER, api_key=KEY, stream=True, metadata={"model_group": "main"}
        )
        return [c async for c in stream]

    with pytest.raises(litellm.ContentPolicyViolationError):
        asyncio.run(run())


# ---------------------------------------------------------------- a refusal never cools a deployment

KEYS3 = ("ck_keyA.secretA", "ck_keyB.secretB", "ck_keyC.secretC")
MODERATION_ENVELOPE = {
    "code": -32603,
    "message": "Internal error",
    "data": {"code": 0, "message": "内容未通过安全审核，请调整后重试。", "statusCode": 400},
}
#: name -> the refused answer (every refusal the official client and the field reports name)
REFUSED: dict[str, Any] = {
    "11128": lambda: json_error(CHANNEL, 400),
    "11128-under-500": lambda: json_error(CHANNEL, 500),
    "11140": lambda: json_error({"code": 11140, "msg": "The content did not pass the safety review."}, 403),
    "11141": lambda: json_error({"code": 11141, "msg": "refused"}, 403),
    "11142": lambda: json_error({"code": 11142, "msg": "refused"}, 403),
    "17271": lambda: json_error({"code": 17271, "msg": "refused"}, 403),
    "17276": lambda: json_error({"code": 17276, "msg": "refused"}, 403),
    "soft-block-stream": lambda: sse_response(*notice_events(pieces=3), split=True),
    "soft-block-400": lambda: json_error({"error": {"message": SOFT_BLOCK_NOTICE}}, 400),
    "moderation-400": lambda: json_error(MODERATION_ENVELOPE, 400),
    "moderation-500": lambda: json_error(MODERATION_ENVELOPE, 500),
}


@pytest.mark.parametrize("status", [400, 500])
def test_the_moderation_envelope_is_a_content_policy_violation(status: int) -> None:
    exc = error_from_response(status, {}, json.dumps(MODERATION_ENVELOPE).encode(), "m")
    assert isinstance(exc, litellm.ContentPolicyViolationError) and exc.status_code == 400
    assert "内容未通过安全审核，请调整后重试。" in str(exc)
    said = upstream_of(exc)
    assert said is not None and said.text == "内容未通过安全审核，请调整后重试。" and said.http_status == status


def test_11128_under_500_is_still_the_channel_refusal() -> None:
    exc = error_from_response(500, {}, json.dumps(CHANNEL).encode(), "m")
    assert isinstance(exc, litellm.ContentPolicyViolationError) and exc.status_code == 400


def three_keys(**kw: Any) -> litellm.Router:
    """One model group of three deployments told apart by their keys."""
    return litellm.Router(
        model_list=[
            {"model_name": "main", "litellm_params": {"model": MODEL, "api_key": key}, "model_info": {"id": key[3:7]}}
            for key in KEYS3
        ],
        **kw,
    )


@pytest.mark.parametrize("refusal", sorted(REFUSED))
def test_a_refusal_never_cools_a_deployment(upstream: respx.MockRouter, refusal: str) -> None:
    """The refused request goes to one key only (it is not retried on the others: a refusal is about the request),
    nothing is cooled down, and the next requests still reach all three keys."""
    refused = REFUSED[refusal]
    first = [True]

    def answer(request: httpx.Request) -> httpx.Response:
        if first[0]:
            first[0] = False
            return refused()
        return ok_response(f"from {key_of(request)}")

    route = upstream.post(URL).mock(side_effect=answer)
    router = three_keys(num_retries=2, retry_after=0, cooldown_time=30)
    with pytest.raises(litellm.ContentPolicyViolationError):
        router_call(router, "async_stream" if refusal.startswith("soft-block-stream") else "async", USER)
    assert route.call_count == 1
    assert get_cooldown_deployments(router, None) == []
    seen = {router_call(router, "async", USER) for _ in range(30)}
    assert seen == {f"from {key}" for key in KEYS3}
    assert get_cooldown_deployments(router, None) == []


def test_a_limit_cools_its_key_for_comparison(upstream: respx.MockRouter) -> None:
    """The same Router does cool a key down for a 429 (here 14018 out of credits, parked for the x-ratelimit-reset)."""
    first = [True]

    def answer(request: httpx.Request) -> httpx.Response:
        if first[0]:
            first[0] = False
            return json_error({"code": 14018, "msg": "credits exhausted"}, 429, {"x-ratelimit-reset": "30"})
        return ok_response(f"from {key_of(request)}")

    upstream.post(URL).mock(side_effect=answer)
    router = three_keys(num_retries=2, retry_after=0, cooldown_time=1)
    assert router_call(router, "async", USER).startswith("from ")  # retried at once on another key
    cooled = get_cooldown_deployments(router, None)
    assert len(cooled) == 1
    seen = {router_call(router, "async", USER) for _ in range(20)}
    assert len(seen) == 2 and f"from ck_{cooled[0]}" not in {s[:12] for s in seen}
