"""Property-based tests (Hypothesis) of the request side and the stream side: what nobody thought to write by hand.

* Requests: for any messages, tools, tool schemas and parameters, :func:`prepare_request` either builds a body the
  fake gateway's own checks accept (``fake_codebuddy.checks.validate``, called directly), as valid UTF-8 JSON, or
  raises ``litellm.BadRequestError`` (never another class, never a retryable one); and it is quick about it.
* Streams: for any byte stream from the upstream (events of every kind, split anywhere, truncated anywhere, invalid
  UTF-8, error events, garbage, lines past a megabyte, three kinds of line ends) fed through the SSE decoder,
  :class:`StreamState` and :class:`Pump` as the handler does, the caller gets every chunk the stream carried, or a
  LiteLLM exception: never a silent partial answer.

Bounded and stable in CI: few examples each, a deadline per example, and ``derandomize=True`` (the examples come
from a fixed seed, so every run tries the same ones); the explicit ``@example`` cases are the findings, kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import litellm
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from litellm.types.utils import ModelResponse

from fake_codebuddy.checks import validate
from fake_codebuddy.state import FakeState
from litellm_codebuddy.provider.errors import undecodable_stream
from litellm_codebuddy.provider.pump import Pump
from litellm_codebuddy.provider.request import prepare_request
from litellm_codebuddy.provider.sse import SSEDecodeError
from litellm_codebuddy.provider.stream import StreamState

from support.strategies import messages, nested, params

KEY = "ck_prop.S3cretForProperties"
MODEL = "gpt-5.5"
STATE = FakeState.create(None, None, 0)
PROPERTIES = settings(
    max_examples=300,
    deadline=5000,  # ms per example: a hang or a quadratic blow-up fails, a busy CI box does not
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
# a retryable class (LiteLLM's and the Router's retry and fallback machinery act on these) is never the answer to
# the caller's own bad input
RETRYABLE = (
    litellm.APIConnectionError,
    litellm.Timeout,
    litellm.RateLimitError,
    litellm.InternalServerError,
    litellm.ServiceUnavailableError,
)


def lone_surrogates(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# ------------------------------------------------------------------------------------------------ request property


@PROPERTIES
@given(msgs=messages, optional=params)
@example(msgs=[{"role": "user", "content": 42}], optional={})
@example(msgs="hi", optional={})
@example(msgs={"role": "user", "content": "hi"}, optional={})
@example(msgs=[1, 2], optional={})
@example(msgs=[{"role": "user", "content": "hi \ud800"}], optional={})
@example(msgs=[{"role": "assistant", "content": None, "tool_calls": float("nan")}], optional={})
@example(msgs=[{"role": [], "content": None}], optional={})
@example(
    msgs=[
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": ""},
    ],
    optional={},
)
@example(msgs=[{"role": "system", "content": "a\udfffb"}, {"role": "user", "content": "hi"}], optional={})
@example(
    msgs=[{"role": "user", "content": "hi"}], optional={"tools": [{"function": {"name": "f"}}], "tool_choice": "banana"}
)
@example(
    msgs=[{"role": "user", "content": "hi"}],
    optional={"tools": [{"function": {"name": "f", "parameters": nested(700)}}]},
)
@example(msgs=[{"role": "user", "content": "hi"}], optional={"user": b"\xff\xfe"})
@example(
    msgs=[{"role": "user", "content": [{"type": "file", "file": {"file_data": "data:application/pdf;base64,JV"}}]}],
    optional={},
)
@example(msgs=[{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "UklG"}}]}], optional={})
@example(
    msgs=[{"role": "assistant", "content": [{"type": "image_url", "image_url": {"url": "u", "detail": "low"}}]}],
    optional={},
)
def test_every_request_is_built_or_refused(msgs: Any, optional: dict[str, Any]) -> None:
    try:
        prep = prepare_request(MODEL, msgs, optional, KEY, None)
    except litellm.BadRequestError as exc:
        event("refused")
        assert not isinstance(exc, RETRYABLE)
        assert str(exc).startswith("litellm.BadRequestError: CodeBuddy: ") or "UnsupportedParamsError" in repr(exc)
        assert KEY not in str(exc)
        return
    body = json.loads(prep.encoded.content)  # what goes on the wire: one JSON object, ASCII
    assert body == json.loads(json.dumps(prep.body))  # the bytes are the body
    assert not lone_surrogates(body), "a lone surrogate would be sent"
    event("built")
    refusal = validate(body, STATE)
    assert refusal is None, f"the gateway would refuse {refusal}: {body}"
    assert KEY not in prep.encoded.content.decode("ascii")


@pytest.mark.parametrize(
    ("msgs", "optional", "words"),
    [
        ([{"role": "user", "content": "hi \ud800"}], {}, "messages[0].content holds a lone surrogate"),
        (
            [{"role": "user", "content": [{"type": "text", "text": "ok"}, {"type": "text", "text": "x\udc00"}]}],
            {},
            "messages[0].content[1].text holds a lone surrogate",
        ),
        ([{"role": "user", "content": "hi"}], {"user": "u\ud800"}, "user holds a lone surrogate"),
        ([{"role": "user", "content": "hi"}], {"tool_choice": "banana"}, "tool_choice must be one of"),
        ([{"role": "user", "content": "hi"}], {"tool_choice": 7}, "got int"),
        (
            [{"role": "user", "content": [{"type": "text", "text": "see"}, {"type": "file", "file": {}}]}],
            {},
            "messages[0].content[1]: a 'file' part cannot be sent",
        ),
        ([{"role": "user", "content": [{"text": "no type"}]}], {}, "a part without a 'type' string"),
        ([{"role": "assistant", "content": None, "tool_calls": 1.5}], {}, "messages[0].tool_calls must be a list"),
        (
            [
                {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "function": {"name": "f"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": ""},
            ],
            {},
            "messages[1]: a tool result with empty content cannot be sent",
        ),
        ([{"role": ["user"], "content": "hi"}], {}, "messages[0] has an unknown role ['user']"),
        ([{"role": "user", "content": [{"type": "text", "text": 5}]}], {}, "a text part needs a 'text' string"),
        (
            [
                {"role": "system", "content": [{"type": "image_url", "image_url": {"url": "u"}}]},
                {"role": "user", "content": "hi"},
            ],
            {},
            "an image_url part cannot be in a system message",
        ),
    ],
    ids=[
        "surrogate",
        "surrogate-in-part",
        "surrogate-in-param",
        "banana",
        "int-choice",
        "file",
        "no-type",
        "tool-calls-not-a-list",
        "empty-tool-result",
        "role-a-list",
        "text-not-str",
        "system-image",
    ],
)
def test_findings_are_bad_requests_naming_the_field(msgs: Any, optional: dict[str, Any], words: str) -> None:
    with pytest.raises(litellm.BadRequestError) as info:
        prepare_request(MODEL, msgs, optional, KEY, None)
    assert words in str(info.value)


def test_the_schema_depth_limit_does_not_depend_on_the_stack() -> None:
    """Found by the suite: a 400-level schema was sent or refused depending on how deep the caller's stack was (a
    RecursionError in the inliner). The limit is now a fixed one, walked without recursion."""

    def at_depth(frames: int, schema: dict[str, Any]) -> str:
        if frames:
            return at_depth(frames - 1, schema)
        try:
            prepare_request(
                MODEL,
                [{"role": "user", "content": "hi"}],
                {"tools": [{"function": {"name": "f", "parameters": schema}}]},
                KEY,
                None,
            )
        except litellm.BadRequestError as exc:
            return str(exc)
        return "built"

    for depth in (63, 64, 200, 400, 1200):  # nested(n) is 2n + 1 levels deep
        answers = {at_depth(frames, nested(depth)) for frames in (0, 300, 600)}
        assert len(answers) == 1, answers
        (answer,) = answers
        if depth <= 63:
            assert answer == "built"
        else:
            assert "tools[0].function.parameters is nested more than 128 levels deep" in answer


def test_emoji_and_pairs_are_not_lone_surrogates() -> None:
    prep = prepare_request(MODEL, [{"role": "user", "content": "ok 😀 \\ud800 literally"}], {}, KEY, None)
    assert json.loads(prep.encoded.content)["messages"][1]["content"] == "ok 😀 \\ud800 literally"


# ------------------------------------------------------------------------------------------------ stream strategies


@dataclass(frozen=True)
class Item:
    """One piece of an upstream stream: its bytes and what it means."""

    raw: bytes
    kind: str  # content, finish, done, comment, error, garbage, badutf8
    text: str = ""

    def bad(self) -> bool:
        return self.kind in ("error", "garbage", "badutf8")


def _event(delta: dict[str, Any], **extra: Any) -> bytes:
    payload = {"id": "resp_1", "model": MODEL, "object": "response", "choices": [{"delta": delta, **extra}]}
    return json.dumps(payload).encode()


piece_text = st.text(alphabet=st.sampled_from('ab 中😀\n"\\'), min_size=1, max_size=8).map(lambda t: "w" + t)
content_item = st.one_of(
    piece_text.map(
        lambda t: Item(b"data: " + _event({"content": t, "role": "", "tool_calls": []}, finish_reason=""), "content", t)
    ),
    piece_text.map(lambda t: Item(b"data: " + _event({"reasoning_content": t}), "reasoning", t)),
    st.integers((1 << 20) + 1, (1 << 20) + 3000).map(
        lambda n: Item(b"data: " + _event({"content": "w" * n}), "content", "w" * n)
    ),
    st.just(
        Item(
            b"data: "
            + _event({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{}"}}]}),
            "tool",
        )
    ),
)
usage = {"total_tokens": 30, "credit": 0.01}
item = st.one_of(
    content_item,
    content_item,
    content_item,
    st.just(
        Item(
            b"data: "
            + _event({"content": ""}, finish_reason="stop")[:-1]
            + b',"usage":'
            + json.dumps(usage).encode()
            + b"}",
            "finish",
        )
    ),
    st.just(Item(b"data: [DONE]", "done")),
    st.just(Item(b": keep-alive", "comment")),
    st.just(Item(b"data: " + json.dumps({"code": 11101, "msg": "invalid request"}).encode(), "error")),
    st.just(Item(b'data: {"error": {"message": "boom", "type": "server_error"}}', "error")),
    st.just(Item(b"data: {not json", "garbage")),
    st.just(Item(b"data: \xff\xfe", "badutf8")),
    st.just(Item(b": \xff comment bytes are never decoded", "comment")),
)


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[Item], bytes, int, list[bytes]]:
    items = draw(st.lists(item, min_size=0, max_size=8))
    if draw(st.integers(0, 3)):  # most streams end properly: finish and [DONE]
        items += [
            Item(b"data: " + _event({"content": ""}, finish_reason="stop"), "finish"),
            Item(b"data: [DONE]", "done"),
        ]
    end = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    whole = b"".join(i.raw + end + end for i in items)
    cut = draw(st.one_of(st.just(len(whole)), st.just(len(whole)), st.integers(0, len(whole))))
    sent = whole[:cut]
    points = sorted(draw(st.lists(st.integers(0, len(sent)), max_size=6)))
    pieces = [sent[a:b] for a, b in zip([0, *points], [*points, len(sent)], strict=True)]
    return items, end, cut, pieces


def expected(items: list[Item], end: bytes, cut: int) -> tuple[bool, str, str]:
    """What a correct reader makes of the stream cut at ``cut``: (ok, content, reasoning). Not ok: an exception is
    due (an error, garbage or bad UTF-8 before [DONE], or neither a finish nor [DONE] before the cut)."""
    pos, finished = 0, False
    text: list[str] = []
    thinking: list[str] = []
    for it in items:
        size = len(it.raw) + 2 * len(end)
        whole = pos + size <= cut
        if not whole:
            # the event the body ends on: read leniently when its data line is all there (blank line missing)
            line = it.raw
            got = (cut - pos) if cut > pos else 0
            if it.kind != "comment" and got >= len(line):
                whole = True
            elif it.kind != "comment" and got > 0:
                value = line[5:got]
                if got > len(b"data") and value.removeprefix(b" "):
                    return False, "", ""  # a data line cut in the middle: not JSON
                # "d" ... "data", "data:", "data: ": an unknown field or an empty event, which carry nothing
        if not whole:
            break
        pos += size
        if it.kind == "done":
            return True, "".join(text), "".join(thinking)
        if it.bad():
            return False, "", ""
        if it.kind == "content":
            text.append(it.text)
        elif it.kind == "reasoning":
            thinking.append(it.text)
        elif it.kind == "finish":
            finished = True
    return finished, "".join(text), "".join(thinking)


def read(pieces: list[bytes], accumulate: bool) -> tuple[str, str]:
    """The handler's loop, without the network: the pieces through a Pump; (content, reasoning) as the caller
    gets them; the handler's conversion of an undecodable stream."""
    state = StreamState(MODEL, lambda: 10, accumulate=accumulate, secrets=(KEY,))
    pump = Pump(state)
    chunks: list[Any] = []
    try:
        for raw in pieces:
            chunks += pump.push(raw)
            if not pump.reading():
                break
        chunks += pump.end()
    except SSEDecodeError as exc:
        raise undecodable_stream(exc, MODEL) from None
    if accumulate:
        message = state.build_response(ModelResponse()).choices[0].message
        return message.content or "", getattr(message, "reasoning_content", None) or ""
    text, thinking = [], []
    for chunk in chunks:
        if isinstance(chunk, dict):
            text.append(chunk["text"])
        else:
            delta = chunk.choices[0].delta
            text.append(delta.content or "")
            thinking.append(getattr(delta, "reasoning_content", None) or "")
    return "".join(text), "".join(thinking)


@settings(PROPERTIES, max_examples=400)
@given(stream=streams(), accumulate=st.booleans())
def test_every_stream_is_read_whole_or_raises(
    stream: tuple[list[Item], bytes, int, list[bytes]], accumulate: bool
) -> None:
    items, end, cut, pieces = stream
    ok, content, reasoning = expected(items, end, cut)
    event("complete" if ok else "to raise")
    try:
        got = read(pieces, accumulate)
    except Exception as exc:
        assert type(exc).__module__.startswith("litellm."), f"not a LiteLLM exception: {type(exc).__name__}: {exc}"
        assert KEY not in str(exc)
        assert not ok, f"a complete stream raised {type(exc).__name__}: {exc}"
        return
    assert ok, "a stream cut short, or carrying an error, was answered as if whole"
    assert got == (content, reasoning)


FINISH = b"data: " + _event({"content": ""}, finish_reason="stop") + b"\n\n"


@pytest.mark.parametrize("accumulate", [False, True])
def test_bad_bytes_after_done_in_the_same_read_lose_nothing(accumulate: bool) -> None:
    """Found by the suite: invalid UTF-8 after ``[DONE]``, in the same network read, made a whole answer an error
    (the decoder decoded every line of the read before the state saw ``[DONE]``)."""
    body = b"data: " + _event({"content": "whole"}) + b"\n\n" + FINISH + b"data: [DONE]\n\ndata: \xff\xfe\n\n"
    assert read([body], accumulate) == ("whole", "")


@pytest.mark.parametrize("accumulate", [False, True])
def test_bad_bytes_before_done_are_still_an_error_after_the_content(accumulate: bool) -> None:
    body = b"data: " + _event({"content": "half"}) + b"\n\ndata: \xff\xfe\n\n" + FINISH + b"data: [DONE]\n\n"
    with pytest.raises(litellm.APIError, match="not valid UTF-8"):
        read([body], accumulate)
    with pytest.raises(litellm.APIError, match="not valid UTF-8"):  # the bad line ends the body: flush raises it
        read([body[: body.index(b"\xff") + 4]], accumulate)


@pytest.mark.parametrize("tail", [b"data", b"data:", b"data: ", b"data:\n\n"])
def test_an_empty_data_event_carries_nothing(tail: bytes) -> None:
    """Found by the suite: a body ending on a bare ``data`` line after the finish made a whole answer an error."""
    assert read([b"data: " + _event({"content": "whole"}) + b"\n\n" + FINISH + tail], False) == ("whole", "")
