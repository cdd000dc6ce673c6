"""Fault directives: how a test tells the fake to misbehave.

Written in the last user message as ``FAKE:<name>`` or ``FAKE:<name>=<value>`` tokens (several allowed, e.g.
``"hello FAKE:events=2000 FAKE:pace=0.002"``; removed from the echo), or in an ``X-Fake-Fault`` request header
(``"events=2000 pace=0.002"``, space or comma separated, no ``FAKE:`` prefix), or by ``set_fault(spec)`` /
``--fault spec`` for every following request.  Precedence: message > header > ``set_fault``.  An unknown name or
a bad value answers HTTP 400 ``{"code":400,"msg":"bad fake directive: ..."}``.

:class:`Faults` is the one table of the directives: one typed field per directive, its value syntax, the value a
bare ``FAKE:<name>`` takes and its meaning; parsing is driven by it, and :func:`directive_rows` gives its rows
(name, value, meaning) for the documentation.  An unset directive is ``None`` (``False`` for a flag).  Stages:
``proxy`` directives act like a proxy in front of the gateway (before auth and the request checks), ``error``
ones come after auth and before the checks, ``answer`` ones shape what the stream holds (module ``answer``) and
``stream`` ones how and when it is written (modules ``stream`` and ``pacing``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .messages import images_in, text_of
from .refusals import REFUSALS

__all__ = ["DIRECTIVES", "Directive", "Faults", "directive_rows", "parse_faults", "request_directives"]

Stage = Literal["answer", "error", "proxy", "stream"]


# ------------------------------------------------------------------------------------------------ value readers


def _flag(value: str) -> bool:
    return True  # a flag's value, if any, is ignored


def _seconds(value: str) -> float:
    result = float(value)
    if not result >= 0:
        raise ValueError("must be >= 0")
    return result


def _status(value: str) -> int:
    result = int(value)
    if not 100 <= result <= 599:
        raise ValueError("not an HTTP status")
    return result


def _text(value: str) -> str:
    return value


def _usage(value: str) -> str:
    if value not in ("basic", "full", "thinking", "none"):
        raise ValueError("usage must be basic, full, thinking or none")
    return value


def _refusal(value: str) -> str:
    if value not in REFUSALS:
        raise ValueError(f"refuse must be one of {', '.join(REFUSALS)}")
    return value


def _retry_policy(value: str) -> str:
    if value not in ("false", "true", "other"):
        raise ValueError("retry_policy must be false, true or other")
    return value


def _cut(value: str) -> int | str:
    return "reset" if value == "reset" else int(value)


def _midstream(value: str) -> int | str:
    return "error" if value == "error" else int(value)


def _parallel(value: str) -> str:
    if value not in ("index", "zero"):
        raise ValueError("parallel must be index or zero")
    return value


def _directive(
    stage: Stage,
    value: str,
    meaning: str,
    read: Callable[[str], object],
    *,
    default: object = None,
    unset: object = None,
) -> Any:
    """A field of :class:`Faults` with its directive's description (``default``: the value of ``FAKE:<name>``
    without ``=value``; None: a value is required)."""
    meta = {"stage": stage, "value": value, "meaning": meaning, "read": read, "default": default}
    return dataclasses.field(default=unset, metadata=meta)


def _flag_directive(stage: Stage, meaning: str) -> Any:
    return _directive(stage, "", meaning, _flag, default=True, unset=False)


# ------------------------------------------------------------------------------------------------------ the table


@dataclass(frozen=True)
class Faults:
    """The directives in force for one request (or set by ``set_fault``): the table of every directive."""

    # answer shaping
    events: int | None = _directive(
        "answer", "N", "exactly N content events `w0 `, `w1 `, ... instead of the echo", int, default=10
    )
    size: int | None = _directive(
        "answer", "BYTES", 'one content event of BYTES `"x"` characters (10 MB is fine)', int, default=1024
    )
    model: str | None = _directive("answer", "X", "the chunks name model X instead of the requested one", _text)
    usage: str | None = _directive(
        "answer",
        "basic, full, thinking or none",
        "`basic` (also when unset): `total_tokens` and `credit` (and `prompt_cache_hit_tokens` for a request with "
        "a `prompt_cache_key`); `full`: prompt, completion and total tokens, "
        "`completion_tokens_details.reasoning_tokens`, `prompt_tokens_details.cached_tokens` and "
        "`cache_write_tokens`, `prompt_cache_hit_tokens`, `prompt_cache_miss_tokens`; `thinking`: `full` and "
        "`completion_thinking_tokens`; `none`: no usage",
        _usage,
        default="basic",
    )
    cached: int | None = _directive(
        "answer",
        "N",
        "report (and bill) N prompt tokens read from the cache instead of what the prompt cache read (unset: the "
        "cache's own count, 0 without a `prompt_cache_key`)",
        int,
        default=0,
    )
    parallel: str | None = _directive(
        "answer",
        "index or zero (default index)",
        "call every tool: `index` gives each call its own `index` (0, 1, ...), which the official client needs; "
        '`zero` sends them all with `"index":0`, told apart only by their ids (peer reports); "PARALLEL" in the '
        "user text is `index`",
        _parallel,
        default="index",
    )
    finish: str | None = _directive(
        "answer", "REASON", "the finishing chunk's `finish_reason` (e.g. `content_filter` after the answer)", _text
    )
    # errors before the stream
    code: int | None = _directive(
        "error",
        "N",
        "business error `{code,msg,...}` with the code's message (6004 in Chinese with a reset time, 14018 out of "
        "credits, ...) under the code's status (`codes.STATUSES`: 429 for limits, 403 for refusals, ...) or "
        "`status=`'s",
        int,
        default=11101,
    )
    status: int | None = _directive(
        "error",
        "N",
        "the HTTP status of business errors (`code=` and the request checks; unset: the code's own status for "
        "`code=`, as `codes.STATUSES` says, and 200 for the request checks)",
        _status,
    )
    nested: int | None = _directive(
        "error",
        "N",
        '`{"error":{"code":-32603,"message":...,"data":{"code":N,"statusCode":S}}}`, S the HTTP status from '
        "`status=` (unset: 403)",
        int,
        default=14018,
    )
    refuse: str | None = _directive(
        "error",
        "NAME",
        "a refusal or limit as the field reports show it, under its reported HTTP status (`status=` overrides): "
        "`softblock` (a 200 stream whose whole content is the content-safety notice, finished `content_filter`), "
        "`softblock400`, `channel` and `illegal` (11128), `toolong`, `toolong4028` and `inputlong` (context too "
        "long), `limit` and `limit_en` (6004 with a reset time an hour ahead, UTC+8), `busy` (11140 rate limit), "
        "`safety` (11140), `credits` (11114), `session` (12153), `backend` (11103), `image` (11135), `plan` (1005), "
        "`moderation` and `moderation500` (the JSON-RPC moderation envelope under 400 or 500), `channel500` (11128 "
        "under 500); the table is `REFUSALS` in `refusals`",
        _refusal,
        default="softblock",
    )
    retry_policy: str | None = _directive(
        "error",
        "false, true or other",
        "the error body (`code=`, `nested=`, `refuse=`, a limited key's) carries `retry_policy`: `false` "
        '`{"retry": false}` (no retry, no fallback), `true` `{"retry": true}`, `other` `{"maxRetries": 3}` (any '
        "other object: retries asked for)",
        _retry_policy,
        default="false",
    )
    ratelimit_reset: float | None = _directive(
        "error",
        "SECONDS",
        "the error answer carries `x-ratelimit-reset`: the epoch seconds SECONDS from now",
        _seconds,
        default=5.0,
    )
    for_model: str | None = _directive(
        "error",
        "X",
        "`code=`, `nested=` and `refuse=` apply only to requests for model X: another model (a fallback) is answered "
        "as usual",
        _text,
    )
    http: int | None = _directive(
        "proxy", "N", 'HTTP status N with `{"code":N,"msg":...}`; 429 adds `Retry-After`', _status, default=500
    )
    retry_after: str | None = _directive(
        "proxy",
        "S",
        "the `Retry-After` value for `http=429` (unset: 7), and for `code=`, `nested=` and `refuse=` errors under "
        "HTTP 429 (unset: none)",
        _text,
    )
    html: int | None = _directive(
        "proxy", "N", "HTTP status N with an nginx-style HTML page, `Content-Type: text/html`", _status, default=502
    )
    redirect: str | None = _directive("proxy", "URL", "307 with `Location: URL`", _text)
    reset: bool = _flag_directive("proxy", "close the connection abruptly (RST) before any response byte")
    slow: float | None = _directive(
        "proxy", "SECONDS", "wait before sending the response headers", _seconds, default=1.0
    )
    # the stream: pacing and faults
    pace: float | None = _directive(
        "stream", "SECONDS", "one event every SECONDS (absolute schedule, no drift)", _seconds, default=0.01
    )
    jitter: float | None = _directive(
        "stream",
        "SECONDS",
        "shift each event's time (after the first) by a pseudo-random amount in [-SECONDS, +SECONDS], seeded by "
        "the request body (same body, same schedule), never before the previous event",
        _seconds,
    )
    stall: float | None = _directive(
        "stream", "SECONDS", "send the headers and the first event, then wait before the rest", _seconds, default=1.0
    )
    cut: int | str | None = _directive(
        "stream",
        "N or reset",
        "after N content events end the chunked body cleanly: no finish_reason, no `[DONE]`; `reset`: after 3 "
        "content events reset the TCP connection (RST) mid-body",
        _cut,
        default=3,
    )
    nofinish: bool = _flag_directive("stream", "content events and `[DONE]` but no finish_reason chunk")
    nodone: bool = _flag_directive("stream", "the finish chunk but no `[DONE]`")
    midstream: int | str | None = _directive(
        "stream",
        "N or error",
        'after 3 content events `data: {"code":N,"msg":...}` (`error`: `data: {"error":{"message":...,'
        '"type":"server_error"}}`), then the body ends (no `[DONE]`)',
        _midstream,
        default="error",
    )
    garbage: bool = _flag_directive(
        "stream",
        r"after the first event: `data: {not json` and `data: \xff\xfe` (invalid UTF-8), then the rest as usual",
    )
    crlf: bool = _flag_directive("stream", r"`\r\n` line endings")
    comments: bool = _flag_directive("stream", "a `: keep-alive` comment block before every event")
    multiline: bool = _flag_directive(
        "stream", "every JSON payload split over two `data:` lines (the joined data is still valid JSON)"
    )
    burst: bool = _flag_directive(
        "stream",
        "buffer events and write many in one HTTP chunk (up to 64 KB, or one per paced event); without it each "
        "SSE event is its own HTTP chunk",
    )

    def over(self, base: Faults) -> Faults:
        """These directives laid over ``base``: every directive set here wins."""
        changes = {
            f.name: v for f in dataclasses.fields(self) if (v := getattr(self, f.name)) is not None and v is not False
        }
        return dataclasses.replace(base, **changes)

    @property
    def paced(self) -> bool:
        """Events go out on a schedule (``pace`` or ``jitter``), not as fast as they are made."""
        return bool(self.pace or self.jitter)


@dataclass(frozen=True)
class Directive:
    """One row of the table: a field of :class:`Faults`."""

    name: str
    stage: Stage
    value: str  # the value's syntax ("" for a flag)
    default: object  # the value of ``FAKE:<name>`` without ``=value`` (None: a value is required)
    meaning: str
    read: Callable[[str], object]


DIRECTIVES: tuple[Directive, ...] = tuple(
    Directive(f.name, **{k: f.metadata[k] for k in ("stage", "value", "default", "meaning", "read")})
    for f in dataclasses.fields(Faults)
)
_BY_NAME = {d.name: d for d in DIRECTIVES}


def directive_rows() -> list[tuple[str, str, str]]:
    """The table for the documentation: (name, value, meaning) per directive, in table order.  The value is its
    syntax, with the default where there is one: the value of ``FAKE:<name>`` written without ``=value``
    (``"N (default 10)"``); a flag's value is ``""``."""
    rows = []
    for d in DIRECTIVES:
        value = d.value
        if d.value and d.default is not None:
            value += f" (default {d.default})"
        rows.append((d.name, value, d.meaning))
    return rows


# --------------------------------------------------------------------------------------------------------- parsing

_TOKEN_RE = re.compile(r"FAKE:([A-Za-z_]+)(?:=(\S*))?")
_STRIP_RE = re.compile(r"\s*FAKE:[A-Za-z_]+(?:=\S*)?")


def _parse_tokens(tokens: Iterable[tuple[str, str | None]]) -> Faults:
    values: dict[str, Any] = {}
    for name, value in tokens:
        directive = _BY_NAME.get(name.lower())
        if directive is None:
            raise ValueError(f"unknown directive {name!r}")
        try:
            if value:
                values[directive.name] = directive.read(value)
            elif directive.default is None:
                raise ValueError("needs a value")
            else:
                values[directive.name] = directive.default
        except ValueError as exc:
            raise ValueError(f"{name}={value}: {exc}") from None
    return dataclasses.replace(Faults(), **values)


def parse_faults(spec: str) -> Faults:
    """Parse a directive spec without the ``FAKE:`` prefix, e.g. ``"code=6004 status=429"`` or ``"cut,crlf"``;
    raises ValueError for an unknown name or a bad value."""
    tokens: list[tuple[str, str | None]] = []
    for raw in re.split(r"[\s,]+", spec.strip()):
        if not raw:
            continue
        if raw.startswith("FAKE:"):
            raw = raw[5:]
        name, sep, value = raw.partition("=")
        tokens.append((name, value if sep else None))
    return _parse_tokens(tokens)


@dataclass(frozen=True)
class RequestDirectives:
    """One chat request's directives and its last user message (``text`` without the directive tokens)."""

    faults: Faults
    text: str
    images: int


def request_directives(base: Faults, headers: Mapping[str, str], body: Any) -> RequestDirectives:
    """The directives for one request: ``base`` (``set_fault``'s), the ``X-Fake-Fault`` header's, the last user
    message's, in that order of increasing precedence.  Raises ValueError for a bad directive."""
    faults = base
    header = headers.get("x-fake-fault")
    if header:
        faults = parse_faults(header).over(faults)
    text, images = "", 0
    msgs = body.get("messages") if isinstance(body, dict) else None
    if isinstance(msgs, list):
        for m in reversed(msgs):
            if isinstance(m, dict) and m.get("role") == "user":
                raw = text_of(m.get("content"))
                images = images_in(m.get("content"))
                faults = _parse_tokens(_TOKEN_RE.findall(raw)).over(faults)
                if "PARALLEL" in raw and faults.parallel is None:
                    faults = dataclasses.replace(faults, parallel="index")
                text = _STRIP_RE.sub("", raw).strip()
                break
    return RequestDirectives(faults, text, images)
