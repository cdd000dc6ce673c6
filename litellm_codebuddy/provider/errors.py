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
  cooldown; without a named reset (or an ``x-ratelimit-reset`` header), a transient limit gets a short figure, an
  hour or day window the seconds until it ends, exhausted quota an hour (:func:`retry_after_for`);
- every refusal (11128, 11140-11142, 17271-17276, the moderation envelope) -> ``ContentPolicyViolationError`` (400),
  which no Router cools a deployment for;
- ``retry_policy`` in a body: ``{"retry": false}`` -> the exception carries ``num_retries = 0`` (and the handler does
  not send the same messages on the same key again, ``forbid``); any other object is said in the message and changes
  no class: the official client, too, retries only what it would retry anyway.
"""

from __future__ import annotations

import dataclasses
import datetime
import email.utils
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
#: the gateway's ``retry_policy`` in an error body: ``{"retry": false}`` forbids any retry and fallback, any other
#: object asks for retries
RetryPolicy = Literal["forbid", "force"]
#: what kind of limit a 429 is, which decides its ``Retry-After`` when the gateway sends none (:func:`retry_after_for`):
#: ``transient`` a per-second or per-minute limit the official client retries (a short figure); ``hour`` / ``day`` a
#: window the official client never retries (the seconds until the window ends); ``quota`` exhausted credits or
#: usage (the seconds until the named reset, else :data:`QUOTA_PARK`)
Limit = Literal["transient", "hour", "day", "quota"]


@dataclass(frozen=True)
class Code:
    """What one business code means: the HTTP status the caller gets, plain words, and what to do about it.

    ``kind`` picks ``ContentPolicyViolationError`` or ``ContextWindowExceededError`` (both status 400) instead of
    the status's own class; ``limit`` says how long a 429 keeps its key aside (:data:`Limit`). ``when`` holds more
    specific entries for messages containing a text (lower case): the first that matches is the code's meaning for
    that answer (11140 is a rate limit when it says so).
    """

    status: int
    meaning: str
    hint: str | None = None
    kind: Kind | None = None
    when: tuple[tuple[str, Code], ...] = ()
    limit: Limit | None = None

    def for_text(self, text: str) -> Code:
        low = text.lower()
        return next((entry for needle, entry in self.when if needle in low), self)


_PARKED = (
    "a LiteLLM Router keeps this key (its deployment) aside until then (Retry-After) and sends the requests to the "
    "other deployments of its group"
)
_RATE = f"wait until the reset time in the message (UTC+8), or use another model or key; {_PARKED}"
_WINDOW = (
    f"wait for the window to end (or the reset time the message names, UTC+8), or use another model or key; {_PARKED}"
)
_TRANSIENT = (
    "a short limit: retry in a moment (LiteLLM's num_retries and a Router retry by themselves, after the short "
    "Retry-After), or spread the requests over more keys"
)
_NO_PLAN = (
    "the account has no usable plan, so retrying will not help: activate the trial or renew the plan at "
    "https://www.codebuddy.ai, or use another account's key"
)
_OUT_OF_CREDITS = (
    "top up credits or wait for your plan to renew (https://www.codebuddy.ai), or use another key; a LiteLLM Router "
    "keeps this key aside (Retry-After: the named reset, else an hour) and sends the requests to the other keys of "
    "its group"
)
_CONVERSATION = (
    "start a new conversation (a new session of the agent), or use another key; a LiteLLM Router cools this key "
    "down for its cooldown time and uses the other keys of its group"
)
_NEW_KEY = f"create a new key at {KEYS_URL}, or run `litellm-codebuddy login` again"
_REFUSED_HINT = (
    "the request was refused, not the key: nothing is cooled down and a content-policy fallback (Router or proxy "
    "`content_policy_fallbacks`) answers it from another model; rephrase the request, or check your account at "
    "https://www.codebuddy.ai if it persists (contact CodeBuddy support)"
)
_IMAGE_HINT = (
    "check the image parts: a `data:` URL with a supported image type (PNG, JPEG, WebP; not every model takes GIF) "
    "and valid base64, or a reachable URL, sent to a model with vision"
)

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

#: a moderation refusal without a business code, known by its words (the JSON-RPC envelope ``{"code": -32603,
#: "data": {"code": 0, "message": "内容未通过安全审核，请调整后重试。"}}`` under HTTP 400 or 500)
MODERATION = Code(
    400,
    "the gateway's content review refused the request (moderation: the content did not pass the safety review)",
    _REFUSED_HINT,
    kind="content_policy",
)
_MODERATION_WORDS = ("未通过安全审核", "did not pass the safety review", "content moderation")

#: an error without a known code whose words say the prompt is too long (e.g. "input length too long")
TOO_LONG = Code(
    400,
    "the conversation is longer than the model's context window",
    "use a model with a larger window (a Router or proxy `context_window_fallbacks`), or shorten the conversation "
    "(Claude Code compacts it by itself on this error)",
    kind="context_window",
)

#: an error without a known code whose words say the account's quota or credits are exhausted (the official client's
#: list: "quota exhausted", "insufficient credits", "credits exhausted", "额度已用尽", "额度不足")
QUOTA = Code(429, "the account's quota or credits are exhausted", _OUT_OF_CREDITS, limit="quota")
_QUOTA_WORDS = ("quota exhausted", "insufficient credits", "credits exhausted", "额度已用尽", "额度不足")

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

_REFUSAL = Code(
    400,
    "refused by CodeBuddy's risk control or content review (one of the refusal codes 11140-11142 and 17271-17276, "
    "which the official client tells apart from a login problem)",
    _REFUSED_HINT,
    kind="content_policy",
)
_BUSY = Code(
    429,
    "the model's provider is rate-limiting requests",
    "retry later or use another model; a LiteLLM Router cools this deployment down and uses the others of its group",
    limit="transient",
)
_QUOTA_CODE = Code(429, "the account's usage limit or credits are exhausted", _OUT_OF_CREDITS, limit="quota")


def _window(span: str, what: str, limit: Limit | None) -> Code:
    """A 6001-6008 limit: ``what`` (tokens or requests) per ``span``."""
    if limit == "transient":
        return Code(429, f"rate limit: too many {what} per {span} for this account and model", _TRANSIENT, limit=limit)
    return Code(
        429,
        f"rate limit: the account's {what} per {span} for this model are used up; it resets when the {span} ends "
        "(or at the time the message names, UTC+8)",
        _WINDOW,
        limit=limit,
    )


#: business code -> its meaning (one table: the provider's messages and the command line's advice). The status is
#: what LiteLLM's machinery should do with it: 400 not retried and never cooling a deployment (refusals are
#: ``ContentPolicyViolationError``), 401/403 the key or account, 404 the model (a Router moves on to its fallbacks),
#: 429 a limit (a Router cools the deployment down for the ``Retry-After`` and uses the others), 503 retried. The
#: codes are the official client's (CodeBuddy Code 2.163) and the field reports'.
CODES: dict[int, Code] = {
    # 3003: reported for internal agent models: the model's service is down for now
    3003: Code(
        503,
        "the model service is unavailable for now",
        "retry later or pick another model (a Router with fallbacks moves on by itself)",
    ),
    6000: Code(429, "rate limit reached for this account and model", _RATE),
    6001: _window("second", "tokens", "transient"),
    6002: _window("minute", "tokens", "transient"),
    6003: _window("hour", "tokens", "hour"),
    6004: Code(
        429,
        "frequency limit reached: the account's tokens per day for this model are used up (a per-account, "
        "per-model cap); it resets at the time named in the message (UTC+8)",
        _RATE,
        limit="day",
    ),
    6005: _window("second", "requests", "transient"),
    6006: _window("minute", "requests", "transient"),
    6007: _window("hour", "requests", "hour"),
    6008: _window("day", "requests", "day"),
    # 10105 / 14002: a limit on conversations, not on the key's quota: 429 with the Router's own cooldown
    10105: Code(429, "the conversation limit of this account is exceeded", _CONVERSATION),
    11101: Code(
        400,
        "the gateway rejected the request as invalid (its words below say what it objected to)",
        "read the gateway's words in the message: this provider shapes requests as the gateway expects, so a part "
        "or parameter the gateway cannot take (a document or file part, an unusual parameter) is the usual cause; "
        "if the request looks right, please report it with the requestId",
    ),
    11102: Code(
        400,
        "no service is configured for this model id on your account: check the model name",
        "check the model id; `litellm-codebuddy models --live` lists the ids your account offers",
    ),
    # 11103: the id is known but its backend cannot serve this client: a problem of the model, not of the request,
    # so 404 like a model that is gone (a Router with fallbacks moves on to the next model)
    11103: Code(
        404,
        "the backend of this model is not supported for this account or client",
        "pick another model; `litellm-codebuddy models --live` lists the ids your account offers (a Router with "
        "fallbacks moves on by itself)",
    ),
    # 11114: reported under HTTP 400, but it is the account's credits, not the request: 429 like 14018, so a Router
    # sets this key aside and uses the other keys of the group
    11114: Code(429, "the account's credits are exhausted", _OUT_OF_CREDITS, limit="quota"),
    # 11115 (and 4028 on some models): the conversation does not fit; ContextWindowExceededError so
    # context_window_fallbacks work
    **{c: TOO_LONG for c in (11115, 4028)},
    11125: Code(400, "an image (or GIF) in the request was rejected", _IMAGE_HINT),
    # 11128: first message not system, or fixed phrases of other clients in system/assistant text: a refusal of the
    # content, model- and key-independent, so content_policy_fallbacks (to another provider) are the way out; also
    # under HTTP 500 (a 400 here, so no Router cools a deployment for it)
    11128: _CHANNEL,
    # 11133: a bad message sequence or parameter, and also an image sent to a model without vision
    11133: Code(
        400,
        "invalid message sequence or parameter (for example two consecutive assistant messages)",
        when=(
            (
                "image",
                Code(400, "an image in the request was rejected (e.g. sent to a model without vision)", _IMAGE_HINT),
            ),
        ),
    ),
    11134: Code(
        503,
        "the model's upstream provider is temporarily unavailable; retry later",
        "the model's upstream is down for now: retry later or pick another model",
    ),
    # 11135: the request's image data cannot be read: the caller's input, 400 (not retried)
    11135: Code(400, "an image in the request is not valid image data", _IMAGE_HINT),
    # 11140-11142, 17271-17276: refusals (the official client's set that must not trigger a new login): a refusal is
    # about the request, not the key, so ContentPolicyViolationError (400): no Router cools a deployment for it and
    # content_policy_fallbacks answer it; 11140 saying the model provider is rate-limiting is a 429 (seen under 200)
    11140: dataclasses.replace(_REFUSAL, when=(("rate-limiting", _BUSY),)),
    **{c: _REFUSAL for c in (11141, 11142, *range(17271, 17277))},
    11148: Code(400, "broken tool-call sequence: a tool result does not answer a preceding assistant tool call"),
    11150: Code(400, "this reasoning_effort value is not supported by the model"),
    11151: Code(400, "a message has empty content (or an assistant message carries reasoning)"),
    # 12153: the session behind the key or login is gone: the credential, 401
    12153: Code(401, "the session of this key or login was not found (expired or signed out)", _NEW_KEY),
    # 12403: seen on /v3/config for a User-Agent the gateway cannot parse: the client, not the key
    12403: Code(
        403,
        "the gateway refused this client (seen on /v3/config for a User-Agent it cannot parse)",
        "model discovery falls back to the built-in catalog; if chat requests get it too, please report it with "
        "the requestId",
    ),
    14001: _QUOTA_CODE,
    14002: Code(429, "too many chats in this conversation", _CONVERSATION),
    14003: Code(
        429,
        "the model is temporarily rate-limited for this account; retry in a moment",
        _TRANSIENT,
        limit="transient",
    ),
    **{
        c: Code(429, "the enterprise's or Tencent's usage limit is exhausted", _OUT_OF_CREDITS, limit="quota")
        for c in (14012, 14013, 14014)
    },
    # 14015: an expired plan licence (the official client: a plan problem, not a login problem): 403 like the other
    # no-plan codes, so a Router tries another key for the request and cools nothing
    14015: Code(403, "the account's plan licence has expired: it has no usable plan", _NO_PLAN),
    14016: Code(403, "the enterprise account has not been activated: it has no usable plan", _NO_PLAN),
    14017: Code(403, "the account's trial has not been activated: it has no usable plan", _NO_PLAN),
    14018: Code(
        429, "the account is out of credits: top up or wait for the plan to renew", _OUT_OF_CREDITS, limit="quota"
    ),
    14019: Code(429, "the account has no token budget left", _OUT_OF_CREDITS, limit="quota"),
    **{
        c: Code(403, "the account's license or trial has expired: it has no usable plan", _NO_PLAN)
        for c in (11212, 11216)
    },
    # 15001: web search's own rate limit
    15001: Code(429, "the web search rate limit is reached", "retry in a while, or leave web search out"),
    # 1005: the plan's allowance is used up: like the other out-of-credit codes, 429
    1005: Code(429, "credits or plan exhausted for this account", _OUT_OF_CREDITS, limit="quota"),
}


@dataclass(frozen=True)
class Upstream:
    """What the gateway said, carried by every exception built from its answer (as ``exc.codebuddy``).

    ``http_status`` is the status the gateway answered with (200 for an error inside a stream), ``status`` the one
    the caller gets; ``code`` the business code (None when the body had none); ``text`` the gateway's own words,
    redacted; ``display`` its ``displayMsg.en``; ``retry_after`` the ``Retry-After`` this package added to a 429 (the
    seconds until the named or known reset, or a short figure for a transient limit; None when the gateway sent its
    own or none applies); ``known`` the entry that explains it (:data:`CODES`, :data:`SOFT_BLOCK`, :data:`TOO_LONG`,
    :data:`MODERATION`, :data:`QUOTA`), if any; ``retry_policy`` what the body's ``retry_policy`` said.
    """

    http_status: int
    status: int
    code: int | None = None
    text: str = ""
    request_id: str | None = None
    display: str | None = None
    retry_after: int | None = None
    known: Code | None = None
    retry_policy: RetryPolicy | None = None


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


#: a transient limit's ``Retry-After`` when the gateway sends none (seconds): the official client was seen retrying
#: 6001 after the gateway's ``Retry-After: 2``
TRANSIENT_RETRY_AFTER = 2
#: how long exhausted quota keeps its key aside when no reset is named (seconds): the plan's renewal is not known,
#: so the key is tried again after an hour (and parked again if still exhausted)
QUOTA_PARK = 3600
#: the reset headers the official client reads (epoch seconds or a date)
_RESET_HEADERS = ("x-ratelimit-reset", "anthropic-ratelimit-unified-reset")


def header_reset_delay(headers: dict[str, str], now: datetime.datetime | None = None) -> int | None:
    """Seconds until the reset an ``x-ratelimit-reset`` (or ``anthropic-ratelimit-unified-reset``) header names,
    never below 1: epoch seconds (or milliseconds), a delay in seconds (a number below 10^9), an HTTP date or an
    ISO 8601 time (without a zone: UTC+8, the gateway's); None without such a header or for one that cannot be
    read."""
    raw = next((v for k, v in headers.items() if k.lower() in _RESET_HEADERS and str(v).strip()), None)
    if raw is None:
        return None
    now = now or datetime.datetime.now(datetime.timezone.utc)
    value = str(raw).strip()
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is not None:
        if not math.isfinite(number) or number < 0:
            return None
        if number < 1e9:  # a delay, not a time
            return max(1, math.ceil(number))
        epoch = number / 1000 if number >= 1e12 else number
        return max(1, math.ceil(epoch - now.timestamp()))
    when: datetime.datetime | None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        try:
            when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_UTC8)
    return max(1, math.ceil((when - now).total_seconds()))


def window_end_delay(limit: Limit, now: datetime.datetime | None = None) -> int:
    """Seconds until the window of an ``hour`` or ``day`` limit ends: the next full hour, or midnight UTC+8 (the
    gateway's day); never below 1."""
    now = (now or datetime.datetime.now(datetime.timezone.utc)).astimezone(_UTC8)
    if limit == "hour":
        end = now.replace(minute=0, second=0, microsecond=0) + datetime.timedelta(hours=1)
    else:
        end = now.replace(hour=0, minute=0, second=0, microsecond=0) + datetime.timedelta(days=1)
    return max(1, math.ceil((end - now).total_seconds()))


def retry_after_for(
    known: Code | None, text: str, headers: dict[str, str], now: datetime.datetime | None = None
) -> int | None:
    """The ``Retry-After`` (seconds) this package adds to a 429 whose gateway sent none: the reset an
    ``x-ratelimit-reset`` header names, else the reset time the message names (6004's UTC+8 time), else by the
    limit's kind: a short figure for a transient limit, the end of the window for an hour or day limit, an hour
    for exhausted quota; None when nothing is known (a Router then uses its own cooldown time)."""
    named = header_reset_delay(headers, now)
    if named is None:
        named = reset_delay(text, now)
    if named is not None:
        return named
    limit = known.limit if known is not None else None
    if limit == "transient":
        return TRANSIENT_RETRY_AFTER
    if limit in ("hour", "day"):
        return window_end_delay(limit, now)
    if limit == "quota":
        return QUOTA_PARK
    return None


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

_SAFE_HEADERS = ("retry-after", "content-type", "x-request-id", *_RESET_HEADERS)
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
    """What a CodeBuddy error body says, in any of the forms the official client reads."""

    code: int | None
    msg: str
    request_id: str | None
    nested_status: int | None
    display: str | None
    ext_code: str | None
    retry_policy: RetryPolicy | None = None


def _obj(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _words(*places: dict[str, Any] | None, keys: tuple[str, ...] = ("msg", "message")) -> str:
    for place in places:
        for key in keys:
            value = place.get(key) if place is not None else None
            if isinstance(value, str) and value:
                return value
    return ""


def _retry_policy(*places: dict[str, Any] | None) -> RetryPolicy | None:
    """``retry_policy`` at the top level, under ``data``, ``error`` or ``error.data``: ``{"retry": false}`` forbids
    retries, any other object asks for them."""
    for place in places:
        policy = place.get("retry_policy") if place is not None else None
        if isinstance(policy, dict):
            return "forbid" if policy.get("retry") is False else "force"
    return None


def _read_body(body: dict[str, Any]) -> _Said:
    """The forms the official client parses, innermost first: ``{"error": {"data": {"code", "msg"}}}``, ``{"data":
    {"code", "msg"}}`` (also the JSON-RPC envelope ``{"code": -32603, "data": {...}}``), ``{"code", "msg",
    "extError"}`` (code, else ``extError.StatusCode``; message ``extError.message``, else ``msg``), ``{"error":
    {"message"}}``. A code of 0 or below (JSON-RPC's own, or "none") is not a business code: the next one is used."""
    err = _obj(body.get("error"))
    err_data = _obj(err.get("data")) if err is not None else None
    data = _obj(body.get("data"))
    ext = _obj(body.get("extError"))
    places = (err_data, data, body, err)
    codes = [
        _int(err_data.get("code")) if err_data else None,
        _int(data.get("code")) if data else None,
        _int(body.get("code")),
        _int(ext.get("StatusCode")) if ext else None,
        _int(err.get("code")) if err else None,
    ]
    code = next((c for c in codes if c is not None and c > 0), None)
    if code is None:  # no business code: keep a JSON-RPC code for the message
        code = next((c for c in codes if c is not None and c != 0), None)
    msg = _words(err_data, data, ext, keys=("msg", "message")) or _words(body, err)
    if not msg and isinstance(body.get("error"), str):
        msg = body["error"]
    if ext is not None and ext.get("param"):
        msg = f"{msg} (parameter: {ext['param']})"
    nested_status = next(
        (s for s in (_int(p.get("statusCode")) for p in (err_data, data) if p is not None) if s is not None), None
    )
    request_id = next(
        (r for p in (body, err, data, err_data) if p for r in (p.get("requestId"), p.get("request_id")) if r),
        None,
    )
    display = next((d for p in (body, err, data, err_data) if p is not None for d in (p.get("displayMsg"),) if d), None)
    english = display.get("en") if isinstance(display, dict) else None
    ext_code = str(ext["code"]) if ext is not None and ext.get("code") is not None else None
    return _Said(
        code,
        str(msg),
        str(request_id) if request_id is not None else None,
        nested_status,
        english if isinstance(english, str) else None,
        ext_code,
        _retry_policy(*places),
    )


def entry_for(code: int | None, text: str, ext_code: str | None = None) -> Code | None:
    """The entry explaining an error: the soft block's notice wins, then the code (matched exactly, with its
    text-specific variants), then words saying the prompt is too long, the content review refused it, or the quota
    is exhausted; None when nothing is known."""
    if SOFT_BLOCK_NOTICE in text:
        return SOFT_BLOCK
    known = CODES.get(code) if code is not None else None
    if known is not None:
        return known.for_text(text)
    low = text.lower()
    if ext_code == "context_length_exceeded" or _TOO_LONG_WORDS.search(text):
        return TOO_LONG
    if any(words in low for words in _MODERATION_WORDS):
        return MODERATION
    if any(words in low for words in _QUOTA_WORDS):
        return QUOTA
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
    note: str = "",
) -> Exception:
    """The exception for a CodeBuddy error body (``note``: a sentence added to its message)."""
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
    kind = known.kind if known is not None else None
    headers = dict(headers or {})
    retry_after = None
    if status in (402, 429) and not any(k.lower() == "retry-after" for k in headers):  # the gateway's own wins
        retry_after = retry_after_for(known, msg, headers, now)
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
            parts.append(f"Retry-After: {retry_after}s.")
    if said.retry_policy == "forbid":
        parts.append("The gateway's retry_policy forbids retrying this request (and any fallback).")
    elif said.retry_policy == "force":
        parts.append("The gateway's retry_policy asks for retries (an error that is retried anyway).")
    if note:
        parts.append(note)
    request_id = redact(str(said.request_id), *secrets) if said.request_id else None
    if request_id:
        parts.append(f"requestId={request_id}.")
    message = redact(" ".join(parts), *secrets)
    display = redact(said.display, *secrets) if said.display else None
    upstream = Upstream(http_status, status, code, msg, request_id, display, retry_after, known, said.retry_policy)
    exc = status_error(
        status,
        message,
        model,
        headers,
        redact(json.dumps(body), *secrets).encode(),
        upstream=upstream,
        secrets=secrets,
        kind=kind,
    )
    if said.retry_policy == "forbid":
        # a Router takes an exception's ``num_retries`` as the request's (when the call itself sets none), so no
        # deployment of the group is asked again; see docs/errors.md for what LiteLLM still does
        exc.num_retries = 0  # type: ignore[attr-defined]
    return exc


def error_from_response(
    status: int,
    headers: dict[str, str],
    content: bytes,
    model: str,
    *,
    secrets: tuple[str | None, ...] = (),
    note: str = "",
) -> Exception:
    """The exception for a non-streaming error answer: JSON bodies by their code, anything else by status
    (``note``: a sentence added to a JSON body's message)."""
    text = content.decode("utf-8", "replace")
    try:
        body = json.loads(text) if text.strip() else None
    except ValueError:
        body = None
    if isinstance(body, dict) and (is_error_body(body) or status >= 400):
        return error_from_body(body, status, model, headers, secrets=secrets, note=note)
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
