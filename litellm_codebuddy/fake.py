"""A local fake of the CodeBuddy chat gateway, for tests, demos and benchmarks.

Standard library only.  It serves ``POST /v2/chat/completions`` the way the real gateway does (as far as the
public reports go): streaming only, the gateway's request checks with their business ``code``, and a stream with
the gateway's oddities.  Control "directives" turn on faults (errors, cut streams, stalls, resets, ...).

Starting it
-----------
* ``python -m litellm_codebuddy.fake [--host 127.0.0.1] [--port 0] [--key KEY] [--fault SPEC]`` serves until
  SIGINT/SIGTERM (exit status 0).  On start it prints one line to stdout, e.g.
  ``FAKE_CODEBUDDY_URL=http://127.0.0.1:43117/v2``; use that URL as the API base.
* In-process (it runs its own asyncio loop in a daemon thread, so sync and async tests can both use it)::

      with FakeCodeBuddy() as fake:            # or fake = FakeCodeBuddy().start(); ...; fake.stop()
          fake.base_url                        # "http://127.0.0.1:PORT/v2"
          fake.requests[-1].body               # parsed JSON body of the last chat request
          fake.set_fault("code=6004")          # every following request fails with 6004
          fake.set_fault(None)                 # back to normal

Endpoints: ``POST /v2/chat/completions``; ``GET /health`` -> ``{"ok": true}`` (no auth, no faults); anything else
-> 404 JSON.  HTTP/1.1 with keep-alive; streams use ``Transfer-Encoding: chunked`` so a connection is reused.

Auth: both ``Authorization: Bearer <key>`` and ``X-API-Key: <key>`` must be present and equal.  With
``api_key=None`` any ``ck_<something>`` key is accepted, otherwise exactly ``api_key``.  Failure: HTTP 401
``{"code": 401, "msg": "unauthorized: ..."}``.

Request checks, in this order (error bodies are ``{"code", "msg", "requestId", "displayMsg": {"en", "zh"}}``):

1. auth (above);
2. the body is a JSON object with a non-empty ``messages`` list of objects, else 11101;
3. ``stream`` is true, else 11101 "Non-stream chat request is currently not supported";
4. some message is a system message, else 11101 "Parse message failed: 11101:invalid request";
5. the first message is the system message, else 11128 "first message is not system prompt";
6. no ``developer`` role, else 11128;
7. no two consecutive assistant messages, else 11133;
8. no empty content (missing, ``None``, ``""``, ``[]``) unless an assistant message carries ``tool_calls``, else
   11151;
9. ``tool_choice`` is absent or a string, else 11101;
10. tool schemas contain no ``$ref``/``$defs``/``allOf`` key, else HTTP **400** ``{"code":400,"msg":"Invalid request
    parameters"}`` (always 400);
11. every tool message's ``tool_call_id`` matches an earlier assistant ``tool_calls`` id, else 11148;
12. no system prompt names another coding agent ("claude code", "cursor", "cline", "roo code", "kilo code",
    "codex cli", case-insensitive), else 11140 "Illegal API invocation from an unapproved channel";
13. ``model`` is a bare known id (gpt-5.5, gpt-5.4, claude-sonnet-4.6, gemini-3.1-pro, anything starting with
    ``fake-``, or the ``models=`` given to the constructor), else 11102 "service info not found for the model";
14. content parts are ``{"type":"text","text":str,...}`` or exactly
    ``{"type":"image_url","image_url":{"url":str}}`` (no other keys, no other part types), else 11101;
15. ``reasoning_effort`` "none"/"off" -> 11150.

HTTP status of business errors: the gateway's status for these bodies is undocumented; the fake answers them with
**HTTP 200** (the worst case for a client: a JSON error body under a success status).  The directive ``status=<n>``
changes it (e.g. ``FAKE:status=400``).  Check 10 is always 400, auth is always 401.

The answer stream (deterministic)
---------------------------------
``data: {json}\\n\\n`` events, then ``data: [DONE]\\n\\n``.  Each chunk looks like
``{"id":"resp_<rid>_<n>","model":M,"object":"response","choices":[{"delta":{...},"finish_reason":""}]}``: no
``created``, no ``index`` in choices, the ``id`` changes on every chunk, the first delta has ``"role":"assistant"``
and later ones ``"role":""``, content deltas carry ``"refusal":""`` and ``"tool_calls":[]``.  The finishing chunk
is, like the seed capture, ``{"id":...,"choices":[{"delta":{"content":""},"finish_reason":"stop"}],"usage":{...}}``
(no ``model``/``object``).

* Content: ``"Echo: " + T`` where T is the text of the last user message (text parts joined with a space) with
  directive tokens removed, stripped; plus ``" [images: N]"`` when that message has N image parts.  It is sent as
  one word per event, spaces kept, so the concatenation is exactly the answer.
* Last message is a tool message: ``"Tool results: " + "; ".join(contents of the trailing tool messages)``.
* Tool calls: with ``tools``, ``tool_choice`` not "none" and the last message a user message, the first tool is
  called with arguments built from its schema's required properties (first ``enum`` value if any, else string
  "test", integer/number 1, boolean true, array [], object {}), finish_reason "tool_calls".  Each call is three
  deltas: id+name with empty arguments; the id repeated with ``"name":""`` and the first half of the arguments; no
  id, the rest of the arguments.  With ``parallel`` (or "PARALLEL" in the user text), more than one tool and
  ``parallel_tool_calls`` not false, every tool is called, one after the other, ALL with ``"index":0`` and told
  apart only by ids ``tooluse_<rid>_<n>``.
* Reasoning: when ``reasoning_effort`` is given, ``delta.reasoning_content`` events "Thinking about: T" (one word per
  event) come before the answer.
* Token counting: prompt tokens = number of whitespace-separated words in the text of every message (string
  content or text parts) + 4 per message; completion tokens = number of content, reasoning and tool-call delta
  events; reasoning tokens = number of reasoning events; total = prompt + completion.  The default ``usage`` is the
  seed's thin shape ``{"total_tokens": N, "credit": 0.01}``.

Directives
----------
Written in the last user message as ``FAKE:<name>`` or ``FAKE:<name>=<value>`` tokens (several allowed, e.g.
``"hello FAKE:events=2000 FAKE:pace=0.002"``; removed from the echo), or in an ``X-Fake-Fault`` request header
(``"events=2000 pace=0.002"``, space or comma separated, no ``FAKE:`` prefix), or by ``set_fault(spec)`` /
``--fault spec`` for every following request.  Precedence: message > header > ``set_fault``.  An unknown name or
a bad value answers HTTP 400 ``{"code":400,"msg":"bad fake directive: ..."}``.  ``reset``, ``slow``,
``redirect``, ``html`` and ``http`` act like a proxy in front of the gateway (before auth and the checks);
``code`` and ``nested`` come after auth, before the checks.

Answer shaping:
  ``events=N``        exactly N content events ``"w0 "``, ``"w1 "``, ... instead of the echo (default 10)
  ``size=BYTES``      one content event of BYTES ``"x"`` characters (10 MB is fine) (default 1024)
  ``pace=SECONDS``    one event every SECONDS (absolute schedule, no drift) (default 0.01)
  ``model=X``         the chunks name model X instead of the requested one
  ``usage=MODE``      ``basic`` (default: total_tokens + credit), ``full`` (prompt/completion/total tokens,
                      completion_tokens_details.reasoning_tokens, prompt_tokens_details.cached_tokens),
                      ``thinking`` (full + completion_thinking_tokens), ``none`` (no usage at all)
  ``cached=N``        prompt_tokens_details.cached_tokens for usage=full/thinking (default 0)
  ``parallel``        parallel tool calls (see above)
Errors before the stream:
  ``code=N``          business error ``{code,msg,...}`` with the code's documented message (6004 in Chinese with a
                      reset time, 14018 out of credits, ...); HTTP status from ``status=`` (default 200)
  ``status=N``        HTTP status for business errors (``code=`` and the request checks)
  ``nested=N``        ``{"error":{"code":-32603,"message":...,"data":{"code":N,"statusCode":S}}}``, S = HTTP
                      status from ``status=`` (default 403)
  ``http=N``          HTTP status N with ``{"code":N,"msg":...}``; 429 adds ``Retry-After`` (default 500)
  ``retry_after=S``   the Retry-After value for ``http=429`` (default 7)
  ``html=N``          HTTP status N with an nginx-style HTML page, ``Content-Type: text/html`` (default 502)
  ``redirect=URL``    307 with ``Location: URL``
  ``reset``           close the connection abruptly (RST) before any response byte
  ``slow=SECONDS``    wait before sending the response headers (default 1)
Stream faults:
  ``stall=SECONDS``   send the headers and the first event, then wait before the rest (default 1)
  ``cut`` / ``cut=N`` after 3 (or N) content events end the chunked body cleanly: no finish_reason, no [DONE]
  ``cut=reset``       after 3 content events reset the TCP connection (RST) mid-body
  ``nofinish``        content events and [DONE] but no finish_reason chunk
  ``nodone``          the finish chunk but no [DONE]
  ``midstream=N``     3 content events, then ``data: {"code":N,"msg":...}``, then the body ends (no [DONE])
  ``midstream=error`` same with ``data: {"error":{"message":...,"type":"server_error"}}`` (the default)
  ``garbage``         after the first event: ``data: {not json`` and ``data: \\xff\\xfe`` (invalid UTF-8), then
                      the rest of the stream as usual
  ``crlf``            ``\\r\\n`` line endings
  ``comments``        a ``: keep-alive`` comment block before every event
  ``multiline``       every JSON payload split over two ``data:`` lines (the joined data is still valid JSON)

Login and discovery (experimental; the endpoints come from other clients' reports)
-------------------------------------------------------------------------------------
``POST /v2/plugin/auth/state`` -> ``{"code":0,"data":{"state","authUrl"[,"interval"]}}``; ``GET
/v2/plugin/auth/token?state=S`` -> code 11217 (pending) for the first ``login_pending_polls`` polls of S, then
``{"code":0,"data":{"accessToken","refreshToken","expiresIn"}}``; ``POST /v2/plugin/auth/token/refresh`` with
``X-Refresh-Token`` -> a new token pair (the old refresh token stops working).  ``GET /v3/config`` ->
``{"code":0,"data":{"models":[...]}}`` and ``GET /console/enterprises/personal/models`` -> ``{"code":0,"data":[...]}``
(both need the chat endpoint's auth).  Issued access tokens are accepted as keys by every endpoint until they
expire.  Attributes: ``login_pending_polls`` (0), ``login_refuse`` (the poll answers HTTP 403), ``login_expire``
(code 11218 "login state expired"), ``login_interval`` (announced poll interval, None), ``token_expires_in``
(86400; None omits it), ``refresh_fail`` (refresh answers HTTP 401), ``models_live`` (ids or dicts; None: the
known models), ``discovery_fail`` (True: both discovery endpoints answer 500; ``"v3"``: only ``/v3/config``);
``issue_token(expires_in)`` makes a token pair directly; ``account_requests`` records these requests.

Counters: ``requests`` (records of chat requests, at most ``max_requests``, oldest dropped), ``disconnects``
(streams abandoned by the client before they finished; detected on the next write, or within 0.1 s during a
stall), ``open_connections``, ``connections_total``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import http
import itertools
import json
import json.encoder
import logging
import re
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["KNOWN_MODELS", "FakeCodeBuddy", "RequestRecord", "main", "parse_fault"]

logger = logging.getLogger(__name__)

KNOWN_MODELS: frozenset[str] = frozenset({"gpt-5.5", "gpt-5.4", "claude-sonnet-4.6", "gemini-3.1-pro"})
UNAPPROVED_AGENTS: tuple[str, ...] = ("claude code", "cursor", "cline", "roo code", "kilo code", "codex cli")

CHAT_PATH = "/v2/chat/completions"
ACCOUNT_PATHS = frozenset(
    {
        "/v2/plugin/auth/state",
        "/v2/plugin/auth/token",
        "/v2/plugin/auth/token/refresh",
        "/v3/config",
        "/console/enterprises/personal/models",
    }
)
_HEADER_LIMIT = 1 << 20
_MAX_BODY = 64 << 20
_FLUSH_BYTES = 64 << 10
_POLL = 0.1

_enc: Callable[[str], str] = json.encoder.encode_basestring_ascii

_CODE_MESSAGES: dict[int, tuple[str, str]] = {
    11101: ("Parse message failed: 11101:invalid request", "请求参数无效"),
    11102: ("service info not found for the model", "未找到该模型的服务信息"),
    11128: ("first message is not system prompt", "请求不合法：第一条消息不是系统提示词"),
    11133: ("invalid parameter: consecutive assistant messages", "参数无效：连续的助手消息"),
    11134: ("the model provider is temporarily unavailable, please retry later", "模型服务暂时不可用，请稍后重试"),
    11140: ("Illegal API invocation from an unapproved channel", "非法的 API 调用：未经批准的渠道"),
    11148: ("invalid tool call sequence: tool result without a matching tool call", "工具调用序列无效"),
    11150: ("reasoning_effort value is not supported by this model", "该模型不支持此 reasoning_effort 值"),
    11151: ("message content must not be empty", "消息内容不能为空"),
    14018: ("insufficient credits: your credits are exhausted", "额度不足：您的积分已用完"),
}

_HTML_PAGE = (
    "<html><head><title>{s} {p}</title></head><body><center><h1>{s} {p}</h1></center>"
    "<hr><center>nginx</center></body></html>"
)


def _business_message(code: int) -> tuple[str, str, str]:
    """(msg, en, zh) for a business code; 6004's msg is Chinese and names a reset time in UTC+8, like the gateway."""
    if code == 6004:
        tz = datetime.timezone(datetime.timedelta(hours=8))
        reset = (datetime.datetime.now(tz) + datetime.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        when = reset.strftime("%Y-%m-%d %H:%M:%S")
        zh = f"超出频率限制，将于 {when} (UTC+8) 重置"
        return zh, f"Rate limit exceeded, resets at {when} (UTC+8)", zh
    en, zh = _CODE_MESSAGES.get(code, (f"request failed with code {code}", f"请求失败，错误码 {code}"))
    return en, en, zh


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


# --------------------------------------------------------------------------------------------------- directives


def _flag(value: str | None) -> bool:
    return True


def _int(default: int | None) -> Callable[[str | None], int]:
    def conv(value: str | None) -> int:
        if value is None or value == "":
            if default is None:
                raise ValueError("needs a value")
            return default
        return int(value)

    return conv


def _float(default: float) -> Callable[[str | None], float]:
    def conv(value: str | None) -> float:
        if value is None or value == "":
            return default
        result = float(value)
        if not result >= 0:
            raise ValueError("must be >= 0")
        return result

    return conv


def _cut(value: str | None) -> int | str:
    if value is None or value == "":
        return 3
    return "reset" if value == "reset" else int(value)


def _midstream(value: str | None) -> int | str:
    if value is None or value in ("", "error"):
        return "error"
    return int(value)


def _usage_mode(value: str | None) -> str:
    mode = value or "basic"
    if mode not in ("basic", "full", "thinking", "none"):
        raise ValueError("usage must be basic, full, thinking or none")
    return mode


def _text_value(value: str | None) -> str:
    if not value:
        raise ValueError("needs a value")
    return value


_DIRECTIVES: dict[str, Callable[[str | None], Any]] = {
    "events": _int(10),
    "size": _int(1024),
    "pace": _float(0.01),
    "model": _text_value,
    "usage": _usage_mode,
    "cached": _int(0),
    "parallel": _flag,
    "code": _int(11101),
    "status": _int(None),
    "nested": _int(14018),
    "http": _int(500),
    "retry_after": _text_value,
    "html": _int(502),
    "redirect": _text_value,
    "reset": _flag,
    "slow": _float(1.0),
    "stall": _float(1.0),
    "cut": _cut,
    "nofinish": _flag,
    "nodone": _flag,
    "midstream": _midstream,
    "garbage": _flag,
    "crlf": _flag,
    "comments": _flag,
    "multiline": _flag,
}

_TOKEN_RE = re.compile(r"FAKE:([A-Za-z_]+)(?:=(\S*))?")
_STRIP_RE = re.compile(r"\s*FAKE:[A-Za-z_]+(?:=\S*)?")
_WORD_RE = re.compile(r"\s*\S+")


def _parse_tokens(tokens: Iterable[tuple[str, str | None]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in tokens:
        key = name.lower()
        conv = _DIRECTIVES.get(key)
        if conv is None:
            raise ValueError(f"unknown directive {name!r}")
        try:
            out[key] = conv(value)
        except ValueError as exc:
            raise ValueError(f"{name}={value}: {exc}") from None
    for key in ("status", "http", "html"):
        if key in out and not 100 <= out[key] <= 599:
            raise ValueError(f"{key}={out[key]}: not an HTTP status")
    return out


def parse_fault(spec: str) -> dict[str, Any]:
    """Parse a directive spec without the ``FAKE:`` prefix, e.g. ``"code=6004 status=429"`` or ``"cut,crlf"``."""
    tokens: list[tuple[str, str | None]] = []
    for raw in re.split(r"[\s,]+", spec.strip()):
        if not raw:
            continue
        if raw.startswith("FAKE:"):
            raw = raw[5:]
        name, sep, value = raw.partition("=")
        tokens.append((name, value if sep else None))
    return _parse_tokens(tokens)


# ------------------------------------------------------------------------------------------------- message helpers


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return " ".join(parts)
    return ""


def _images_in(content: Any) -> int:
    if isinstance(content, list):
        return sum(1 for p in content if isinstance(p, dict) and p.get("type") == "image_url")
    return 0


def _words(text: str) -> list[str]:
    pieces = _WORD_RE.findall(text)
    rest = text[sum(len(p) for p in pieces) :]
    if rest:
        if pieces:
            pieces[-1] += rest
        else:
            pieces = [rest]
    return pieces


def _is_empty(content: Any) -> bool:
    return content is None or content == "" or content == []


def _has_schema_refs(node: Any) -> bool:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("$ref", "$defs", "allOf") or _has_schema_refs(value):
                return True
    elif isinstance(node, list):
        return any(_has_schema_refs(item) for item in node)
    return False


def _good_part(part: Any) -> bool:
    if not isinstance(part, dict):
        return False
    kind = part.get("type")
    if kind == "text":
        return isinstance(part.get("text"), str)
    if kind == "image_url":
        image = part.get("image_url")
        return (
            set(part) == {"type", "image_url"}
            and isinstance(image, dict)
            and set(image) == {"url"}
            and isinstance(image["url"], str)
        )
    return False


def _sample_value(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return "test"
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    samples: dict[str, Any] = {"integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}
    return samples.get(kind, "test") if isinstance(kind, str) else "test"


def _tool_function(tool: Any) -> tuple[str, dict[str, Any]]:
    func = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(func, dict):
        return "", {}
    params = func.get("parameters")
    name = func.get("name")
    return (name if isinstance(name, str) else ""), (params if isinstance(params, dict) else {})


def _arguments_for(params: dict[str, Any]) -> str:
    props = params.get("properties")
    props = props if isinstance(props, dict) else {}
    required = params.get("required")
    names = [n for n in required if isinstance(n, str)] if isinstance(required, list) else []
    return json.dumps({n: _sample_value(props.get(n)) for n in names})


# --------------------------------------------------------------------------------------------------------- records


@dataclass
class RequestRecord:
    """One received chat request.  Attribute or item access: ``rec.body`` == ``rec["body"]``."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    """The parsed JSON body (``None`` when it was not valid JSON)."""

    def __getitem__(self, key: str) -> Any:
        if key in ("method", "path", "headers", "body"):
            return getattr(self, key)
        if key == "json":
            return self.body
        raise KeyError(key)

    @property
    def json(self) -> Any:
        return self.body


class _Gone(Exception):
    """The client went away."""


@dataclass
class _Request:
    method: str
    target: str
    path: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


@dataclass
class _Ctx:
    d: dict[str, Any]
    body: dict[str, Any]
    model_json: str
    rid: str
    seq: int = 0
    role_sent: bool = False
    finish: str = "stop"


def _gone(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    return writer.transport.is_closing() or reader.at_eof()


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0, so the peer sees an RST."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _SSE:
    """Buffers SSE events and writes them as HTTP chunks."""

    __slots__ = ("comments", "multiline", "nl", "pending", "reader", "size", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, d: dict[str, Any]) -> None:
        self.reader = reader
        self.writer = writer
        self.nl = b"\r\n" if d.get("crlf") else b"\n"
        self.comments = bool(d.get("comments"))
        self.multiline = bool(d.get("multiline"))
        self.pending: list[bytes] = []
        self.size = 0

    def event(self, payload: str) -> None:
        nl = self.nl
        if self.comments:
            self.raw(b": keep-alive" + nl + nl)
        if self.multiline and payload.startswith("{"):
            cut = payload.find(",") + 1
            data = b"data: " + payload[:cut].encode() + nl + b"data: " + payload[cut:].encode() + nl + nl
        else:
            data = b"data: " + payload.encode() + nl + nl
        self.pending.append(data)
        self.size += len(data)

    def raw(self, data: bytes) -> None:
        self.pending.append(data)
        self.size += len(data)

    async def flush(self, last: bool = False) -> None:
        if self.pending:
            data = self.pending[0] if len(self.pending) == 1 else b"".join(self.pending)
            self.pending.clear()
            self.size = 0
            frame = b"%x\r\n%b\r\n" % (len(data), data)
            if last:
                frame += b"0\r\n\r\n"
        elif last:
            frame = b"0\r\n\r\n"
        else:
            return
        if _gone(self.reader, self.writer):
            raise _Gone
        transport = self.writer.transport
        transport.write(frame)
        if transport.get_write_buffer_size():  # only wait when the kernel did not take it all
            try:
                await self.writer.drain()
            except ConnectionError as exc:
                raise _Gone from exc


# ---------------------------------------------------------------------------------------------------------- server


class FakeCodeBuddy:
    """A local fake CodeBuddy gateway.  See the module docstring for the behaviour and the directives."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        *,
        models: Iterable[str] | None = None,
        max_requests: int = 10_000,
    ) -> None:
        self.host = "127.0.0.1" if host == "localhost" else host
        self.port = port
        self.api_key = api_key
        self.models: frozenset[str] = KNOWN_MODELS | frozenset(models or ())
        self.max_requests = max_requests
        self.requests: list[RequestRecord] = []
        self.disconnects = 0
        self.open_connections = 0
        self.connections_total = 0
        self._fault: dict[str, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._conns: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}
        self._lock = threading.Lock()
        # login and discovery (see the module docstring), configurable from tests
        self.login_pending_polls = 0
        self.login_refuse = False
        self.login_expire = False
        self.login_interval: float | None = None
        self.token_expires_in: int | None = 86400
        self.refresh_fail = False
        self.models_live: list[Any] | None = None
        self.discovery_fail: bool | str = False
        self.account_requests: list[RequestRecord] = []
        self.tokens: dict[str, float] = {}  # issued access token -> expiry (time.time())
        self._refresh_tokens: dict[str, str] = {}  # refresh token -> its access token
        self._states: dict[str, int] = {}  # login state -> polls so far

    # ---------------------------------------------------------------------------------------------- public API

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (no path)."""
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "[::1]"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base: ``http://HOST:PORT/v2``."""
        return self.url + "/v2"

    def set_fault(self, spec: str | None) -> None:
        """Apply directives (``"code=6004 status=429"``) to every following request; ``None`` clears them."""
        self._fault = parse_fault(spec) if spec else {}

    def start(self) -> FakeCodeBuddy:
        """Serve in a daemon thread; returns once the port is bound."""
        if self._thread is not None:
            raise RuntimeError("FakeCodeBuddy already started")
        self._ready.clear()
        self._start_error = None
        self._thread = threading.Thread(target=self._thread_main, name="fake-codebuddy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("FakeCodeBuddy did not start")
        if self._start_error is not None:
            self._thread.join(2)
            self._thread = None
            raise self._start_error
        return self

    def stop(self) -> None:
        """Close the listener and every connection, and join the thread."""
        thread = self._thread
        if thread is None:
            return
        self.request_stop()
        thread.join(5)
        self._thread = None

    def request_stop(self) -> None:
        """Thread-safe: ask ``serve()`` to return."""
        loop, event = self._loop, self._stop_event
        if loop is not None and event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    def __enter__(self) -> FakeCodeBuddy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def serve(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve on the running event loop until ``request_stop()``/``stop()``."""
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        server = await asyncio.start_server(
            self._on_connection, self.host, self.port, backlog=2048, limit=_HEADER_LIMIT
        )
        self.port = server.sockets[0].getsockname()[1]
        if on_ready is not None:
            on_ready()
        try:
            await self._stop_event.wait()
        finally:
            server.close()
            tasks = list(self._conns)
            for task, writer in list(self._conns.items()):
                writer.transport.abort()
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=1)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 1)

    # ---------------------------------------------------------------------------------------------- internals

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self.serve(on_ready=self._ready.set))
        except BaseException as exc:  # reported to start()
            if not self._ready.is_set():
                self._start_error = exc
            else:
                logger.exception("fake CodeBuddy server failed")
        finally:
            self._ready.set()
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _record(self, rec: RequestRecord) -> None:
        if self.max_requests <= 0:
            return
        with self._lock:
            self.requests.append(rec)
            if len(self.requests) > self.max_requests:
                del self.requests[: max(1, self.max_requests // 10)]

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns[task] = writer
        self.connections_total += 1
        self.open_connections += 1
        try:
            while True:
                req = await self._read_request(reader, writer)
                if req is None or not await self._dispatch(req, reader, writer):
                    break
        except _Gone:
            logger.debug("client went away")
        except asyncio.CancelledError:
            logger.debug("connection handler cancelled (server stopping)")
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as exc:
            logger.debug("connection error: %r", exc)
        except Exception:
            logger.exception("fake CodeBuddy handler failed")
        finally:
            self.open_connections -= 1
            if task is not None:
                self._conns.pop(task, None)
            if not writer.transport.is_closing():
                writer.close()

    async def _read_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> _Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            while head == b"\r\n\r\n" or head.startswith(b"\r\n"):
                head = head.lstrip(b"\r\n")
                if not head:
                    head = await reader.readuntil(b"\r\n\r\n")
                elif not head.endswith(b"\r\n\r\n"):
                    head += await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        except asyncio.LimitOverrunError:
            await self._send(writer, 431, b'{"code":431,"msg":"request header too large"}', keep_alive=False)
            return None
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            await self._send(writer, 400, b'{"code":400,"msg":"bad request line"}', keep_alive=False)
            return None
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep:
                await self._send(writer, 400, b'{"code":400,"msg":"bad header line"}', keep_alive=False)
                return None
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        connection = headers.get("connection", "").lower()
        keep_alive = version == "HTTP/1.1" and "close" not in connection
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size_line = await reader.readuntil(b"\r\n")
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    await self._send(writer, 400, b'{"code":400,"msg":"bad chunk"}', keep_alive=False)
                    return None
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":
                        pass
                    break
                total += size
                if total > _MAX_BODY:
                    await self._send(writer, 413, b'{"code":413,"msg":"body too large"}', keep_alive=False)
                    return None
                chunks.append((await reader.readexactly(size + 2))[:-2])
            body = b"".join(chunks)
        else:
            try:
                length = int(headers.get("content-length", "0") or "0")
            except ValueError:
                length = -1
            if length < 0 or length > _MAX_BODY:
                await self._send(writer, 413, b'{"code":413,"msg":"bad or too large body"}', keep_alive=False)
                return None
            body = await reader.readexactly(length) if length else b""
        path = target.split("?", 1)[0]
        return _Request(method.upper(), target, path, headers, body, keep_alive)

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes,
        *,
        keep_alive: bool,
        content_type: str = "application/json",
        extra: Iterable[tuple[str, str]] = (),
        head_only: bool = False,
    ) -> bool:
        lines = [
            f"HTTP/1.1 {status} {_phrase(status)}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
            f"Connection: {'keep-alive' if keep_alive else 'close'}",
            "Server: fake-codebuddy",
        ]
        lines.extend(f"{k}: {v}" for k, v in extra)
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if not head_only:
            data += body
        if writer.transport.is_closing():
            raise _Gone
        writer.write(data)
        await writer.drain()
        return keep_alive

    async def _send_json(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        obj: Any,
        *,
        keep_alive: bool,
        extra: Iterable[tuple[str, str]] = (),
    ) -> bool:
        body = json.dumps(obj, ensure_ascii=False).encode()
        return await self._send(writer, status, body, keep_alive=keep_alive, extra=extra)

    async def _business_error(
        self, writer: asyncio.StreamWriter, status: int, code: int, msg: str | None, keep_alive: bool
    ) -> bool:
        default_msg, en, zh = _business_message(code)
        if msg:
            en = msg
        else:
            msg = default_msg
        obj = {"code": code, "msg": msg, "requestId": str(uuid.uuid4()), "displayMsg": {"en": en, "zh": zh}}
        return await self._send_json(writer, status, obj, keep_alive=keep_alive)

    async def _sleep(self, seconds: float, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Sleep, watching for the client going away (checked every 0.1 s)."""
        if seconds <= _POLL:
            await asyncio.sleep(seconds)
            return
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while True:
            if _gone(reader, writer):
                raise _Gone
            left = end - loop.time()
            if left <= 0:
                return
            await asyncio.sleep(min(_POLL, left))

    async def _dispatch(self, req: _Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        if req.path == "/health":
            if req.method in ("GET", "HEAD"):
                return await self._send(
                    writer, 200, b'{"ok":true}', keep_alive=req.keep_alive, head_only=req.method == "HEAD"
                )
            return await self._send_json(
                writer, 405, {"code": 405, "msg": "method not allowed"}, keep_alive=req.keep_alive
            )
        if req.path == CHAT_PATH:
            if req.method != "POST":
                return await self._send_json(
                    writer, 405, {"code": 405, "msg": "method not allowed"}, keep_alive=req.keep_alive
                )
            return await self._chat(req, reader, writer)
        if req.path in ACCOUNT_PATHS:
            return await self._account(req, writer)
        return await self._send_json(
            writer, 404, {"code": 404, "msg": f"not found: {req.path}"}, keep_alive=req.keep_alive
        )

    def _auth_error(self, headers: dict[str, str]) -> str | None:
        auth = headers.get("authorization")
        api_key = headers.get("x-api-key")
        if not auth:
            return "missing Authorization header"
        scheme, _, bearer = auth.partition(" ")
        bearer = bearer.strip()
        if scheme.lower() != "bearer" or not bearer:
            return "Authorization must be 'Bearer <key>'"
        if api_key is None:
            return "missing X-API-Key header"
        if api_key.strip() != bearer:
            return "Authorization and X-API-Key carry different keys"
        if self.tokens.get(bearer, 0.0) > time.time():  # an access token issued by the login endpoints
            return None
        if self.api_key is None:
            if not (bearer.startswith("ck_") and len(bearer) > 3):
                return "invalid API key"
        elif bearer != self.api_key:
            return "invalid API key"
        return None

    def _validate(self, body: Any) -> tuple[int | None, int, str] | None:
        """(forced HTTP status or None, code, msg) of the first failed check, or None."""
        if not isinstance(body, dict):
            return None, 11101, "Parse message failed: 11101:invalid request (body is not a JSON object)"
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) for m in msgs):
            return None, 11101, "Parse message failed: 11101:invalid request (messages)"
        if body.get("stream") is not True:
            return None, 11101, "Non-stream chat request is currently not supported"
        roles = [m.get("role") for m in msgs]
        if "system" not in roles:
            return None, 11101, "Parse message failed: 11101:invalid request"
        if roles[0] != "system":
            return None, 11128, "first message is not system prompt"
        if "developer" in roles:
            return None, 11128, "request illegal: role developer is not supported"
        for first, second in itertools.pairwise(roles):
            if first == second == "assistant":
                return None, 11133, "invalid parameter: consecutive assistant messages"
        for m in msgs:
            if _is_empty(m.get("content")) and not (m.get("role") == "assistant" and m.get("tool_calls")):
                return None, 11151, "message content must not be empty"
        if body.get("tool_choice") is not None and not isinstance(body.get("tool_choice"), str):
            return None, 11101, "Parse message failed: 11101:invalid request (tool_choice)"
        if _has_schema_refs(body.get("tools")):
            return 400, 400, "Invalid request parameters"
        seen: set[Any] = set()
        for m in msgs:
            if m.get("role") == "assistant" and isinstance(m.get("tool_calls"), list):
                seen.update(c.get("id") for c in m["tool_calls"] if isinstance(c, dict))
            elif m.get("role") == "tool" and m.get("tool_call_id") not in seen:
                return None, 11148, "invalid tool call sequence: tool result without a matching tool call"
        for m in msgs:
            if m.get("role") == "system":
                text = _text_of(m.get("content")).lower()
                if any(name in text for name in UNAPPROVED_AGENTS):
                    return None, 11140, "Illegal API invocation from an unapproved channel"
        model = body.get("model")
        if not isinstance(model, str) or not (model in self.models or model.startswith("fake-")):
            return None, 11102, "service info not found for the model"
        for m in msgs:
            content = m.get("content")
            if content is not None and not isinstance(content, (str, list)):
                return None, 11101, "Parse message failed: 11101:invalid request (content)"
            if isinstance(content, list) and not all(_good_part(p) for p in content):
                return None, 11101, "Parse message failed: 11101:invalid request (content part)"
        effort = body.get("reasoning_effort")
        if isinstance(effort, str) and effort.lower() in ("none", "off"):
            return None, 11150, "reasoning_effort value is not supported by this model"
        return None

    def _directives(self, req: _Request, body: Any) -> tuple[dict[str, Any], str, int]:
        """Merged directives, the cleaned last user text and its image count."""
        d = dict(self._fault)
        header = req.headers.get("x-fake-fault")
        if header:
            d.update(parse_fault(header))
        text, images = "", 0
        msgs = body.get("messages") if isinstance(body, dict) else None
        if isinstance(msgs, list):
            for m in reversed(msgs):
                if isinstance(m, dict) and m.get("role") == "user":
                    raw = _text_of(m.get("content"))
                    images = _images_in(m.get("content"))
                    d.update(_parse_tokens(_TOKEN_RE.findall(raw)))
                    if "PARALLEL" in raw:
                        d.setdefault("parallel", True)
                    text = _STRIP_RE.sub("", raw).strip()
                    break
        return d, text, images

    async def _chat(self, req: _Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        keep = req.keep_alive
        try:
            body: Any = json.loads(req.body)
        except ValueError:
            body = None
        self._record(RequestRecord(req.method, req.path, dict(req.headers), body))
        try:
            d, text, images = self._directives(req, body)
        except ValueError as exc:
            return await self._send_json(
                writer, 400, {"code": 400, "msg": f"bad fake directive: {exc}"}, keep_alive=keep
            )

        # proxy-level faults
        if d.get("reset"):
            _abort(writer)
            return False
        if "slow" in d:
            await self._sleep(d["slow"], reader, writer)
        if "redirect" in d:
            return await self._send(writer, 307, b"", keep_alive=keep, extra=[("Location", d["redirect"])])
        if "html" in d:
            page = _HTML_PAGE.format(s=d["html"], p=_phrase(d["html"])).encode()
            return await self._send(writer, d["html"], page, keep_alive=keep, content_type="text/html")
        if "http" in d:
            status = d["http"]
            extra = [("Retry-After", str(d.get("retry_after", 7)))] if status == 429 else []
            obj = {"code": status, "msg": _phrase(status), "requestId": str(uuid.uuid4())}
            return await self._send_json(writer, status, obj, keep_alive=keep, extra=extra)

        why = self._auth_error(req.headers)
        if why is not None:
            obj = {
                "code": 401,
                "msg": f"unauthorized: {why}",
                "requestId": str(uuid.uuid4()),
                "displayMsg": {"en": f"unauthorized: {why}", "zh": "未授权：API 密钥无效或缺失"},
            }
            return await self._send_json(writer, 401, obj, keep_alive=keep)

        status = d.get("status", 200)
        if "code" in d:
            return await self._business_error(writer, status, d["code"], None, keep)
        if "nested" in d:
            nested_status = d.get("status", 403)
            msg = _business_message(d["nested"])[0]
            obj = {
                "error": {"code": -32603, "message": msg, "data": {"code": d["nested"], "statusCode": nested_status}}
            }
            return await self._send_json(writer, nested_status, obj, keep_alive=keep)

        failed = self._validate(body)
        if failed is not None:
            forced, code, msg = failed
            if forced is not None:
                obj = {"code": code, "msg": msg, "requestId": str(uuid.uuid4())}
                return await self._send_json(writer, forced, obj, keep_alive=keep)
            return await self._business_error(writer, status, code, msg, keep)

        model = d.get("model") or body["model"]
        ctx = _Ctx(d=d, body=body, model_json=_enc(model), rid=uuid.uuid4().hex[:12] + "_")
        return await self._stream(ctx, text, images, reader, writer, keep)

    # ------------------------------------------------------------------------------------------------- stream

    def _chunk(self, ctx: _Ctx, delta: str) -> str:
        ctx.seq += 1
        if ctx.role_sent:
            role = '""'
        else:
            role = '"assistant"'
            ctx.role_sent = True
        return (
            '{"id":"resp_' + ctx.rid + str(ctx.seq) + '","model":' + ctx.model_json
            + ',"object":"response","choices":[{"delta":{"role":' + role + "," + delta + '},"finish_reason":""}]}'
        )  # fmt: skip

    def _content(self, ctx: _Ctx, text: str) -> str:
        return self._chunk(ctx, '"content":' + _enc(text) + ',"refusal":"","tool_calls":[]')

    def _events(self, ctx: _Ctx, text: str, images: int) -> Iterator[tuple[int, str]]:
        """(is_reasoning, payload) for every event before the finish chunk."""
        d, body = ctx.d, ctx.body
        if body.get("reasoning_effort") is not None:
            for piece in _words("Thinking about: " + text):
                yield 1, self._chunk(ctx, '"reasoning_content":' + _enc(piece) + ',"refusal":"","tool_calls":[]')
        if "size" in d:
            yield 0, self._content(ctx, "x" * d["size"])
            return
        if "events" in d:
            for k in range(d["events"]):
                yield 0, self._content(ctx, f"w{k} ")
            return
        msgs: list[dict[str, Any]] = body["messages"]
        tools = body.get("tools")
        if isinstance(tools, list) and tools and body.get("tool_choice") != "none" and msgs[-1].get("role") == "user":
            chosen = (
                tools
                if d.get("parallel") and len(tools) > 1 and body.get("parallel_tool_calls") is not False
                else tools[:1]
            )
            for i, tool in enumerate(chosen):
                name, params = _tool_function(tool)
                args = _arguments_for(params)
                half = max(1, len(args) // 2)
                call_id = f"tooluse_{ctx.rid}{i}"
                deltas = (
                    {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}},
                    {"index": 0, "id": call_id, "type": "function", "function": {"name": "", "arguments": args[:half]}},
                    {"index": 0, "function": {"arguments": args[half:]}},
                )
                for delta in deltas:
                    yield 0, self._chunk(ctx, '"tool_calls":' + json.dumps([delta]))
            ctx.finish = "tool_calls"
            return
        if msgs[-1].get("role") == "tool":
            results: list[str] = []
            for m in reversed(msgs):
                if m.get("role") != "tool":
                    break
                results.append(_text_of(m.get("content")))
            answer = "Tool results: " + "; ".join(reversed(results))
        else:
            answer = "Echo: " + text + (f" [images: {images}]" if images else "")
        for piece in _words(answer):
            yield 0, self._content(ctx, piece)

    def _usage(self, ctx: _Ctx, completion: int, reasoning: int) -> dict[str, Any] | None:
        mode = ctx.d.get("usage", "basic")
        if mode == "none":
            return None
        msgs: list[dict[str, Any]] = ctx.body["messages"]
        prompt = sum(len(_text_of(m.get("content")).split()) + 4 for m in msgs)
        total = prompt + completion
        if mode == "basic":
            return {"total_tokens": total, "credit": 0.01}
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": total,
            "completion_tokens_details": {"reasoning_tokens": reasoning},
            "prompt_tokens_details": {"cached_tokens": min(ctx.d.get("cached", 0), prompt)},
            "credit": 0.01,
        }
        if mode == "thinking":
            usage["completion_thinking_tokens"] = reasoning
        return usage

    def _finish(self, ctx: _Ctx, completion: int, reasoning: int) -> str:
        ctx.seq += 1
        usage = self._usage(ctx, completion, reasoning)
        tail = "" if usage is None else ',"usage":' + json.dumps(usage)
        return (
            '{"id":"resp_' + ctx.rid + str(ctx.seq) + '","choices":[{"delta":{"content":""},"finish_reason":'
            + _enc(ctx.finish) + "}]" + tail + "}"
        )  # fmt: skip

    async def _stream(
        self,
        ctx: _Ctx,
        text: str,
        images: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        keep: bool,
    ) -> bool:
        d = ctx.d
        if _gone(reader, writer):
            raise _Gone
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"Transfer-Encoding: chunked\r\nServer: fake-codebuddy\r\nConnection: "
            + (b"keep-alive" if keep else b"close")
            + b"\r\n\r\n"
        )
        out = _SSE(reader, writer, d)
        pace: float = d.get("pace", 0.0)
        stall: float | None = d.get("stall")
        cut = d.get("cut")
        midstream = d.get("midstream")
        limit: int | None = None
        if cut is not None:
            limit = 3 if cut == "reset" else int(cut)
        elif midstream is not None:
            limit = 3
        count = reasoning = 0
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            for is_reasoning, payload in self._events(ctx, text, images):
                if limit is not None and count >= limit:
                    break
                if count and pace:
                    # absolute schedule: event k goes out at start + k * pace, no drift from our own overhead
                    await asyncio.sleep(max(0.0, start + count * pace - loop.time()))
                out.event(payload)
                count += 1
                reasoning += is_reasoning
                if count == 1:
                    if d.get("garbage"):
                        out.raw(b"data: {not json" + out.nl + out.nl + b"data: \xff\xfe" + out.nl + out.nl)
                    if stall:
                        await out.flush()
                        await self._sleep(stall, reader, writer)
                        start += stall
                if pace or out.size >= _FLUSH_BYTES:
                    await out.flush()
            if cut is not None:
                if cut == "reset":
                    await out.flush()
                    await asyncio.sleep(0.05)
                    _abort(writer)
                    return False
                await out.flush(last=True)
                return keep
            if midstream is not None:
                if midstream == "error":
                    err: dict[str, Any] = {"error": {"message": "upstream model error", "type": "server_error"}}
                else:
                    err = {"code": midstream, "msg": _business_message(midstream)[0], "requestId": str(uuid.uuid4())}
                out.event(json.dumps(err, ensure_ascii=False))
                await out.flush(last=True)
                return keep
            if pace and count:
                await out.flush()
                await asyncio.sleep(max(0.0, start + count * pace - loop.time()))
            if not d.get("nofinish"):
                out.event(self._finish(ctx, count, reasoning))
            if not d.get("nodone"):
                out.raw(b"data: [DONE]" + out.nl + out.nl)
            await out.flush(last=True)
            return keep
        except _Gone:
            self.disconnects += 1
            logger.debug("client abandoned the stream after %d events", count)
            return False

    # ------------------------------------------------------------------------------------- login and discovery

    def issue_token(self, expires_in: int | None = None) -> tuple[str, str]:
        """A new (access token, refresh token) pair, accepted as a key until it expires."""
        access, refresh = "at_" + uuid.uuid4().hex, "rt_" + uuid.uuid4().hex
        life = self.token_expires_in if expires_in is None else expires_in
        self.tokens[access] = time.time() + (86400 if life is None else life)
        self._refresh_tokens[refresh] = access
        return access, refresh

    def _token_answer(self) -> dict[str, Any]:
        access, refresh = self.issue_token()
        data: dict[str, Any] = {"accessToken": access, "refreshToken": refresh, "tokenType": "Bearer"}
        if self.token_expires_in is not None:
            data["expiresIn"] = self.token_expires_in
        return {"code": 0, "msg": "OK", "data": data}

    def _discovery_entries(self, personal: bool) -> list[dict[str, Any]]:
        entries = self.models_live if self.models_live is not None else sorted(self.models)
        out = []
        for entry in entries:
            item = dict(entry) if isinstance(entry, dict) else {"id": str(entry)}
            item.setdefault("name", item.get("id"))
            if not personal:  # /v3/config carries ids and names only
                item = {k: v for k, v in item.items() if k in ("id", "name")}
            out.append(item)
        return out

    async def _account(self, req: _Request, writer: asyncio.StreamWriter) -> bool:
        keep = req.keep_alive
        with self._lock:
            self.account_requests.append(RequestRecord(req.method, req.target, dict(req.headers), None))
        path, query = req.path, req.target.partition("?")[2]
        params = dict(p.partition("=")[::2] for p in query.split("&") if p)
        want = "POST" if path in ("/v2/plugin/auth/state", "/v2/plugin/auth/token/refresh") else "GET"
        if req.method != want:
            return await self._send_json(writer, 405, {"code": 405, "msg": "method not allowed"}, keep_alive=keep)
        obj: dict[str, Any]
        status = 200
        if path == "/v2/plugin/auth/state":
            state = uuid.uuid4().hex
            self._states[state] = 0
            data: dict[str, Any] = {"state": state, "authUrl": f"{self.url}/login?state={state}"}
            if self.login_interval is not None:
                data["interval"] = self.login_interval
            obj = {"code": 0, "msg": "OK", "data": data}
        elif path == "/v2/plugin/auth/token":
            state = params.get("state", "")
            if state not in self._states or self.login_expire:
                obj = {"code": 11218, "msg": "login state expired or unknown"}
            elif self.login_refuse:
                status, obj = 403, {"code": 403, "msg": "login refused by the user"}
            elif self._states[state] < self.login_pending_polls:
                self._states[state] += 1
                obj = {"code": 11217, "msg": "login pending: waiting for the user"}
            else:
                del self._states[state]
                obj = self._token_answer()
        elif path == "/v2/plugin/auth/token/refresh":
            old = req.headers.get("x-refresh-token", "")
            if self.refresh_fail or old not in self._refresh_tokens:
                status, obj = 401, {"code": 14015, "msg": "refresh token invalid or expired"}
            else:
                self.tokens.pop(self._refresh_tokens.pop(old), None)
                obj = self._token_answer()
        else:
            why = self._auth_error(req.headers)
            if why is not None:
                status, obj = 401, {"code": 401, "msg": f"unauthorized: {why}"}
            elif self.discovery_fail is True or (self.discovery_fail == "v3" and path == "/v3/config"):
                status, obj = 500, {"code": 500, "msg": "Internal Server Error"}
            elif path == "/v3/config":
                obj = {"code": 0, "msg": "OK", "data": {"models": self._discovery_entries(False)}}
            else:
                obj = {"code": 0, "msg": "OK", "data": self._discovery_entries(True)}
        return await self._send_json(writer, status, obj, keep_alive=keep)


# ------------------------------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    """``python -m litellm_codebuddy.fake``: serve until SIGINT/SIGTERM, print the URL line first."""
    parser = argparse.ArgumentParser(prog="python -m litellm_codebuddy.fake", description="Fake CodeBuddy gateway")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", default=None, help="the only accepted API key (default: any ck_... key)")
    parser.add_argument("--fault", default=None, help="directives applied to every request, e.g. 'pace=0.01'")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    fake = FakeCodeBuddy(args.host, args.port, args.key, max_requests=0)
    if args.fault:
        try:
            fake.set_fault(args.fault)
        except ValueError as exc:
            parser.error(f"--fault: {exc}")

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, fake.request_stop)
        await fake.serve(on_ready=lambda: print(f"FAKE_CODEBUDDY_URL={fake.base_url}", flush=True))

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
