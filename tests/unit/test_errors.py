"""Error mapping: business codes, HTTP statuses, transport failures and broken streams, unit-level and on the
four call paths. The API key never shows in an exception or a log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import litellm
import pytest
import respx

from litellm_codebuddy import codebuddy_llm
from litellm_codebuddy.endpoint import redact
from litellm_codebuddy.provider.errors import error_from_body, error_from_response, status_error, upstream_of

from support.upstream import (
    FULL_USAGE,
    KEY,
    MODEL,
    MODES,
    SSE_HEADERS,
    URL,
    USER,
    call,
    event,
    json_error,
    ok_response,
    raised,
    sse,
    unwrap,
)

# code -> (expected class, words the message must contain)
CODES: dict[int, tuple[type[Exception], str]] = {
    11101: (litellm.BadRequestError, "invalid"),
    11102: (litellm.BadRequestError, "model"),
    11128: (litellm.BadRequestError, "illegal"),
    11133: (litellm.BadRequestError, "consecutive assistant"),
    11148: (litellm.BadRequestError, "tool-call sequence"),
    11151: (litellm.BadRequestError, "empty content"),
    11140: (litellm.ContentPolicyViolationError, "risk control"),
    6004: (litellm.RateLimitError, "frequency limit"),
    14018: (litellm.RateLimitError, "out of credits"),
    14017: (litellm.PermissionDeniedError, "trial has not been activated"),
    11212: (litellm.PermissionDeniedError, "license or trial has expired"),
    11216: (litellm.PermissionDeniedError, "license or trial has expired"),
    11141: (litellm.ContentPolicyViolationError, "refusal"),
    14015: (litellm.PermissionDeniedError, "licence has expired"),
}
# the account has no usable plan: 403 whatever status carries them, and the advice says retrying will not help
PLAN_CODES = (14015, 14016, 14017, 11212, 11216)
NESTED_14018 = {
    "error": {
        "code": -32603,
        "message": "Internal error",
        "data": {"code": 14018, "statusCode": 403, "message": "credits exhausted"},
    }
}


def body_for(code: int) -> dict[str, Any]:
    return {"code": code, "msg": f"upstream says {code}", "requestId": f"req-{code}", "displayMsg": {"en": "x"}}


# ---------------------------------------------------------------- unit level


@pytest.mark.parametrize("status", [200, 400, 403, 429])
@pytest.mark.parametrize("code", sorted(CODES))
def test_code_mapping_unit(code: int, status: int) -> None:
    expected, words = CODES[code]
    exc = error_from_response(status, {"content-type": "application/json"}, json_bytes(body_for(code)), "gpt-5.5")
    assert isinstance(exc, expected)
    text = str(exc)
    assert str(code) in text
    assert f"upstream says {code}" in text
    assert f"req-{code}" in text
    assert words in text.lower()


def json_bytes(body: Any) -> bytes:
    return json.dumps(body).encode()


@pytest.mark.parametrize("status", [200, 403])
def test_nested_error_unit(status: int) -> None:
    exc = error_from_response(status, {}, json_bytes(NESTED_14018), "gpt-5.5")
    assert isinstance(exc, litellm.RateLimitError)
    assert "14018" in str(exc)
    assert "credits exhausted" in str(exc)


def test_unknown_code_uses_http_status_and_keeps_text() -> None:
    exc = error_from_response(409, {}, json_bytes({"code": 99999, "msg": "odd thing", "requestId": "r9"}), "m")
    assert isinstance(exc, litellm.BadRequestError)
    assert "99999" in str(exc) and "odd thing" in str(exc) and "r9" in str(exc)
    exc = error_from_response(503, {}, json_bytes({"code": 99998, "msg": "busy"}), "m")
    assert isinstance(exc, litellm.ServiceUnavailableError)


def test_ext_error_param_named() -> None:
    exc = error_from_body({"code": 11133, "msg": "invalid", "extError": {"param": "max_output_tokens"}}, 400, "m")
    assert "max_output_tokens" in str(exc)


STATUSES: list[tuple[int, type[Exception]]] = [
    (400, litellm.BadRequestError),
    (401, litellm.AuthenticationError),
    (403, litellm.PermissionDeniedError),
    (404, litellm.NotFoundError),
    (429, litellm.RateLimitError),
    (500, litellm.InternalServerError),
    (502, litellm.ServiceUnavailableError),
    (503, litellm.ServiceUnavailableError),
    (504, litellm.ServiceUnavailableError),
]


@pytest.mark.parametrize(("status", "expected"), STATUSES)
def test_status_mapping_unit(status: int, expected: type[Exception]) -> None:
    exc = error_from_response(status, {}, b"nope", "m")
    assert isinstance(exc, expected)
    # LiteLLM's ServiceUnavailableError always reports 503
    assert getattr(exc, "status_code", None) == (503 if expected is litellm.ServiceUnavailableError else status)
    assert str(status) in str(exc)


def test_retry_after_kept_unit() -> None:
    exc = status_error(429, "slow down", "m", {"Retry-After": "17", "Set-Cookie": "secret"})
    assert isinstance(exc, litellm.RateLimitError)
    assert exc.response.headers["retry-after"] == "17"
    assert "set-cookie" not in exc.response.headers


HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title><style>body{color:red}</style></head>\r\n"
    b"<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    + b"<!-- padding -->" * 100
    + b"</body>\r\n</html>\r\n"
)


def test_html_502_unit() -> None:
    exc = error_from_response(502, {"content-type": "text/html"}, HTML_502, "m")
    assert isinstance(exc, litellm.ServiceUnavailableError)
    text = str(exc)
    assert "502 Bad Gateway" in text
    assert "<" not in text.split("Body:", 1)[1]
    assert len(text) < 600


def test_redact() -> None:
    assert redact(f"key={KEY}!", KEY) == "key=***!"
    assert redact("nothing", None, "") == "nothing"


# ---------------------------------------------------------------- through the provider


@pytest.mark.parametrize("status", [200, 400])
@pytest.mark.parametrize("code", sorted(CODES))
def test_code_mapping(mode: str, upstream: respx.MockRouter, code: int, status: int) -> None:
    expected, words = CODES[code]
    upstream.post(URL).mock(return_value=json_error(body_for(code), status))
    exc = raised(mode, expected)
    text = str(exc)
    assert str(code) in text and f"upstream says {code}" in text and f"req-{code}" in text
    assert words in text.lower()


@pytest.mark.parametrize("status", [200, 429])
@pytest.mark.parametrize("code", [*PLAN_CODES, 11103])
def test_plan_and_unsupported_model_codes(mode: str, upstream: respx.MockRouter, code: int, status: int) -> None:
    """Under HTTP 200 and 429 alike: a 429 status must not turn them into a (retryable) rate limit. 14015 is the
    plan's licence (the official client: not a login problem), so a 403 and never "log in again"."""
    expected = litellm.NotFoundError if code == 11103 else litellm.PermissionDeniedError
    upstream.post(URL).mock(return_value=json_error(body_for(code), status))
    exc = raised(mode, expected)
    assert not isinstance(exc, litellm.RateLimitError)
    assert exc.status_code == (404 if code == 11103 else 403)  # type: ignore[attr-defined]
    upstream_info = upstream_of(exc)
    assert upstream_info is not None and upstream_info.code == code and upstream_info.http_status == status
    assert upstream_info.known is not None and upstream_info.known.hint
    if code in PLAN_CODES:
        assert "retrying will not help" in upstream_info.known.hint
        assert "login" not in upstream_info.known.hint and "log in" not in upstream_info.known.hint


@pytest.mark.parametrize("first", [True, False], ids=["first-event", "after-content"])
@pytest.mark.parametrize("code", [*PLAN_CODES, 11141])
def test_plan_and_refusal_codes_inside_a_stream(mode: str, upstream: respx.MockRouter, code: int, first: bool) -> None:
    events = [body_for(code)] if first else [event("partial "), body_for(code)]
    upstream.post(URL).mock(return_value=httpx.Response(200, headers=SSE_HEADERS, content=sse(*events)))
    exc = raised(mode, CODES[code][0] if code in CODES else litellm.PermissionDeniedError)
    assert str(code) in str(exc)


def test_router_falls_back_from_an_unsupported_model(upstream: respx.MockRouter) -> None:
    """11103 is a 404: a Router with fallbacks moves on to the next model instead of failing the call."""

    def answer(request: httpx.Request) -> httpx.Response:
        model = json.loads(request.content)["model"]
        return json_error(body_for(11103)) if model == "gpt-5.4" else ok_response("from the fallback")

    route = upstream.post(URL).mock(side_effect=answer)
    router = litellm.Router(
        model_list=[
            {"model_name": "old", "litellm_params": {"model": "codebuddy/gpt-5.4", "api_key": KEY}},
            {"model_name": "new", "litellm_params": {"model": "codebuddy/gpt-5.5", "api_key": KEY}},
        ],
        fallbacks=[{"old": ["new"]}],
        num_retries=0,
    )
    resp = router.completion(model="old", messages=USER)
    assert resp.choices[0].message.content == "from the fallback"
    assert [json.loads(c.request.content)["model"] for c in route.calls] == ["gpt-5.4", "gpt-5.5"]
    with pytest.raises(litellm.NotFoundError):  # without the fallback the caller sees the 404
        litellm.Router(model_list=router.model_list[:1], num_retries=0).completion(model="old", messages=USER)


@pytest.mark.parametrize("status", [200, 403])
def test_nested_error(mode: str, upstream: respx.MockRouter, status: int) -> None:
    upstream.post(URL).mock(return_value=json_error(NESTED_14018, status))
    exc = raised(mode, litellm.RateLimitError)
    assert "14018" in str(exc)


@pytest.mark.parametrize(("status", "expected"), STATUSES)
def test_status_mapping(mode: str, upstream: respx.MockRouter, status: int, expected: type[Exception]) -> None:
    upstream.post(URL).mock(return_value=httpx.Response(status, text="upstream trouble"))
    exc = raised(mode, expected)
    assert str(status) in str(exc)


def test_retry_after_kept(mode: str, upstream: respx.MockRouter) -> None:
    upstream.post(URL).mock(return_value=httpx.Response(429, headers={"Retry-After": "23"}, text="too many"))
    exc = raised(mode, litellm.RateLimitError)
    headers = getattr(exc, "headers", None) or {}
    assert exc.response.headers.get("retry-after") == "23" or headers.get("retry-after") == "23"


def test_html_502(mode: str, upstream: respx.MockRouter) -> None:
    upstream.post(URL).mock(return_value=httpx.Response(502, headers={"content-type": "text/html"}, content=HTML_502))
    exc = raised(mode, litellm.ServiceUnavailableError)
    text = str(exc)
    assert "502 Bad Gateway" in text
    assert "<html" not in text and "<h1>" not in text and "<center>" not in text


def test_sync_stream_raises_from_completion_itself(upstream: respx.MockRouter) -> None:
    upstream.post(URL).mock(return_value=json_error(body_for(11128), 400))
    with pytest.raises(litellm.BadRequestError):
        litellm.completion(model=MODEL, messages=USER, api_key=KEY, stream=True)  # no iteration
    upstream.post(URL).mock(return_value=httpx.Response(503, text="down"))
    with pytest.raises(litellm.ServiceUnavailableError):
        litellm.completion(model=MODEL, messages=USER, api_key=KEY, stream=True)
    upstream.post(URL).mock(return_value=json_error(body_for(6004), 200))
    with pytest.raises(litellm.RateLimitError):
        litellm.completion(model=MODEL, messages=USER, api_key=KEY, stream=True)


# ---------------------------------------------------------------- transport failures


def test_read_timeout(mode: str, upstream: respx.MockRouter) -> None:
    upstream.post(URL).mock(side_effect=httpx.ReadTimeout("read timed out"))
    raised(mode, litellm.Timeout, timeout=1.5)


def test_connect_error(mode: str, upstream: respx.MockRouter) -> None:
    upstream.post(URL).mock(side_effect=httpx.ConnectError("connection refused"))
    exc = raised(mode, litellm.APIConnectionError)
    assert "connection refused" in str(exc)


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A local server that accepts connections and never answers."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.1)
    stop = threading.Event()
    held: list[socket.socket] = []

    def run() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        server.close()


def test_real_timeout(mode: str) -> None:
    outcome: list[BaseException | None] = []

    def run(port: int) -> None:
        try:
            call(mode, api_base=f"http://127.0.0.1:{port}/v2", timeout=0.5)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    with silent_server() as port:
        start = time.monotonic()
        worker = threading.Thread(target=run, args=(port,), daemon=True)
        worker.start()
        worker.join(5)  # a hung call fails the test here; closing the server then frees the thread
        elapsed = time.monotonic() - start
    assert outcome, "the call did not give up within 5 s"
    assert elapsed < 3, f"took {elapsed:.1f}s"
    assert outcome[0] is not None, "the call succeeded against a server that never answers"
    assert isinstance(unwrap(outcome[0]), litellm.Timeout), repr(outcome[0])


def test_connection_refused_real(mode: str) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    raised(mode, litellm.APIConnectionError, api_base=f"http://127.0.0.1:{port}/v2", timeout=2)


# ---------------------------------------------------------------- broken streams


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"code": 14018, "msg": "no credits left", "requestId": "r1"}, litellm.RateLimitError),
        ({"code": 11140, "msg": "risk"}, litellm.ContentPolicyViolationError),
        ({"code": 14015, "msg": "licence expired"}, litellm.PermissionDeniedError),
        ({"error": {"code": 6004, "message": "too frequent"}}, litellm.RateLimitError),
        (NESTED_14018, litellm.RateLimitError),
        ({"error": {"message": "boom", "type": "server_error"}}, litellm.InternalServerError),
    ],
)
def test_error_mid_stream(mode: str, upstream: respx.MockRouter, error: dict[str, Any], expected: type) -> None:
    upstream.post(URL).mock(
        return_value=httpx.Response(200, headers=SSE_HEADERS, content=sse(event("partial "), error))
    )
    raised(mode, expected)


def test_stream_cut_short(mode: str, upstream: respx.MockRouter) -> None:
    body = sse(event("half an ans", finish_reason=""), done=False)
    upstream.post(URL).mock(return_value=httpx.Response(200, headers=SSE_HEADERS, content=body))
    exc = raised(mode, litellm.APIConnectionError)
    assert "incomplete" in str(exc) or "without" in str(exc)


def test_empty_stream_is_an_error(mode: str, upstream: respx.MockRouter) -> None:
    upstream.post(URL).mock(return_value=httpx.Response(200, headers=SSE_HEADERS, content=b""))
    raised(mode, litellm.APIConnectionError)


def test_data_line_not_json(mode: str, upstream: respx.MockRouter) -> None:
    upstream.post(URL).mock(
        return_value=httpx.Response(200, headers=SSE_HEADERS, content=sse(event("a"), "this is {not json"))
    )
    exc = raised(mode, litellm.APIError)
    assert "not JSON" in str(exc)
    assert "this is {not json" in str(exc)


def test_data_line_invalid_utf8(mode: str, upstream: respx.MockRouter) -> None:
    upstream.post(URL).mock(
        return_value=httpx.Response(200, headers=SSE_HEADERS, content=sse(event("a"), b'{"x": "\xff\xfe"}'))
    )
    exc = raised(mode, litellm.APIError)
    assert "UTF-8" in str(exc)


def test_finish_without_done_is_complete(mode: str, upstream: respx.MockRouter) -> None:
    body = sse(event("whole", finish_reason="stop", usage=FULL_USAGE), done=False)
    upstream.post(URL).mock(return_value=httpx.Response(200, headers=SSE_HEADERS, content=body))
    assert call(mode).content == "whole"


# ---------------------------------------------------------------- retries


@pytest.mark.parametrize("mode", ["sync", "sync_stream", "async"])
def test_num_retries(mode: str, upstream: respx.MockRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    route = upstream.post(URL).mock(side_effect=[httpx.Response(503, text="busy"), ok_response()])
    result = call(mode, num_retries=2)
    assert result.content == "Hello world"
    assert route.call_count == 2


# ---------------------------------------------------------------- the key never leaks


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    loggers = [logging.getLogger(n) for n in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm_codebuddy")]
    saved = [(lg, lg.level, lg.propagate, list(lg.handlers)) for lg in loggers]
    old_verbose = litellm.set_verbose
    for lg in loggers:
        lg.handlers = [caplog.handler]  # LiteLLM's own handler writes to the terminal, past pytest's capture
    caplog.set_level(logging.DEBUG)
    turn_on = getattr(litellm, "_turn_on_debug", None)
    if turn_on is not None:
        turn_on()
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    try:
        yield caplog
    finally:
        litellm.set_verbose = old_verbose
        for lg, level, propagate, handlers in saved:
            lg.handlers = handlers
            lg.setLevel(level)
            lg.propagate = propagate


def _texts_of(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc), str(getattr(exc, "message", "")), str(vars(exc))]
    response = getattr(exc, "response", None)
    if isinstance(response, httpx.Response):
        texts.append(response.text)
        with contextlib.suppress(RuntimeError):
            texts.append(str(dict(response.request.headers)))
            texts.append(str(response.request.url))
    original = getattr(exc, "original_exception", None)
    if isinstance(original, BaseException) and original is not exc:
        texts += _texts_of(original)
    return texts


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(lambda: json_error({"code": 14015, "msg": f"bad key {KEY}", "requestId": "r"}, 401), id="401"),
        pytest.param(lambda: json_error({"code": 11128, "msg": f"key {KEY} is not allowed"}, 200), id="200-code"),
        pytest.param(lambda: httpx.Response(500, text=f"<p>crash for Bearer {KEY}</p>"), id="500-html"),
        pytest.param(
            lambda: httpx.Response(200, headers=SSE_HEADERS, content=sse(event("a"), {"code": 6004, "msg": KEY})),
            id="mid-stream",
        ),
        pytest.param(
            lambda: httpx.Response(200, headers=SSE_HEADERS, content=sse(event("a"), f"garbage {KEY}")),
            id="not-json",
        ),
    ],
)
def test_key_never_leaks(
    mode: str,
    upstream: respx.MockRouter,
    debug_logs: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    answer: Any,
) -> None:
    upstream.post(URL).mock(side_effect=lambda request: answer())
    with pytest.raises(Exception) as info:
        call(mode)
    for text in _texts_of(info.value):
        assert KEY not in text
    assert KEY not in debug_logs.text
    for record in debug_logs.records:
        assert KEY not in record.getMessage()
    out, err = capsys.readouterr()
    assert KEY not in out and KEY not in err
    assert KEY not in repr(codebuddy_llm)


def test_key_never_leaks_on_timeout(mode: str, upstream: respx.MockRouter) -> None:
    upstream.post(URL).mock(side_effect=httpx.ConnectError(f"failed for {KEY}"))
    with pytest.raises(Exception) as info:
        call(mode)
    for text in _texts_of(info.value):
        assert KEY not in text


def test_async_paths_share_nothing_across_loops(upstream: respx.MockRouter) -> None:
    """An error in one event loop leaves the next loop's calls working."""
    upstream.post(URL).mock(side_effect=[httpx.Response(503, text="x"), ok_response()])
    with pytest.raises(litellm.ServiceUnavailableError):
        asyncio.run(litellm.acompletion(model=MODEL, messages=USER, api_key=KEY))
    resp = asyncio.run(litellm.acompletion(model=MODEL, messages=USER, api_key=KEY))
    assert resp.choices[0].message.content == "Hello world"


@pytest.mark.parametrize("mode", MODES)
def test_json_error_without_code_by_status(mode: str, upstream: respx.MockRouter) -> None:
    upstream.post(URL).mock(return_value=json_error({"error": {"message": "model not found"}}, 404))
    exc = raised(mode, litellm.NotFoundError)
    assert "model not found" in str(exc)
