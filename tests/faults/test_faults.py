"""The fault suite: what the caller gets when the network or the gateway misbehaves.

Every row runs on the four paths (``completion``, ``completion(stream=True)`` consumed, ``acompletion``,
``acompletion(stream=True)`` consumed) against the built-in fake (in-process, over HTTP or HTTPS), or against a
raw socket helper server (``support/servers.py``) where the fake cannot play the fault.

LiteLLM's stream wrapper hands 5xx, 429 and connection errors raised *during iteration* on as
``MidStreamFallbackError`` (a ``ServiceUnavailableError`` carrying ``original_exception``) so the Router can fall
back; 4xx errors and ``Timeout`` pass through unchanged. :func:`failure` unwraps that one level and the tests assert
on the provider's exception; ``test_mid_stream_errors_reach_stream_consumers_wrapped`` pins the wrapping itself.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, NamedTuple

import litellm
import pytest

import litellm_codebuddy  # noqa: F401  (registers the provider)
from fake_codebuddy import FakeCodeBuddy
from fake_codebuddy.tls import make_certificates

from support.servers import RawServer, refused_port, sse_http_response

MODEL = "codebuddy/gpt-5.5"
KEY = "ck_test.key"
PATHS = ("sync", "sync_stream", "async", "async_stream")
STREAMS = ("sync_stream", "async_stream")
MID_STREAM_FALLBACK = getattr(litellm.exceptions, "MidStreamFallbackError", None)


@pytest.fixture(scope="module")
def fake() -> Any:
    with FakeCodeBuddy() as server:
        yield server


@pytest.fixture(params=PATHS)
def path(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Answer(NamedTuple):
    content: str
    finish_reason: str | None
    chunks: list[Any]


class Failure(NamedTuple):
    raised: BaseException  # what the caller caught
    error: BaseException  # the provider's exception (MidStreamFallbackError unwrapped)
    chunks: list[Any]  # stream chunks delivered before the error
    elapsed: float


def _messages(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def _stream_answer(chunks: list[Any]) -> Answer:
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    return Answer(text, finishes[-1] if finishes else None, chunks)


def ask(path: str, text: str, chunks: list[Any] | None = None, **kw: Any) -> Answer:
    """One call on ``path``; stream chunks are appended to ``chunks`` as they arrive (kept when it fails)."""
    kw.setdefault("api_key", KEY)
    got: list[Any] = [] if chunks is None else chunks
    if path == "sync":
        resp = litellm.completion(model=MODEL, messages=_messages(text), **kw)
        return Answer(resp.choices[0].message.content or "", resp.choices[0].finish_reason, [])
    if path == "sync_stream":
        for chunk in litellm.completion(model=MODEL, messages=_messages(text), stream=True, **kw):
            got.append(chunk)
        return _stream_answer(got)

    async def run() -> Answer:
        if path == "async":
            resp = await litellm.acompletion(model=MODEL, messages=_messages(text), **kw)
            return Answer(resp.choices[0].message.content or "", resp.choices[0].finish_reason, [])
        stream = await litellm.acompletion(model=MODEL, messages=_messages(text), stream=True, **kw)
        async for chunk in stream:
            got.append(chunk)
        return _stream_answer(got)

    if path in ("async", "async_stream"):
        return asyncio.run(run())
    raise ValueError(path)


def unwrap(exc: BaseException) -> BaseException:
    original = getattr(exc, "original_exception", None)
    if MID_STREAM_FALLBACK is not None and isinstance(exc, MID_STREAM_FALLBACK) and isinstance(original, BaseException):
        return original
    return exc


def failure(
    path: str, expected: type[BaseException] | tuple[type[BaseException], ...], text: str, **kw: Any
) -> Failure:
    """Run ``ask``; it must fail with ``expected`` (after unwrapping) and never deliver a finished answer first."""
    chunks: list[Any] = []
    start = time.monotonic()
    with pytest.raises(Exception) as info:
        ask(path, text, chunks, **kw)
    elapsed = time.monotonic() - start
    error = unwrap(info.value)
    assert isinstance(error, expected), f"{path}: expected {expected}, got {type(info.value).__name__}: {info.value}"
    finished = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert not finished, f"{path}: a finish_reason was delivered before the error: the partial answer looked complete"
    return Failure(info.value, error, chunks, elapsed)


# ------------------------------------------------------------------------------------------------ transport


def test_connection_refused(path: str) -> None:
    with refused_port() as port:
        fail = failure(path, litellm.APIConnectionError, "hi", api_base=f"http://127.0.0.1:{port}/v2")
    assert f"127.0.0.1:{port}" in str(fail.error)
    assert "refused" in str(fail.error).lower()


def test_reset_before_headers(path: str, fake: FakeCodeBuddy) -> None:
    fail = failure(path, litellm.APIConnectionError, "hi FAKE:reset", api_base=fake.base_url)
    assert "reset" in str(fail.error).lower() or "closed" in str(fail.error).lower()


def test_reset_mid_stream_is_never_a_partial_success(path: str, fake: FakeCodeBuddy) -> None:
    fail = failure(path, litellm.APIConnectionError, "hi FAKE:cut=reset FAKE:events=50", api_base=fake.base_url)
    assert "reset" in str(fail.error).lower() or "closed" in str(fail.error).lower()
    if path in STREAMS:  # what arrived before the reset was delivered, but never with a finish
        assert "".join(c.choices[0].delta.content or "" for c in fail.chunks).startswith("w0 ")


TIMEOUT = 0.5
MARGIN = 3.0  # generous: the machine is shared; the stall itself is 8 s


@pytest.mark.parametrize("fault", ["slow=8", "stall=8"])
def test_timeout_on_time(path: str, fake: FakeCodeBuddy, fault: str) -> None:
    fail = failure(path, litellm.Timeout, f"hi FAKE:{fault}", api_base=fake.base_url, timeout=TIMEOUT)
    assert fail.elapsed < TIMEOUT + MARGIN, f"{path} {fault}: Timeout after {fail.elapsed:.2f}s"
    assert "timeout" in str(fail.error).lower()


# ------------------------------------------------------------------------------------------------ stream ends


def test_finish_without_done_is_complete(path: str, fake: FakeCodeBuddy) -> None:
    """``nodone``: a finish_reason means the answer is complete, even when ``[DONE]`` never comes."""
    answer = ask(path, "hello there FAKE:nodone", api_base=fake.base_url)
    assert answer.content == "Echo: hello there"
    assert answer.finish_reason == "stop"


def test_done_without_finish_is_complete_with_stop(path: str, fake: FakeCodeBuddy) -> None:
    """``nofinish``: ``[DONE]`` without a finish_reason is complete; the provider reports "stop" (stream.py)."""
    answer = ask(path, "hello there FAKE:nofinish", api_base=fake.base_url)
    assert answer.content == "Echo: hello there"
    assert answer.finish_reason == "stop"


def test_neither_done_nor_finish_is_an_error(path: str, fake: FakeCodeBuddy) -> None:
    fail = failure(path, litellm.APIConnectionError, "hi FAKE:cut FAKE:events=20", api_base=fake.base_url)
    assert "incomplete" in str(fail.error)


@pytest.mark.parametrize(
    ("fault", "expected", "words"),
    [
        ("midstream=6004", litellm.RateLimitError, "6004"),
        ("midstream=11140", litellm.ContentPolicyViolationError, "11140"),
        ("midstream=14015", litellm.PermissionDeniedError, "14015"),
        ("midstream=error", litellm.InternalServerError, "upstream model error"),
    ],
)
def test_error_object_mid_stream(path: str, fake: FakeCodeBuddy, fault: str, expected: type, words: str) -> None:
    fail = failure(path, expected, f"hi FAKE:{fault}", api_base=fake.base_url)
    assert words in str(fail.error)


# ------------------------------------------------------------------------------------------------ bad bytes


def test_garbage_and_invalid_utf8(path: str, fake: FakeCodeBuddy) -> None:
    fail = failure(path, litellm.APIError, "hi FAKE:garbage", api_base=fake.base_url)
    assert "UTF-8" in str(fail.error) or "not JSON" in str(fail.error)


def _event(content: str) -> bytes:
    chunk = {"id": "r", "object": "response", "choices": [{"delta": {"content": content}, "finish_reason": ""}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"data: {not json\n\n", "not JSON"),
        (b"data: \xff\xfe\n\n", "not valid UTF-8"),
        (b"data: [1, 2]\n\n", "not an object"),
    ],
    ids=["not-json", "invalid-utf8", "not-an-object"],
)
def test_bad_event_names_the_problem(path: str, payload: bytes, words: str) -> None:
    body = _event("Hello") + payload + _event(" world") + b"data: [DONE]\n\n"
    with RawServer(sse_http_response(body)) as server:
        fail = failure(path, litellm.APIError, "hi", api_base=server.url + "/v2")
    assert words in str(fail.error)
    assert getattr(fail.error, "status_code", None) == 502


# ------------------------------------------------------------------------------------------------ big answers


def test_one_10mb_event(path: str, fake: FakeCodeBuddy) -> None:
    answer = ask(path, "hi FAKE:size=10000000", api_base=fake.base_url)
    assert len(answer.content) == 10_000_000
    assert answer.content.count("x") == 10_000_000
    assert answer.finish_reason == "stop"


def test_ten_thousand_tiny_events_in_order(path: str, fake: FakeCodeBuddy) -> None:
    answer = ask(path, "hi FAKE:events=10000", api_base=fake.base_url)
    assert answer.content == "".join(f"w{k} " for k in range(10_000))
    assert answer.finish_reason == "stop"


# ------------------------------------------------------------------------------------------------ gateway errors


def test_json_error_in_a_200(path: str, fake: FakeCodeBuddy) -> None:
    fail = failure(path, litellm.BadRequestError, "hi FAKE:code=11128", api_base=fake.base_url)
    assert "11128" in str(fail.error)
    assert "first message is not system prompt" in str(fail.error)


def test_html_502(path: str, fake: FakeCodeBuddy) -> None:
    fail = failure(path, litellm.ServiceUnavailableError, "hi FAKE:html=502", api_base=fake.base_url)
    text = str(fail.error)
    assert "502" in text and "Bad Gateway" in text
    assert "<" not in text and ">" not in text  # tags cleaned out
    assert len(text) < 600


def test_redirect_to_another_host_is_not_followed(path: str, fake: FakeCodeBuddy) -> None:
    with RawServer(sse_http_response(_event("stolen") + b"data: [DONE]\n\n")) as other:
        target = f"{other.url}/v2/chat/completions"
        before = len(fake.requests)
        fail = failure(path, litellm.ServiceUnavailableError, f"hi FAKE:redirect={target}", api_base=fake.base_url)
        assert other.connections == 0 and other.received == [], "the redirect was followed: the key went elsewhere"
    assert len(fake.requests) == before + 1  # asked once, not retried
    text = str(fail.error)
    assert "redirect" in text and target in text and "307" in text


# ------------------------------------------------------------------------------------------------ TLS


@pytest.fixture(scope="module")
def tls_fake() -> Any:
    """The fake over HTTPS, its certificate signed by a throw-away CA (``fake.ca_file``)."""
    with FakeCodeBuddy(tls=True) as server:
        yield server


def test_tls_self_signed_refused_by_default(path: str, tls_fake: FakeCodeBuddy) -> None:
    fail = failure(path, litellm.APIConnectionError, "hi", api_base=tls_fake.base_url)
    text = str(fail.error)
    assert "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text


def test_tls_wrong_ca_refused(path: str, tls_fake: FakeCodeBuddy, tmp_path: Path) -> None:
    other = make_certificates(tmp_path / "other")
    fail = failure(path, litellm.APIConnectionError, "hi", api_base=tls_fake.base_url, ssl_verify=str(other.ca))
    assert "certificate verify failed" in str(fail.error)


@pytest.mark.parametrize("how", ["ssl_verify=False", "ssl_verify=ca.pem", "litellm.ssl_verify=False"])
def test_tls_accepted_when_the_user_says_so(
    path: str, tls_fake: FakeCodeBuddy, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    kw: dict[str, Any] = {}
    if how == "ssl_verify=False":
        kw["ssl_verify"] = False
    elif how == "ssl_verify=ca.pem":
        kw["ssl_verify"] = tls_fake.ca_file
    else:
        monkeypatch.setattr(litellm, "ssl_verify", False)
    answer = ask(path, "over TLS", api_base=tls_fake.base_url, **kw)
    assert answer.content == "Echo: over TLS"
    assert answer.finish_reason == "stop"


# ------------------------------------------------------------------------------------------------ the wrapping


@pytest.mark.skipif(MID_STREAM_FALLBACK is None, reason="this LiteLLM has no MidStreamFallbackError")
@pytest.mark.parametrize(
    ("fault", "inner", "wrapped"),
    [
        ("cut=reset", litellm.APIConnectionError, True),
        ("midstream=6004", litellm.RateLimitError, True),
        ("midstream=error", litellm.InternalServerError, True),
        ("stall=8", litellm.Timeout, False),
    ],
)
def test_mid_stream_errors_reach_stream_consumers_wrapped(
    fake: FakeCodeBuddy, fault: str, inner: type, wrapped: bool
) -> None:
    """LiteLLM's wrapper (not the provider) decides: 5xx/429/connection errors during iteration arrive as
    MidStreamFallbackError(original_exception=<provider's error>) for the Router; Timeout passes unchanged."""
    for path in STREAMS:
        fail = failure(path, inner, f"hi FAKE:{fault}", api_base=fake.base_url, timeout=TIMEOUT)
        assert isinstance(fail.raised, MID_STREAM_FALLBACK) is wrapped, f"{path}: {type(fail.raised).__name__}"
        if wrapped:
            assert isinstance(fail.raised, litellm.ServiceUnavailableError)
