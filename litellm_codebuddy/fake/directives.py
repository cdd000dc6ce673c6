"""Fault directives: how a test tells the fake to misbehave.

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
  ``parallel``        parallel tool calls (see ``answer``); "PARALLEL" in the user text does the same
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
  ``burst``           buffer events and write many in one HTTP chunk (up to 64 KB, or one per ``pace``); by
                      default each SSE event is its own HTTP chunk (see ``stream``)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .messages import images_in, text_of

__all__ = ["parse_fault", "request_directives"]


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
    "burst": _flag,
}

_TOKEN_RE = re.compile(r"FAKE:([A-Za-z_]+)(?:=(\S*))?")
_STRIP_RE = re.compile(r"\s*FAKE:[A-Za-z_]+(?:=\S*)?")


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


def request_directives(
    fault: Mapping[str, Any], headers: Mapping[str, str], body: Any
) -> tuple[dict[str, Any], str, int]:
    """The directives for one request (``set_fault``'s, the header's, the last user message's, in that order of
    increasing precedence), the last user message's text without its directive tokens, and its image count.
    Raises ValueError for a bad directive."""
    d = dict(fault)
    header = headers.get("x-fake-fault")
    if header:
        d.update(parse_fault(header))
    text, images = "", 0
    msgs = body.get("messages") if isinstance(body, dict) else None
    if isinstance(msgs, list):
        for m in reversed(msgs):
            if isinstance(m, dict) and m.get("role") == "user":
                raw = text_of(m.get("content"))
                images = images_in(m.get("content"))
                d.update(_parse_tokens(_TOKEN_RE.findall(raw)))
                if "PARALLEL" in raw:
                    d.setdefault("parallel", True)
                text = _STRIP_RE.sub("", raw).strip()
                break
    return d, text, images
