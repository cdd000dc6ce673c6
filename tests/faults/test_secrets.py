"""Secrets: the CodeBuddy key never shows, whatever happens and however loud the logging.

With LiteLLM's debug logging on (``litellm._turn_on_debug()``, ``litellm.set_verbose = True``, every logger at DEBUG
captured by caplog, stdout/stderr captured at the file-descriptor level), the key must not appear in any log line,
print, exception (``str``, ``repr``, the cause chain, ``exc.response`` with its request headers), response object or
the handler's ``repr``: for successful calls, gateway errors, mid-stream errors, timeouts, connection errors, and
an upstream that echoes the key back (in an error message, an HTML page, a stream event, a redirect, a header).
The proxy part runs the LiteLLM proxy with ``--detailed_debug`` and checks its whole log and every response body
for the CodeBuddy key and for the proxy's master key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import litellm
import pytest

import litellm_codebuddy  # noqa: F401  (registers the provider)
from fake_codebuddy import FakeCodeBuddy
from litellm_codebuddy import codebuddy_llm
from litellm_codebuddy.local import launch

from support.servers import RawServer, refused_port, relay_to

KEY = "ck_SECRETKEY123.abcdefSECRET"
SECRET_PARTS = (KEY, "abcdefSECRET", "SECRETKEY123.abcdef")
MODEL = "codebuddy/gpt-5.5"
PATHS = ("sync", "sync_stream", "async", "async_stream")
ROOT = Path(__file__).resolve().parents[2]
LOGGERS = ("", "LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm_codebuddy", "httpx", "httpcore")


def assert_clean(text: str, where: str, secrets: tuple[str, ...] = SECRET_PARTS) -> None:
    for secret in secrets:
        assert secret not in text, f"the secret {secret[:6]}... appears in {where}: ...{_around(text, secret)}..."


def _around(text: str, secret: str) -> str:
    at = text.find(secret)
    return text[max(0, at - 80) : at + len(secret) + 40]


@pytest.fixture
def loud(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """LiteLLM's debug logging on, every record at DEBUG captured (LiteLLM's loggers do not all propagate)."""
    saved = {name: (logging.getLogger(name).level, logging.getLogger(name).propagate) for name in LOGGERS}
    verbose = litellm.set_verbose
    litellm._turn_on_debug()
    litellm.set_verbose = True
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS[1:]:
        logging.getLogger(name).setLevel(logging.DEBUG)
        logging.getLogger(name).addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        litellm.set_verbose = verbose
        for name, (level, propagate) in saved.items():
            logger = logging.getLogger(name)
            logger.setLevel(level)
            logger.propagate = propagate
            if name:
                logger.removeHandler(caplog.handler)


def exception_texts(exc: BaseException) -> list[str]:
    """Everything an exception can show: str, repr, traceback text, attributes, the chain, its response."""
    texts: list[str] = []
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        err = todo.pop()
        if id(err) in seen:
            continue
        seen.add(id(err))
        texts += [str(err), repr(err), "".join(traceback.format_exception(type(err), err, err.__traceback__))]
        for attr in ("message", "litellm_debug_info", "generated_content", "body", "headers", "args"):
            value = getattr(err, attr, None)
            if value is not None:
                texts.append(repr(value))
        response = getattr(err, "response", None)
        if isinstance(response, httpx.Response):
            texts += [repr(dict(response.headers)), response.content.decode("utf-8", "replace")]
            try:
                texts.append(repr(dict(response.request.headers)) + str(response.request.url))
            except RuntimeError:
                pass
        for linked in (getattr(err, "original_exception", None), err.__cause__, err.__context__):
            if isinstance(linked, BaseException):
                todo.append(linked)
    return texts


def run(path: str, text: str, **kw: Any) -> Any:
    messages = [{"role": "user", "content": text}]
    kw.setdefault("api_key", KEY)
    if path == "sync":
        return litellm.completion(model=MODEL, messages=messages, **kw)
    if path == "sync_stream":
        return list(litellm.completion(model=MODEL, messages=messages, stream=True, **kw))

    async def go() -> Any:
        if path == "async":
            return await litellm.acompletion(model=MODEL, messages=messages, **kw)
        stream = await litellm.acompletion(model=MODEL, messages=messages, stream=True, **kw)
        return [chunk async for chunk in stream]

    return asyncio.run(go())


def check_everything(
    path: str,
    loud: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    text: str,
    *,
    fails: bool,
    echoed_in_headers: bool = False,
    **kw: Any,
) -> None:
    if fails:
        with pytest.raises(Exception) as info:
            run(path, text, **kw)
        for i, shown in enumerate(exception_texts(info.value)):
            assert_clean(shown, f"{path}: exception text #{i} ({type(info.value).__name__})")
    else:
        result = run(path, text, **kw)
        for item in result if isinstance(result, list) else [result]:
            assert_clean(str(item) + item.model_dump_json(), f"{path}: the response")
            assert_clean(repr(getattr(item, "_hidden_params", None)), f"{path}: the response's hidden params")
    assert loud.records, "debug logging captured nothing: the check would be empty"
    for record in loud.records:
        if echoed_in_headers and record.name.startswith("httpcore") and "receive_response_headers" in record.msg:
            # httpcore's own DEBUG trace prints the raw response headers an upstream sent back: when the upstream
            # echoes the key in a header, that third-party trace line holds it (it never prints request headers)
            continue
        assert_clean(record.getMessage() + repr(record.args) + repr(record.__dict__), f"{path}: a log record")
    out, err = capfd.readouterr()
    assert_clean(out, f"{path}: stdout")
    assert_clean(err, f"{path}: stderr")
    assert_clean(repr(codebuddy_llm) + str(codebuddy_llm), "the handler's repr")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCodeBuddy]:
    with FakeCodeBuddy(api_key=KEY) as server:
        yield server


@pytest.fixture(params=PATHS)
def path(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# ------------------------------------------------------------------------------------------------ SDK, the fake


@pytest.mark.parametrize(
    ("text", "fails", "extra"),
    [
        ("hello", False, {}),
        ("hello FAKE:size=100000", False, {}),
        ("hi FAKE:code=11140", True, {}),
        ("hi FAKE:code=11128 FAKE:status=400", True, {}),
        ("hi FAKE:nested=14018", True, {}),
        ("hi FAKE:midstream=6004", True, {}),
        ("hi FAKE:midstream=error", True, {}),
        ("hi FAKE:cut", True, {}),
        ("hi FAKE:cut=reset", True, {}),
        ("hi FAKE:reset", True, {}),
        ("hi FAKE:http=429", True, {}),
        ("hi FAKE:html=502", True, {}),
        ("hi FAKE:garbage", True, {}),
        ("hi FAKE:slow=8", True, {"timeout": 0.5}),
        ("hi FAKE:stall=8", True, {"timeout": 0.5}),
    ],
    ids=[
        "ok",
        "ok-big",
        "11140",
        "11128-400",
        "nested-14018",
        "midstream-6004",
        "midstream-error",
        "cut",
        "reset-mid-stream",
        "reset",
        "429",
        "html-502",
        "garbage",
        "timeout-first-byte",
        "timeout-stall",
    ],
)
def test_key_never_shown(
    path: str,
    fake: FakeCodeBuddy,
    loud: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    text: str,
    fails: bool,
    extra: dict[str, Any],
) -> None:
    check_everything(path, loud, capfd, text, fails=fails, api_base=fake.base_url, **extra)


def test_key_never_shown_on_401(path: str, loud: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    with FakeCodeBuddy(api_key="ck_other.key") as other:
        check_everything(path, loud, capfd, "hi", fails=True, api_base=other.base_url)


def test_key_never_shown_on_connection_error(
    path: str, loud: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    with refused_port() as port:
        check_everything(path, loud, capfd, "hi", fails=True, api_base=f"http://127.0.0.1:{port}/v2")


def test_key_never_shown_in_bad_input_errors(
    path: str, loud: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    check_everything(path, loud, capfd, "hi", fails=True, api_base="ftp://nowhere", api_key=KEY)
    check_everything(path, loud, capfd, "hi", fails=True, api_base="http://127.0.0.1:9/v2", api_key=KEY + "\n")


# ------------------------------------------------------------------------------------------------ SDK, echoing upstream


def _key_of(request: bytes) -> str:
    match = re.search(rb"(?im)^x-api-key:\s*(\S+)", request)
    return match.group(1).decode() if match else ""


def _http(status: str, body: bytes, content_type: str, extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n{extra}"
    return head.encode() + b"Connection: close\r\n\r\n" + body


def _event(content: str) -> bytes:
    return b"data: " + json.dumps({"id": "r", "choices": [{"delta": {"content": content}}]}).encode() + b"\n\n"


ECHOES: dict[str, Callable[[str], bytes]] = {
    "json-200": lambda key: _http(
        "200 OK",
        json.dumps({"code": 11128, "msg": f"illegal key {key}", "requestId": key}).encode(),
        "application/json",
    ),
    "json-401": lambda key: _http(
        "401 Unauthorized", json.dumps({"code": 401, "msg": f"bad key: {key}"}).encode(), "application/json"
    ),
    "json-unknown-code": lambda key: _http(
        "200 OK", json.dumps({"code": 99999, "msg": key, "extError": {"param": key}}).encode(), "application/json"
    ),
    "nested": lambda key: _http(
        "403 Forbidden",
        json.dumps({"error": {"code": -32603, "message": key, "data": {"code": 77, "msg": f"k={key}"}}}).encode(),
        "application/json",
    ),
    "html": lambda key: _http("502 Bad Gateway", f"<html><h1>502</h1><p>key {key}</p></html>".encode(), "text/html"),
    "plain-text": lambda key: _http("500 Internal Server Error", f"oops {key}".encode(), "text/plain"),
    "header": lambda key: _http(
        "429 Too Many Requests",
        json.dumps({"code": 6004, "msg": "slow down"}).encode(),
        "application/json",
        f"Retry-After: 1\r\nX-Request-Id: {key}\r\nX-Echo-Key: {key}\r\n",
    ),
    "redirect": lambda key: _http(
        "307 Temporary Redirect", b"", "text/plain", f"Location: http://evil.example/?k={key}\r\n"
    ),
    "mid-stream-error": lambda key: _http(
        "200 OK",
        _event("Hello")
        + b"data: "
        + json.dumps({"code": 6004, "msg": f"limit for {key}", "requestId": key}).encode()
        + b"\n\n",
        "text/event-stream",
    ),
    "mid-stream-not-json": lambda key: _http(
        "200 OK", _event("Hello") + f"data: {'x' * 110}{key} and more\n\n".encode(), "text/event-stream"
    ),
    "mid-stream-not-object": lambda key: _http(
        "200 OK", _event("Hello") + f'data: ["{key}"]\n\n'.encode(), "text/event-stream"
    ),
}


@pytest.mark.parametrize("echo", list(ECHOES))
def test_key_echoed_by_upstream_is_not_shown(
    path: str, loud: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str], echo: str
) -> None:
    answer = ECHOES[echo]
    with RawServer(lambda request: answer(_key_of(request))) as server:
        headers = echo in ("header", "redirect")
        check_everything(path, loud, capfd, "hi", fails=True, echoed_in_headers=headers, api_base=server.url + "/v2")
        assert server.received and KEY in server.received[0].decode("latin-1")  # the key really went out


# ------------------------------------------------------------------------------------------------ the proxy


MASTER = "sk-MASTERKEY-" + "q7w8e9r0t1y2"


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The LiteLLM proxy with ``--detailed_debug``, the repo's config (cooldowns and retries off, so one failure
    neither benches the deployment for the next case nor costs seconds of backoff), in front of a relay that passes
    requests to the fake or echoes the key."""
    tmp = tmp_path_factory.mktemp("proxy-secrets")
    config = tmp / "proxy_config.yaml"
    config.write_text(
        (ROOT / "proxy_config.yaml").read_text() + "\nrouter_settings:\n  disable_cooldowns: true\n  num_retries: 0\n"
    )
    log = tmp / "proxy.log"
    with FakeCodeBuddy(api_key=KEY) as fake:

        def upstream(request: bytes) -> bytes:
            key = _key_of(request)
            if b"ECHO_JSON" in request:
                return ECHOES["json-200"](key)
            if b"ECHO_STREAM" in request:
                return ECHOES["mid-stream-error"](key)
            if b"ECHO_HTML" in request:
                return ECHOES["html"](key)
            if b"DROP" in request:
                return b""  # the connection closes without an answer
            return relay_to("127.0.0.1", fake.port, request)

        with RawServer(upstream) as relay:
            port = launch.free_port()
            env = {"LITELLM_MASTER_KEY": MASTER, "CODEBUDDY_API_KEY": KEY, "CODEBUDDY_API_BASE": relay.url + "/v2"}
            proc = launch.start_proxy(config, port, env, log=log, extra_args=("--detailed_debug",))
            try:
                launch.wait_http(f"http://127.0.0.1:{port}/health/liveliness", 180, proc)
                yield f"http://127.0.0.1:{port}", log
            finally:
                launch.stop(proc)


PROXY_CASES: list[tuple[str, int]] = [
    ("hello", 200),
    ("hi ECHO_JSON", 400),
    ("hi ECHO_STREAM", 429),
    ("hi ECHO_HTML", 503),
    ("hi FAKE:code=14015", 403),
    ("hi FAKE:midstream=6004 FAKE:burst", 429),  # burst: the error arrives with the first events
    ("hi FAKE:http=401", 401),
    ("hi DROP", 500),  # the upstream closes without an answer: APIConnectionError
    ("hi FAKE:slow=3", 408),  # with "timeout": 0.5 in the request
]


@pytest.mark.proxy  # needs the proxy: not run with the faults
def test_proxy_detailed_debug_never_shows_a_key(proxy: tuple[str, Path]) -> None:
    base, log = proxy
    bodies: list[str] = []
    with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {MASTER}"}) as client:
        for text, status in PROXY_CASES:
            for stream in (False, True):
                body: dict[str, Any] = {
                    "model": MODEL,
                    "stream": stream,
                    "messages": [{"role": "user", "content": text}],
                }
                if "slow" in text:
                    body["timeout"] = 0.5
                resp = client.post("/v1/chat/completions", json=body)
                bodies.append(resp.text)
                assert resp.status_code == status, (text, stream, resp.status_code, resp.text[:300])
                assert_clean(resp.text, f"the proxy's answer to {text!r} (stream={stream})")
                assert_clean(repr(dict(resp.headers)), f"the proxy's headers for {text!r}")
    text = log.read_text(errors="replace")
    assert text.count("DEBUG") > 50, "the proxy log holds no debug lines: --detailed_debug did not take effect"
    assert_clean(text, "the proxy's --detailed_debug log")
    # The master key and the client's Authorization header: the provider never sees them, LiteLLM handles them.
    assert_clean(text, "the proxy's --detailed_debug log (master key)", (MASTER, MASTER[-12:]))
    assert_clean("".join(bodies), "the proxy's answers (master key)", (MASTER,))
    assert os.path.getsize(log) > 0
