"""Map CodeBuddy's failures onto LiteLLM's exception classes.

Every error this package raises is one of LiteLLM's classes, so retries, fallbacks and the proxy's status
codes work. Each one built from the gateway's answer carries what the gateway said as ``exc.codebuddy``
(:class:`Upstream`: HTTP status, business code, request id, the gateway's words), which the command line reads;
:data:`CODES` is the one table of business codes (status, meaning, advice). Exceptions never carry the upstream
request (its headers hold the API key): responses attached to them are rebuilt from status, a few safe headers
and the body only, and every message is redacted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import httpx
import litellm

from ..endpoint import BASE_ENV, KEY_ENV, KEYS_URL, PROVIDER, redact, redact_headers

__all__ = [
    "CODES",
    "Code",
    "Upstream",
    "error_from_body",
    "error_from_response",
    "is_error_body",
    "status_error",
    "transport_error",
    "undecodable_stream",
    "upstream_of",
]


@dataclass(frozen=True)
class Code:
    """What one business code means: the HTTP status the caller gets, plain words, and what to do about it."""

    status: int
    meaning: str
    hint: str | None = None


_PLAN = "check your plan and credits at https://www.codebuddy.ai, or wait for them to renew"
_RATE = "wait until the reset time in the message (UTC+8), or use another model"
_NO_PLAN = (
    "the account has no usable plan, so retrying will not help: activate the trial or renew the plan at "
    "https://www.codebuddy.ai, or use another account's key"
)

#: business code -> its meaning (one table: the provider's messages and the command line's advice)
CODES: dict[int, Code] = {
    11101: Code(
        400,
        "the gateway rejected the request as invalid (missing system message, non-stream request, "
        "or an unsupported parameter shape such as an object tool_choice)",
        "this provider normally shapes requests so this does not happen: please report it with the requestId",
    ),
    11102: Code(
        400,
        "no service is configured for this model id on your account: check the model name",
        "check the model id; `litellm-codebuddy models --live` lists the ids your account offers",
    ),
    11128: Code(
        400,
        "the gateway refused the request as illegal (first message not a system prompt, or a system "
        "prompt the gateway takes for an unapproved client); the prompt was sent as you wrote it",
        "if your system prompt names another coding tool (Claude Code, Cursor, Cline, ...), reword it; otherwise "
        "report it with the requestId",
    ),
    11133: Code(400, "invalid message sequence or parameter (for example two consecutive assistant messages)"),
    11134: Code(
        503,
        "the model's upstream provider is temporarily unavailable; retry later",
        "the model's upstream is down for now: retry later or pick another model",
    ),
    11140: Code(
        403,
        "refused by CodeBuddy's account risk control or content safety check",
        "CodeBuddy's risk control or content check refused it: rephrase the request, or check your account at "
        "https://www.codebuddy.ai (contact CodeBuddy support if it persists)",
    ),
    11148: Code(400, "broken tool-call sequence: a tool result does not answer a preceding assistant tool call"),
    11150: Code(400, "this reasoning_effort value is not supported by the model"),
    11151: Code(400, "a message has empty content (or an assistant message carries reasoning)"),
    11141: Code(
        404,
        "this model is deprecated and no longer served",
        "pick another model; `litellm-codebuddy models --live` lists the ids your account offers (a Router with "
        "fallbacks moves on by itself)",
    ),
    14017: Code(403, "the account's trial has not been activated: it has no usable plan", _NO_PLAN),
    **{
        c: Code(403, "the account's license or trial has expired: it has no usable plan", _NO_PLAN)
        for c in (11212, 11216)
    },
    14015: Code(
        401,
        "the login has expired: create a new key or log in again",
        f"create a new key at {KEYS_URL}, or run `litellm-codebuddy login` again",
    ),
    14018: Code(
        429,
        "the account is out of credits: top up or wait for the plan to renew",
        "top up credits or wait for your plan to renew (https://www.codebuddy.ai)",
    ),
    14003: Code(429, "the model is temporarily limited for this account; retry later", _PLAN),
    **{
        c: Code(429, "credits or plan exhausted for this account", _PLAN)
        for c in (14001, 14002, 14012, 14013, 14014, 14019)
    },
    **{
        c: Code(429, "rate limit reached for this account and model; see the reset time in the message", _RATE)
        for c in range(6000, 6009)
    },
}
CODES[6004] = Code(
    429,
    "frequency limit reached (a per-account, per-model cap); it resets at the time named in the message (UTC+8)",
    _RATE,
)


@dataclass(frozen=True)
class Upstream:
    """What the gateway said, carried by every exception built from its answer (as ``exc.codebuddy``).

    ``http_status`` is the status the gateway answered with (200 for an error inside a stream), ``status`` the one
    the caller gets; ``code`` the business code (None when the body had none); ``text`` the gateway's own words,
    redacted; ``known`` the entry of :data:`CODES`, if any.
    """

    http_status: int
    status: int
    code: int | None = None
    text: str = ""
    request_id: str | None = None

    @property
    def known(self) -> Code | None:
        return CODES.get(self.code) if self.code is not None else None


def upstream_of(exc: BaseException) -> Upstream | None:
    """The :class:`Upstream` of a provider exception, looking through LiteLLM's ``MidStreamFallbackError``."""
    for candidate in (exc, getattr(exc, "original_exception", None)):
        found = getattr(candidate, "codebuddy", None)
        if isinstance(found, Upstream):
            return found
    return None


_STATUS_WORDS = {
    400: "bad request",
    401: f"the API key was refused: check {KEY_ENV} (keys come from {KEYS_URL})",
    402: "the account's balance is exhausted",
    403: "permission denied",
    404: "not found: check api_base and the model id",
    408: "the gateway timed out",
    429: "rate limited",
    500: "CodeBuddy internal error",
    502: "bad gateway: CodeBuddy's front end could not reach its backend",
    503: "CodeBuddy is temporarily unavailable",
    504: "CodeBuddy's gateway timed out",
}

_SAFE_HEADERS = ("retry-after", "content-type", "x-request-id")
_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")


def _clean_snippet(raw: str, limit: int = 200) -> str:
    text = _SPACES.sub(" ", _TAGS.sub(" ", raw)).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def status_error(
    status: int,
    message: str,
    model: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    *,
    upstream: Upstream | None = None,
    secrets: tuple[str | None, ...] = (),
) -> Exception:
    """The LiteLLM exception for an HTTP status (as the caller should see it), carrying ``upstream`` as
    ``.codebuddy``. Only a few safe response headers are attached, with every secret removed (an upstream may
    echo the key)."""
    safe = {k: v for k, v in redact_headers(headers or {}, *secrets).items() if k.lower() in _SAFE_HEADERS}
    exc = _exception(status, message, model, safe, body)
    exc.codebuddy = upstream or Upstream(http_status=status, status=status)  # type: ignore[attr-defined]
    return exc


def _exception(status: int, message: str, model: str, safe: dict[str, str], body: bytes) -> Exception:
    response = httpx.Response(
        status, headers=safe, content=body, request=httpx.Request("POST", "https://codebuddy.invalid")
    )
    common: dict[str, Any] = {"message": message, "model": model, "llm_provider": PROVIDER}
    if status == 400:
        return litellm.BadRequestError(response=response, **common)
    if status == 401:
        return litellm.AuthenticationError(response=response, **common)
    if status == 403:
        return litellm.PermissionDeniedError(response=response, **common)
    if status == 404:
        return litellm.NotFoundError(response=response, **common)
    if status == 408:
        return litellm.Timeout(**common)
    if status in (402, 429):
        retry_after = next((v for k, v in safe.items() if k.lower() == "retry-after"), None)
        return litellm.RateLimitError(
            response=response, headers={"retry-after": retry_after} if retry_after else None, **common
        )
    if status == 422:
        return litellm.UnprocessableEntityError(response=response, **common)
    if status in (502, 503, 504):
        return litellm.ServiceUnavailableError(response=response, **common)
    if status >= 500:
        return litellm.InternalServerError(response=response, **common)
    if 400 <= status < 500:
        return litellm.BadRequestError(response=response, **common)
    return litellm.APIError(
        status_code=status if status >= 400 else 500, message=message, model=model, llm_provider=PROVIDER
    )


def _innermost(body: dict[str, Any]) -> tuple[int | None, str, str | None, int | None]:
    """(code, message, requestId, nested statusCode) from a flat or nested CodeBuddy error body."""
    code = body.get("code")
    msg = body.get("msg") or body.get("message") or ""
    request_id = body.get("requestId") or body.get("request_id")
    nested_status: int | None = None
    err = body.get("error")
    if isinstance(err, dict):
        data = err.get("data")
        if isinstance(data, dict) and data.get("code") is not None:
            code = data.get("code")
            msg = data.get("msg") or data.get("message") or err.get("message") or msg
            nested_status = data.get("statusCode") if isinstance(data.get("statusCode"), int) else None
        else:
            code = err.get("code", code)
            msg = err.get("message") or err.get("msg") or msg
        request_id = request_id or err.get("requestId")
    elif isinstance(err, str):
        msg = err
    ext = body.get("extError")
    if isinstance(ext, dict) and ext.get("param"):
        msg = f"{msg} (parameter: {ext['param']})"
    try:
        code_int = int(code) if code is not None else None
    except (TypeError, ValueError):
        code_int = None
    return code_int, str(msg), request_id, nested_status


def is_error_body(body: Any) -> bool:
    """True for ``{code != 0, msg}`` and ``{error: ...}`` objects (as opposed to chat chunks)."""
    if not isinstance(body, dict) or "choices" in body:
        return False
    if body.get("error"):
        return True
    code = body.get("code")
    return code not in (None, 0, "0") and ("msg" in body or "message" in body)


def error_from_body(
    body: dict[str, Any],
    http_status: int,
    model: str,
    headers: dict[str, str] | None = None,
    *,
    secrets: tuple[str | None, ...] = (),
) -> Exception:
    code, msg, request_id, nested_status = _innermost(body)
    msg = redact(msg, *secrets)
    parts = ["CodeBuddy"]
    known = CODES.get(code) if code is not None else None
    if known is not None:
        status = known.status
        parts.append(f"error {code}: {known.meaning}.")
    else:
        status = http_status if http_status >= 400 else (nested_status or 500)
        meaning = _STATUS_WORDS.get(status, "")
        parts.append(f"error {code}:" if code is not None else f"HTTP {http_status}:")
        if meaning:
            parts.append(f"{meaning}.")
    if msg:
        parts.append(f"Upstream said: {msg!r}.")
    if request_id:
        parts.append(f"requestId={request_id}.")
    message = redact(" ".join(parts), *secrets)
    upstream = Upstream(http_status, status, code, msg, redact(str(request_id), *secrets) if request_id else None)
    return status_error(
        status,
        message,
        model,
        headers,
        redact(json.dumps(body), *secrets).encode(),
        upstream=upstream,
        secrets=secrets,
    )


def error_from_response(
    status: int, headers: dict[str, str], content: bytes, model: str, *, secrets: tuple[str | None, ...] = ()
) -> Exception:
    """The exception for a non-streaming error answer: JSON bodies by their code, anything else by status."""
    text = content.decode("utf-8", "replace")
    try:
        body = json.loads(text) if text.strip() else None
    except ValueError:
        body = None
    if isinstance(body, dict) and (is_error_body(body) or status >= 400):
        return error_from_body(body, status, model, headers, secrets=secrets)
    if 300 <= status < 400:
        location = next((v for k, v in headers.items() if k.lower() == "location"), "") or "(no Location header)"
        message = (
            f"CodeBuddy HTTP {status}: a redirect to {redact(location, *secrets)[:200]}. Redirects are not followed, "
            f"so neither the request nor the API key was sent there; check api_base (or {BASE_ENV})"
        )
        return status_error(502, message, model, headers, upstream=Upstream(status, 502), secrets=secrets)
    words = _STATUS_WORDS.get(status, "unexpected answer")
    text = redact(text, *secrets)  # before the snippet is cut, so no part of a key survives the cut
    snippet = _clean_snippet(text) if text.strip() else "(empty body)"
    message = redact(f"CodeBuddy HTTP {status}: {words}. Body: {snippet}", *secrets)
    caller_status = status if status >= 400 else 502
    upstream = Upstream(status, caller_status, text=snippet)
    return status_error(caller_status, message, model, headers, upstream=upstream, secrets=secrets)


def _describe(exc: BaseException) -> str:
    """``Name: text`` of a transport error; async httpx errors often have no text: look down the cause chain."""
    if isinstance(exc, httpx.TimeoutException):
        return f"{type(exc).__name__}: {exc or 'timed out'}"
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 8:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    text = next((str(e) for e in chain if str(e)), "") or "connection closed or reset by the peer"
    root = chain[-1]
    if root is not exc and str(root) and str(root) not in text:  # e.g. "All connection attempts failed"
        text += f" ({type(root).__name__}: {root})"
    return f"{type(exc).__name__}: {text}"


def transport_error(exc: Exception, model: str, url: str, timeout: httpx.Timeout, secret: str) -> Exception:
    """The LiteLLM exception for a failure to talk to the gateway: Timeout, or APIConnectionError."""
    detail = redact(_describe(exc), secret)
    if isinstance(exc, httpx.TimeoutException):
        return litellm.Timeout(
            message=f"CodeBuddy did not answer within the timeout ({timeout.read}s between bytes, "
            f"{timeout.connect}s to connect): {detail}",
            model=model,
            llm_provider=PROVIDER,
        )
    return litellm.APIConnectionError(
        message=f"could not talk to CodeBuddy at {url}: {detail}", llm_provider=PROVIDER, model=model
    )


def undecodable_stream(exc: Exception, model: str) -> Exception:
    """A stream whose bytes are not SSE the decoder can read (invalid UTF-8): a bad gateway answer."""
    return litellm.APIError(status_code=502, message=f"CodeBuddy stream: {exc}", llm_provider=PROVIDER, model=model)
