"""Map CodeBuddy's failures onto LiteLLM's exception classes.

Every error this package raises is one of LiteLLM's classes, so retries, fallbacks, cooldowns and the proxy's
status codes work. Each one built from the gateway's answer carries what the gateway said as ``exc.codebuddy``
(:class:`Upstream`: HTTP status, business code, request id, the gateway's words and its ``displayMsg.en``), which
the command line reads; :data:`CODES` is the one table of business codes (status, meaning, advice, and the LiteLLM
class beyond the status). Exceptions never carry the upstream request (its headers hold the API key): responses
attached to them are rebuilt from status, a few safe headers and the body only, and every message is redacted.

Refusals and limits become the exception whose LiteLLM machinery already knows what to do; the provider never
rewrites a prompt to get past a check and never retries a refused request itself:

- the content-safety soft block (:data:`SOFT_BLOCK_NOTICE`, as an error body or as the whole content of a stream)
  and 11128 ("unapproved channel", "request illegal") -> ``ContentPolicyViolationError``, so
  ``content_policy_fallbacks`` answer from another model;
- 11115 / 4028 and every error that says the prompt is too long -> ``ContextWindowExceededError`` (so
  ``context_window_fallbacks`` work), its message starting with Anthropic's words ``prompt is too long: N tokens >
  M maximum``, which Claude Code recognises through LiteLLM's ``/v1/messages`` bridge;
- a rate limit whose message names its reset time (6004: ``... reset at 2026-10-10 00:08:52 UTC+8 ...``) ->
  ``RateLimitError`` carrying ``Retry-After`` = the seconds until then, which a Router takes as the deployment's
  cooldown.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import litellm
from litellm.exceptions import MidStreamFallbackError

from ..endpoint import BASE_ENV, KEY_ENV, KEYS_URL, PROVIDER, redact, redact_headers

__all__ = [
    "CODES",
    "SOFT_BLOCK",
    "SOFT_BLOCK_NOTICE",
    "TOO_LONG",
    "Code",
    "Upstream",
    "entry_for",
    "error_from_body",
    "error_from_response",
    "is_error_body",
    "is_soft_block",
    "may_be_soft_block",
    "reset_delay",
    "routed_refusal",
    "soft_block_error",
    "status_error",
    "transport_error",
    "undecodable_stream",
    "upstream_of",
]

#: beyond its HTTP status, the LiteLLM class an answer becomes: the Router's fallback lists key on these
Kind = Literal["content_policy", "context_window"]


@dataclass(frozen=True)
class Code:
    """What one business code means: the HTTP status the caller gets, plain words, and what to do about it.

    ``kind`` picks ``ContentPolicyViolationError`` or ``ContextWindowExceededError`` (both status 400) instead of
    the status's own class. ``when`` holds more specific entries for messages containing a text (lower case):
    the first that matches is the code's meaning for that answer (11140 is a rate limit when it says so).
    """

    status: int
    meaning: str
    hint: str | None = None
    kind: Kind | None = None
    when: tuple[tuple[str, Code], ...] = ()

    def for_text(self, text: str) -> Code:
        low = text.lower()
        return next((entry for needle, entry in self.when if needle in low), self)


_PLAN = "check your plan and credits at https://www.codebuddy.ai, or wait for them to renew"
_RATE = (
    "wait until the reset time in the message (UTC+8), or use another model or key; a LiteLLM Router keeps this "
    "deployment aside until then (Retry-After) and sends the requests to the other deployments of its group"
)
_NO_PLAN = (
    "the account has no usable plan, so retrying will not help: activate the trial or renew the plan at "
    "https://www.codebuddy.ai, or use another account's key"
)
_OUT_OF_CREDITS = "top up credits or wait for your plan to renew (https://www.codebuddy.ai), or use another key"
_NEW_KEY = f"create a new key at {KEYS_URL}, or run `litellm-codebuddy login` again"

#: the content-safety soft block: the gateway's whole answer when its input check objects (HTTP 200 stream, or
#: HTTP 400 ``{"error":{"message": <this>}}``). An English rendering is not confirmed: see :func:`is_soft_block`.
SOFT_BLOCK_NOTICE = "抱歉，系统检测到您当前输入的信息存在敏感内容，我无法响应您的请求，请检查后重新输入。"

#: the soft block has no business code: this is its entry (what the caller and the command line are told)
SOFT_BLOCK = Code(
    400,
    "the gateway's content-safety check refused the input (it answered with its notice instead of an answer); "
    "the notice was not handed on as content",
    "a content-policy fallback to another model answers it (Router or proxy `content_policy_fallbacks`); the "
    "check is reported to react to whole prompts (security wording, very large tool lists), so rewording the "
    "request or trimming the tools may also help",
    kind="content_policy",
)

#: an error without a known code whose words say the prompt is too long (e.g. "input length too long")
TOO_LONG = Code(
    400,
    "the conversation is longer than the model's context window",
    "use a model with a larger window (a Router or proxy `context_window_fallbacks`), or shorten the conversation "
    "(Claude Code compacts it by itself on this error)",
    kind="context_window",
)

_CHANNEL = Code(
    400,
    "the gateway refused the request as illegal: it blocks fixed phrases in system and assistant text (such as "
    "the opening sentences of Claude Code's and Codex CLI's built-in prompts) as an unapproved channel, and "
    "also a conversation whose first message is not the system prompt; the prompt was sent as written",
    "the same conversation fails on every CodeBuddy model and key while that text is in it (once it is in the "
    "history, every later turn fails): a content-policy fallback to a model of another provider answers it, or "
    "give the agent a system prompt of your own; this provider never rewrites prompts to get past the check",
    kind="content_policy",
)

#: business code -> its meaning (one table: the provider's messages and the command line's advice). The status is
#: what LiteLLM's machinery should do with it: 400 not retried, 401/403 the key or account, 404 the model (a Router
#: moves on to its fallbacks), 429 a limit (a Router cools the deployment down and uses the others), 503 retried.
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
    # 11103: the id is known but its backend cannot serve this client: a problem of the model, not of the request,
    # so 404 like a deprecated model (a Router with fallbacks moves on to the next model)
    11103: Code(
        404,
        "the backend of this model is not supported for this account or client",
        "pick another model; `litellm-codebuddy models --live` lists the ids your account offers (a Router with "
        "fallbacks moves on by itself)",
    ),
    # 11114: reported under HTTP 400, but it is the account's credits, not the request: 429 like 14018, so a Router
    # sets this key aside and uses the other keys of the group
    11114: Code(429, "the account's credits are exhausted", _OUT_OF_CREDITS),
    # 11115 (and 4028 on some models): the conversation does not fit; ContextWindowExceededError so
    # context_window_fallbacks work
    **{c: TOO_LONG for c in (11115, 4028)},
    # 11128: first message not system, or fixed phrases of other clients in system/assistant text: a refusal of the
    # content, model- and key-independent, so content_policy_fallbacks (to another provider) are the way out
    11128: _CHANNEL,
    11133: Code(400, "invalid message sequence or parameter (for example two consecutive assistant messages)"),
    11134: Code(
        503,
        "the model's upstream provider is temporarily unavailable; retry later",
        "the model's upstream is down for now: retry later or pick another model",
    ),
    # 11135: the request's image data cannot be read: the caller's input, 400 (not retried)
    11135: Code(
        400,
        "an image in the request is not valid image data",
        "check the image parts: a `data:` URL with a supported image type and valid base64, or a reachable URL",
    ),
    # 11140: 403 (an account or device flag, or "The content did not pass the safety review."), except when it
    # says the model provider is rate-limiting (seen under HTTP 200): then a 429 like any rate limit
    11140: Code(
        403,
        "refused by CodeBuddy's account risk control or content safety check",
        "CodeBuddy's risk control or content check refused it: rephrase the request, or check your account at "
        "https://www.codebuddy.ai (contact CodeBuddy support if it persists)",
        when=(
            (
                "rate-limiting",
                Code(
                    429,
                    "the model's provider is rate-limiting requests",
                    "retry later or use another model; a LiteLLM Router cools this deployment down and uses the "
                    "others of its group",
                ),
            ),
        ),
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
    # 12153: the session behind the key or login is gone: the credential, 401
    12153: Code(401, "the session of this key or login was not found (expired or signed out)", _NEW_KEY),
    14017: Code(403, "the account's trial has not been activated: it has no usable plan", _NO_PLAN),
    **{
        c: Code(403, "the account's license or trial has expired: it has no usable plan", _NO_PLAN)
        for c in (11212, 11216)
    },
    14015: Code(401, "the login has expired: create a new key or log in again", _NEW_KEY),
    14018: Code(429, "the account is out of credits: top up or wait for the plan to renew", _OUT_OF_CREDITS),
    14003: Code(429, "the model is temporarily limited for this account; retry later", _PLAN),
    # 1005: the plan's allowance is used up: like the other out-of-credit codes, 429
    **{
        c: Code(429, "credits or plan exhausted for this account", _PLAN)
        for c in (1005, 14001, 14002, 14012, 14013, 14014, 14019)
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
    redacted; ``display`` its ``displayMsg.en``; ``retry_after`` the seconds until the reset the message names (a
    rate limit); ``known`` the entry that explains it (:data:`CODES`, :data:`SOFT_BLOCK`, :data:`TOO_LONG`), if any.
    """

    http_status: int
    status: int
    code: int | None = None
    text: str = ""
    request_id: str | None = None
    display: str | None = None
    retry_after: int | None = None
    known: Code | None = None


def upstream_of(exc: BaseException) -> Upstream | None:
    """The :class:`Upstream` of a provider exception, looking through LiteLLM's ``MidStreamFallbackError``."""
    for candidate in (exc, getattr(exc, "original_exception", None)):
        found = getattr(candidate, "codebuddy", None)
        if isinstance(found, Upstream):
            return found
    return None


# ---------------------------------------------------------------- the soft block


def is_soft_block(text: str) -> bool:
    """True when ``text`` (a whole answer, or an error's message) is the gateway's content-safety notice.

    Only the notice the field reports show is matched (:data:`SOFT_BLOCK_NOTICE`, surrounding whitespace aside).
    Decision: the English sentence one peer also matches ("This topic is currently outside the scope of my
    capabilities") is not, because no report shows the gateway sending it: a real answer that says so would
    become an error, and every English answer opening with "This" would be held back in a stream while it could
    still become that sentence. If the gateway does send it with ``finish_reason: content_filter``, the caller
    still sees ``content_filter`` (and a Router with content-policy fallbacks turns a plain response finished that
    way into ``ContentPolicyViolationError`` by itself).
    """
    return text.strip() == SOFT_BLOCK_NOTICE


def may_be_soft_block(text: str) -> bool:
    """True while ``text`` (everything received so far) could still become the notice: a stream holds it back."""
    head = text.lstrip()
    if len(head) <= len(SOFT_BLOCK_NOTICE):
        return SOFT_BLOCK_NOTICE.startswith(head)
    return head.startswith(SOFT_BLOCK_NOTICE) and not head[len(SOFT_BLOCK_NOTICE) :].strip()


def soft_block_error(
    model: str, *, finish_reason: str | None = None, request_id: str | None = None, http_status: int = 200
) -> Exception:
    """The ``ContentPolicyViolationError`` for a stream whose whole content was the notice."""
    said = f" (finish_reason {finish_reason!r})" if finish_reason else ""
    message = f"CodeBuddy: {SOFT_BLOCK.meaning}. Upstream said: {SOFT_BLOCK_NOTICE!r}{said}." + (
        f" requestId={request_id}." if request_id else ""
    )
    upstream = Upstream(http_status, 400, None, SOFT_BLOCK_NOTICE, request_id, known=SOFT_BLOCK)
    body = json.dumps({"error": {"message": SOFT_BLOCK_NOTICE, "finish_reason": finish_reason}}).encode()
    return status_error(400, message, model, body=body, upstream=upstream, kind="content_policy")


def routed_refusal(exc: Exception, model: str) -> Exception:
    """A refusal with a fallback list (content policy, context window) met while a Router's stream opens, in
    LiteLLM's envelope for errors met before a stream's first chunk: ``MidStreamFallbackError`` with the refusal
    as ``original_exception`` and ``is_pre_first_chunk``. The Router unwraps it on every front-end: its chat
    completions path reads the first chunk inside its fallback chain either way, but the ``/v1/messages`` and
    ``/v1/responses`` bridges run their fallbacks for a stream only from this envelope (a bare 400 passes through
    them unchanged). Any other exception is returned as it is."""
    if not isinstance(exc, (litellm.ContentPolicyViolationError, litellm.ContextWindowExceededError)):
        return exc
    return MidStreamFallbackError(
        message=str(exc), model=model, llm_provider=PROVIDER, original_exception=exc, is_pre_first_chunk=True
    )


# ---------------------------------------------------------------- the reset time of a rate limit

_UTC8 = datetime.timezone(datetime.timedelta(hours=8))
_RESET_AT = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?"
    r"(?:\s*\(?\s*(?:UTC|GMT)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\s*\)?)?"
)


def reset_delay(text: str, now: datetime.datetime | None = None) -> int | None:
    """Seconds from ``now`` until the reset time ``text`` names (``2026-10-10 00:08:52 UTC+8``; a time without a
    zone is the gateway's UTC+8), never below 1; None when the text names no time."""
    match = _RESET_AT.search(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, sign, off_h, off_m = match.groups()
    zone = _UTC8
    if sign is not None:
        offset = datetime.timedelta(hours=int(off_h), minutes=int(off_m or 0))
        zone = datetime.timezone(offset if sign == "+" else -offset)
    try:
        when = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=zone)
    except ValueError:  # not a real date or time (and a zone beyond +-24h)
        return None
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return max(1, math.ceil((when - now).total_seconds()))


# ---------------------------------------------------------------- building the exceptions


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
#: OpenAI's error code for each kind
_KIND_CODES: dict[str, str] = {
    "content_policy": "content_policy_violation",
    "context_window": "context_length_exceeded",
}
_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")
_TOO_LONG_WORDS = re.compile(r"prompt is too long|input length too long|context_length_exceeded", re.IGNORECASE)
_TOKENS_OVER = re.compile(r"(\d[\d,]*)\s*tokens?\s*>\s*(\d[\d,]*)", re.IGNORECASE)


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
    kind: Kind | None = None,
) -> Exception:
    """The LiteLLM exception for an HTTP status (as the caller should see it), carrying ``upstream`` as
    ``.codebuddy``; ``kind`` picks the content-policy or context-window class (status 400). Only a few safe
    response headers are attached, with every secret removed (an upstream may echo the key)."""
    safe = {k: v for k, v in redact_headers(headers or {}, *secrets).items() if k.lower() in _SAFE_HEADERS}
    exc = _exception(status, message, model, safe, body, kind)
    exc.codebuddy = upstream or Upstream(http_status=status, status=status)  # type: ignore[attr-defined]
    return exc


def _exception(
    status: int, message: str, model: str, safe: dict[str, str], body: bytes, kind: Kind | None = None
) -> Exception:
    response = httpx.Response(
        status, headers=safe, content=body, request=httpx.Request("POST", "https://codebuddy.invalid")
    )
    common: dict[str, Any] = {"message": message, "model": model, "llm_provider": PROVIDER}
    if kind is not None:
        # OpenAI's error object, as an OpenAI client would get it: LiteLLM's Responses bridge reads its code
        # into a streamed ``response.failed`` event (``context_length_exceeded`` is what clients act on)
        error = {"message": message, "type": "invalid_request_error", "param": None, "code": _KIND_CODES[kind]}
        if kind == "content_policy":
            return litellm.ContentPolicyViolationError(response=response, body=error, **common)
        exc = litellm.ContextWindowExceededError(response=response, **common)
        exc.body, exc.code, exc.type = error, error["code"], error["type"]
        return exc
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


@dataclass(frozen=True)
class _Said:
    """What a flat or nested CodeBuddy error body says."""

    code: int | None
    msg: str
    request_id: str | None
    nested_status: int | None
    display: str | None
    ext_code: str | None


def _read_body(body: dict[str, Any]) -> _Said:
    code = body.get("code")
    msg = body.get("msg") or body.get("message") or ""
    request_id = body.get("requestId") or body.get("request_id")
    display = body.get("displayMsg")
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
        display = display or err.get("displayMsg")
    elif isinstance(err, str):
        msg = err
    ext = body.get("extError")
    ext_code = None
    if isinstance(ext, dict):
        if ext.get("param"):
            msg = f"{msg} (parameter: {ext['param']})"
        ext_code = str(ext["code"]) if ext.get("code") is not None else None
    try:
        code_int = int(code) if code is not None else None
    except (TypeError, ValueError):
        code_int = None
    english = display.get("en") if isinstance(display, dict) else None
    return _Said(code_int, str(msg), request_id, nested_status, english if isinstance(english, str) else None, ext_code)


def entry_for(code: int | None, text: str, ext_code: str | None = None) -> Code | None:
    """The entry explaining an error: the soft block's notice wins, then the code (matched exactly, with its
    text-specific variants), then words saying the prompt is too long; None when nothing is known."""
    if SOFT_BLOCK_NOTICE in text:
        return SOFT_BLOCK
    known = CODES.get(code) if code is not None else None
    if known is not None:
        return known.for_text(text)
    if ext_code == "context_length_exceeded" or _TOO_LONG_WORDS.search(text):
        return TOO_LONG
    return None


def _too_long_headline(text: str) -> str:
    """Anthropic's words for the context-window error (Claude Code compacts on them), with the counts if named."""
    counts = _TOKENS_OVER.search(text)
    if counts is None:
        return "prompt is too long"
    prompt, maximum = (c.replace(",", "") for c in counts.groups())
    return f"prompt is too long: {prompt} tokens > {maximum} maximum"


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
    now: datetime.datetime | None = None,
) -> Exception:
    said = _read_body(body)
    code = said.code
    msg = redact(said.msg, *secrets)
    known = entry_for(code, msg, said.ext_code)
    parts: list[str] = []
    if known is not None and known.kind == "context_window":
        parts.append(f"{_too_long_headline(msg)}.")
    parts.append("CodeBuddy")
    if known is not None:
        status = known.status
        parts.append(f"error {code}: {known.meaning}." if code is not None else f"HTTP {http_status}: {known.meaning}.")
    else:
        status = http_status if http_status >= 400 else (said.nested_status or 500)
        meaning = _STATUS_WORDS.get(status, "")
        parts.append(f"error {code}:" if code is not None else f"HTTP {http_status}:")
        if meaning:
            parts.append(f"{meaning}.")
    if msg:
        parts.append(f"Upstream said: {msg!r}.")
    retry_after = reset_delay(msg, now) if status in (402, 429) else None
    headers = dict(headers or {})
    if retry_after is not None:
        if any(k.lower() == "retry-after" for k in headers):  # the gateway's own header wins
            retry_after = None
        else:
            headers["Retry-After"] = str(retry_after)
            parts.append(f"Retry-After: {retry_after}s.")
    request_id = redact(str(said.request_id), *secrets) if said.request_id else None
    if request_id:
        parts.append(f"requestId={request_id}.")
    message = redact(" ".join(parts), *secrets)
    display = redact(said.display, *secrets) if said.display else None
    upstream = Upstream(http_status, status, code, msg, request_id, display, retry_after, known)
    return status_error(
        status,
        message,
        model,
        headers,
        redact(json.dumps(body), *secrets).encode(),
        upstream=upstream,
        secrets=secrets,
        kind=known.kind if known is not None else None,
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
