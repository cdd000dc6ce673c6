"""Error mapping: business codes, HTTP statuses, transport failures and broken streams, unit-level and on the
four call paths. The API key never shows in an exception or a log."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
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
from litellm_codebuddy.provider.errors import (
    QUOTA_PARK,
    TRANSIENT_RETRY_AFTER,
    error_from_body,
    error_from_response,
    header_reset_delay,
    status_error,
    upstream_of,
)
from litellm_codebuddy.provider.forbid import Answer, Forbidden
from litellm_codebuddy.provider.handler import FORBIDDEN
from litellm_codebuddy.provider.stream import StreamState

from support.upstream import (
    FULL_USAGE,
    KEY,
    MODEL,
    MODES,
    SSE_HEADERS,
    STREAM_MODES,
    URL,
    USER,
    call,
    event,
    json_error,
    ok_response,
    raised,
    router_call,
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


# ---------------------------------------------------------------- the official client's codes and retries

UTC8 = datetime.timezone(datetime.timedelta(hours=8))
NOW = datetime.datetime(2026, 10, 9, 20, 15, 30, tzinfo=UTC8)  # 44 min 30 s to the hour, 3 h 44 min 30 s to midnight

# code -> (the caller's class, its status) for every code the official client (CodeBuddy Code 2.163) names
OFFICIAL: dict[int, tuple[type[Exception], int]] = {
    3003: (litellm.ServiceUnavailableError, 503),
    **{c: (litellm.RateLimitError, 429) for c in range(6000, 6009)},
    10105: (litellm.RateLimitError, 429),
    11101: (litellm.BadRequestError, 400),
    11115: (litellm.ContextWindowExceededError, 400),
    **{c: (litellm.BadRequestError, 400) for c in (11125, 11133, 11135)},
    **{c: (litellm.ContentPolicyViolationError, 400) for c in (11128, 11140, 11141, 11142, *range(17271, 17277))},
    12403: (litellm.PermissionDeniedError, 403),
    **{c: (litellm.RateLimitError, 429) for c in (14001, 14002, 14003, 14012, 14013, 14014, 14018, 14019, 15001)},
    **{c: (litellm.PermissionDeniedError, 403) for c in (14015, 14016, 14017)},
}


@pytest.mark.parametrize("status", [200, 400, 403, 429, 500])
@pytest.mark.parametrize("code", sorted(OFFICIAL))
def test_every_code_the_official_client_names(code: int, status: int) -> None:
    expected, caller_status = OFFICIAL[code]
    exc = error_from_body(body_for(code), status, "m")
    assert type(exc) is expected, (code, type(exc).__name__)
    assert exc.status_code == caller_status  # type: ignore[attr-defined]
    said = upstream_of(exc)
    assert said is not None and said.known is not None and said.known.meaning and said.code == code


def test_14015_is_an_expired_licence_not_a_login() -> None:
    exc = error_from_body({"code": 14015, "msg": "license expired"}, 401, "m")
    assert isinstance(exc, litellm.PermissionDeniedError) and not isinstance(exc, litellm.AuthenticationError)
    said = upstream_of(exc)
    assert said is not None and said.known is not None and said.known.hint
    assert "licence" in said.known.meaning and "log in" not in said.known.hint


def test_11101_hint_says_what_the_gateway_said() -> None:
    exc = error_from_body({"code": 11101, "msg": "Parse message failed: unsupported part type file"}, 400, "m")
    said = upstream_of(exc)
    assert said is not None and said.known is not None and said.known.hint
    assert "system" not in said.known.meaning + said.known.hint
    assert "unsupported part type file" in str(exc)


@pytest.mark.parametrize("code", [6001, 6002, 6005, 6006, 14003])
def test_transient_limits_have_a_short_retry_after(code: int) -> None:
    exc = error_from_body(body_for(code), 429, "m", now=NOW)
    assert isinstance(exc, litellm.RateLimitError)
    assert exc.response.headers["retry-after"] == str(TRANSIENT_RETRY_AFTER)  # type: ignore[attr-defined]
    own = error_from_body(body_for(code), 429, "m", {"Retry-After": "1"}, now=NOW)  # the gateway's own wins
    assert own.response.headers["retry-after"] == "1"  # type: ignore[attr-defined]
    assert upstream_of(own).retry_after is None  # type: ignore[union-attr]


@pytest.mark.parametrize(("code", "seconds"), [(6003, 44 * 60 + 30), (6007, 44 * 60 + 30), (6008, 3 * 3600 + 2670)])
def test_long_windows_park_the_key_until_the_window_ends(code: int, seconds: int) -> None:
    exc = error_from_body(body_for(code), 429, "m", now=NOW)
    assert exc.response.headers["retry-after"] == str(seconds)  # type: ignore[attr-defined]
    assert upstream_of(exc).retry_after == seconds  # type: ignore[union-attr]


def test_a_named_reset_wins_over_the_window() -> None:
    msg = "您的使用量已超出频率限制，将在 2026-10-09 20:20:30 UTC+8 重置"
    exc = error_from_body({"code": 6008, "msg": msg}, 429, "m", now=NOW)
    assert exc.response.headers["retry-after"] == "300"  # type: ignore[attr-defined]


@pytest.mark.parametrize("code", [14001, 14012, 14013, 14014, 14018, 14019, 11114, 1005])
def test_exhausted_quota_parks_the_key(code: int) -> None:
    exc = error_from_body(body_for(code), 403, "m", now=NOW)
    assert isinstance(exc, litellm.RateLimitError)
    assert exc.response.headers["retry-after"] == str(QUOTA_PARK)  # type: ignore[attr-defined]
    epoch = str(int(NOW.timestamp()) + 900)
    named = error_from_body(body_for(code), 429, "m", {"x-ratelimit-reset": epoch}, now=NOW)
    assert named.response.headers["retry-after"] == "900"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "words", ["quota exhausted", "Insufficient credits", "credits exhausted", "额度已用尽", "额度不足"]
)
@pytest.mark.parametrize("body", [{"code": 99999}, {"error": {"message": ""}}], ids=["unknown-code", "no-code"])
def test_quota_words_park_the_key(words: str, body: dict[str, Any]) -> None:
    body = json.loads(json.dumps(body))
    if "error" in body:
        body["error"]["message"] = f"account {words}"
    else:
        body["msg"] = f"account {words}"
    exc = error_from_body(body, 400, "m", now=NOW)
    assert isinstance(exc, litellm.RateLimitError)
    assert exc.response.headers["retry-after"] == str(QUOTA_PARK)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (str(int(NOW.timestamp()) + 120), 120),  # epoch seconds
        (str(int(NOW.timestamp() * 1000) + 120_000), 120),  # epoch milliseconds
        ("45", 45),  # a delay
        ("Fri, 09 Oct 2026 12:25:30 GMT", 600),  # an HTTP date
        ("2026-10-09T20:45:30+08:00", 1800),  # ISO 8601
        ("2026-10-09T21:15:30", 3600),  # ISO without a zone: the gateway's UTC+8
    ],
)
def test_x_ratelimit_reset_forms(value: str, seconds: int) -> None:
    assert header_reset_delay({"X-RateLimit-Reset": value}, NOW) == seconds
    assert header_reset_delay({"anthropic-ratelimit-unified-reset": value}, NOW) == seconds


@pytest.mark.parametrize("value", ["", "soon", "-5", "nan"])
def test_x_ratelimit_reset_unreadable(value: str) -> None:
    assert header_reset_delay({"x-ratelimit-reset": value}, NOW) is None


def test_x_ratelimit_reset_names_a_transient_limits_reset_too() -> None:
    exc = error_from_body(body_for(6002), 429, "m", {"x-ratelimit-reset": "9"}, now=NOW)
    assert exc.response.headers["retry-after"] == "9"  # type: ignore[attr-defined]


# ---------------------------------------------------------------- the error body forms the official client parses


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"error": {"message": "plain words"}}, None, "plain words"),
        ({"code": 14018, "msg": "outer", "extError": {"message": "inner words"}}, 14018, "inner words"),
        ({"msg": "by StatusCode", "extError": {"StatusCode": 6001}}, 6001, "by StatusCode"),
        ({"data": {"code": 14019, "msg": "data words"}}, 14019, "data words"),
        ({"error": {"data": {"code": 6003, "msg": "nested words"}}}, 6003, "nested words"),
        ({"code": -32603, "message": "Internal error", "data": {"code": 14018, "message": "rpc"}}, 14018, "rpc"),
    ],
)
def test_the_body_forms_the_official_client_parses(body: dict[str, Any], code: int | None, words: str) -> None:
    exc = error_from_body({**body, "requestId": "rid-1", "displayMsg": {"en": "shown"}}, 429, "m")
    said = upstream_of(exc)
    assert said is not None and said.code == code and said.text == words
    assert said.request_id == "rid-1" and said.display == "shown"
    assert words in str(exc)


# ---------------------------------------------------------------- retry_policy


@pytest.mark.parametrize("place", ["top", "data", "error", "error.data"])
def test_retry_policy_is_read_everywhere_the_official_client_reads_it(place: str) -> None:
    inner = {"code": 6001, "msg": "slow down"}
    policy = {"retry": False}
    body: dict[str, Any] = {
        "top": {**inner, "retry_policy": policy},
        "data": {"data": {**inner, "retry_policy": policy}},
        "error": {"error": {"message": "slow down", "code": 6001, "retry_policy": policy}},
        "error.data": {"error": {"data": {**inner, "retry_policy": policy}}},
    }[place]
    exc = error_from_body(body, 429, "m")
    assert isinstance(exc, litellm.RateLimitError)
    assert upstream_of(exc).retry_policy == "forbid"  # type: ignore[union-attr]
    assert exc.num_retries == 0  # type: ignore[attr-defined]
    assert "forbids retrying" in str(exc)


@pytest.mark.parametrize("policy", [{"retry": True}, {}, {"max": 3}])
@pytest.mark.parametrize(
    ("code", "status", "cls"),
    [
        (11101, 400, litellm.BadRequestError),
        (14017, 403, litellm.PermissionDeniedError),
        (11128, 400, litellm.ContentPolicyViolationError),
        (None, 500, litellm.InternalServerError),
    ],
)
def test_a_retry_policy_asking_for_retries_keeps_the_errors_class(
    policy: dict[str, Any], code: int | None, status: int, cls: type[Exception]
) -> None:
    """As the official client does (seen against the fake: 11101 under 400 with ``{"retry": true}`` is sent once),
    a policy asking for retries makes nothing retryable that was not; the message says what the gateway asked."""
    body: dict[str, Any] = {"msg": "try again", "retry_policy": policy}
    if code is not None:
        body["code"] = code
    exc = error_from_body(body, status, "m")
    assert isinstance(exc, cls) and exc.status_code == (500 if code is None else status)  # type: ignore[attr-defined]
    assert upstream_of(exc).retry_policy == "force"  # type: ignore[union-attr]
    assert "retry_policy asks for retries" in str(exc)


def test_a_retry_policy_asking_for_retries_keeps_a_rate_limit() -> None:
    exc = error_from_body({"code": 6004, "msg": "x", "retry_policy": {"retry": True}}, 429, "m", now=NOW)
    assert isinstance(exc, litellm.RateLimitError) and "retry-after" in exc.response.headers  # type: ignore[attr-defined]


@pytest.fixture
def forbidden() -> Iterator[None]:
    """The process-wide memory of forbidden requests, emptied after the test (other tests send the same messages)."""
    FORBIDDEN.clear()
    yield
    FORBIDDEN.clear()


def forbid_body(code: int = 6001) -> dict[str, Any]:
    return {"code": code, "msg": "no retry please", "retry_policy": {"retry": False}, "requestId": "r-forbid"}


@pytest.mark.parametrize("mode", ["sync", "sync_stream", "async", "async_stream"])
def test_sdk_num_retries_never_resends_a_forbidden_request(
    mode: str, upstream: respx.MockRouter, forbidden: None
) -> None:
    """The SDK's num_retries retries every error class: the provider answers the retries itself, sending nothing."""
    route = upstream.post(URL).mock(side_effect=[json_error(forbid_body(), 429), ok_response(), ok_response()])
    with pytest.raises(Exception) as info:
        call(mode, num_retries=3)
    assert route.call_count == 1
    assert isinstance(unwrap(info.value), litellm.RateLimitError)
    other = [{"role": "user", "content": "a different question"}]
    assert call(mode, messages=other).content == "Hello world"  # other messages are sent as usual
    assert route.call_count == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_forbidden_error_inside_a_stream_is_not_sent_again(
    mode: str, upstream: respx.MockRouter, forbidden: None
) -> None:
    answer = httpx.Response(200, headers=SSE_HEADERS, content=sse({"error": {"data": forbid_body(14018)}}))
    route = upstream.post(URL).mock(side_effect=[answer, ok_response(), ok_response()])
    with pytest.raises(litellm.RateLimitError) as info:
        call(mode, num_retries=3)
    assert route.call_count == 1 and "14018" in str(info.value)


def test_a_forbidden_request_is_sent_again_after_the_window(upstream: respx.MockRouter, forbidden: None) -> None:
    now = [0.0]
    memo = Forbidden(window=60, clock=lambda: now[0])
    memo.remember(KEY, USER, Answer(429, {}, b"{}"))
    assert memo.answer_for(KEY, USER) is not None
    assert memo.answer_for("ck_other.key", USER) is None  # another key is another account
    assert memo.answer_for(KEY, [{"role": "user", "content": "else"}]) is None
    now[0] = 60.5
    assert memo.answer_for(KEY, USER) is None and len(memo) == 0


def test_the_memory_is_bounded() -> None:
    memo = Forbidden(limit=3)
    for n in range(5):
        memo.remember(KEY, [{"role": "user", "content": str(n)}], Answer(429, {}, b"{}"))
    assert len(memo) == 3
    assert memo.answer_for(KEY, [{"role": "user", "content": "0"}]) is None
    assert memo.answer_for(KEY, [{"role": "user", "content": "4"}]) is not None


KEYS3 = ("ck_keyA.secretA", "ck_keyB.secretB", "ck_keyC.secretC")


def group_of_three(**kw: Any) -> litellm.Router:
    return litellm.Router(
        model_list=[
            {"model_name": "main", "litellm_params": {"model": MODEL, "api_key": key}, "model_info": {"id": key[3:7]}}
            for key in KEYS3
        ],
        **kw,
    )


def test_router_never_retries_a_forbidden_request_on_any_key(upstream: respx.MockRouter, forbidden: None) -> None:
    route = upstream.post(URL).mock(return_value=json_error(forbid_body(6001), 429))
    router = group_of_three(num_retries=3, retry_after=0)
    with pytest.raises(litellm.RateLimitError):
        router.completion(model="main", messages=USER)
    assert route.call_count == 1


def test_router_retries_only_what_it_retries_anyway(upstream: respx.MockRouter) -> None:
    """With ``retry_policy: {}`` an 11101 (a 400) is still not retried on the group's keys; a 503 is, as without it."""
    body = {"code": 11101, "msg": "please retry", "retry_policy": {}}
    route = upstream.post(URL).mock(side_effect=[json_error(body, 400), ok_response("second try")])
    with pytest.raises(litellm.BadRequestError):
        group_of_three(num_retries=2, retry_after=0).completion(model="main", messages=USER)
    assert route.call_count == 1
    upstream.reset()  # the call counts
    busy = {"msg": "busy", "retry_policy": {"retry": True}}
    again = upstream.post(URL).mock(side_effect=[json_error(busy, 503), ok_response("second try")])
    router = group_of_three(num_retries=2, retry_after=0)
    assert router.completion(model="main", messages=USER).choices[0].message.content == "second try"
    assert again.call_count == 2


# ---------------------------------------------------------------- empty streams: finish_reason "error"


def _state(accumulate: bool = False) -> StreamState:
    return StreamState("gpt-5.5", lambda: 5, accumulate=accumulate)


@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("reason", ["error", "length"])
def test_a_failed_finish_without_output_is_a_retryable_error(reason: str, accumulate: bool) -> None:
    st = _state(accumulate)
    with pytest.raises(litellm.ServiceUnavailableError) as info:
        st.feed([json.dumps(event("", finish_reason=reason, usage={"total_tokens": 3}))])
        st.close()
    assert litellm.should_retry(info.value.status_code)
    assert reason in str(info.value)


def test_length_after_output_is_an_answer() -> None:
    st = _state()
    chunks = st.feed([json.dumps(event("cut"))]) + st.feed([json.dumps(event("", finish_reason="length"))])
    chunks += st.close()
    assert chunks[-1]["finish_reason"] == "length"


def test_error_after_output_hands_the_output_on_then_raises() -> None:
    st = _state()
    first = st.feed([json.dumps(event("partial ")), json.dumps(event("", finish_reason="error", usage=FULL_USAGE))])
    assert [c["text"] for c in first] == ["partial "]  # no finishing chunk: the answer did not end cleanly
    with pytest.raises(litellm.ServiceUnavailableError, match="after part of the answer"):
        st.close()


@pytest.mark.parametrize("reason", ["error", "length"])
def test_empty_stream_on_every_path(mode: str, upstream: respx.MockRouter, reason: str) -> None:
    upstream.post(URL).mock(
        return_value=httpx.Response(200, headers=SSE_HEADERS, content=sse(event("", finish_reason=reason)))
    )
    raised(mode, litellm.ServiceUnavailableError)


def test_empty_stream_retried_by_num_retries(mode: str, upstream: respx.MockRouter) -> None:
    empty = httpx.Response(200, headers=SSE_HEADERS, content=sse(event("", finish_reason="error")))
    route = upstream.post(URL).mock(side_effect=[empty, ok_response("second try")])
    if mode in STREAM_MODES:
        pytest.skip(
            "a 200 stream fails during iteration, after the SDK's num_retries wrapper returned (a Router retries it)"
        )
    assert call(mode, num_retries=2).content == "second try"
    assert route.call_count == 2


def test_empty_stream_retried_by_a_router(mode: str, upstream: respx.MockRouter) -> None:
    empty = httpx.Response(200, headers=SSE_HEADERS, content=sse(event("", finish_reason="error")))
    route = upstream.post(URL).mock(side_effect=[empty, ok_response("second try")])
    router = group_of_three(num_retries=2, retry_after=0)
    assert router_call(router, mode, USER) == "second try"
    assert route.call_count == 2


@pytest.mark.parametrize(
    ("code", "msg"), [(11133, "image input is not supported by this model"), (11125, "gif rejected"), (11135, "x")]
)
def test_image_rejections_say_so(code: int, msg: str) -> None:
    exc = error_from_body({"code": code, "msg": msg}, 400, "m")
    assert type(exc) is litellm.BadRequestError
    said = upstream_of(exc)
    assert said is not None and said.known is not None and "image" in said.known.meaning
    assert said.known.hint and "vision" in said.known.hint


def test_11133_without_an_image_is_the_message_sequence() -> None:
    said = upstream_of(error_from_body({"code": 11133, "msg": "consecutive assistant messages"}, 400, "m"))
    assert said is not None and said.known is not None and "sequence" in said.known.meaning
