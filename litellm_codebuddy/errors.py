"""Map CodeBuddy's failures onto LiteLLM's exception classes.

Every error this package raises is one of LiteLLM's classes, so retries, fallbacks and the proxy's status
codes work. Exceptions never carry the upstream request (its headers hold the API key): responses attached
to them are rebuilt from status, a few safe headers and the body only, and every message is passed through
:func:`redact`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import litellm

from .catalog import PROVIDER

__all__ = ["CODE_MEANINGS", "error_from_body", "error_from_response", "redact", "status_error"]

# business code -> (HTTP status the caller gets, plain words)
CODE_MEANINGS: dict[int, tuple[int, str]] = {
    11101: (
        400,
        "the gateway rejected the request as invalid (missing system message, non-stream request, "
        "or an unsupported parameter shape such as an object tool_choice)",
    ),
    11102: (400, "no service is configured for this model id on your account: check the model name"),
    11128: (
        400,
        "the gateway refused the request as illegal (first message not a system prompt, or a system "
        "prompt the gateway takes for an unapproved client); the prompt was sent as you wrote it",
    ),
    11133: (400, "invalid message sequence or parameter (for example two consecutive assistant messages)"),
    11134: (503, "the model's upstream provider is temporarily unavailable; retry later"),
    11140: (403, "refused by CodeBuddy's account risk control or content safety check"),
    11148: (400, "broken tool-call sequence: a tool result does not answer a preceding assistant tool call"),
    11150: (400, "this reasoning_effort value is not supported by the model"),
    11151: (400, "a message has empty content (or an assistant message carries reasoning)"),
    14015: (401, "the login has expired: create a new key or log in again"),
    14018: (429, "the account is out of credits: top up or wait for the plan to renew"),
}
for _code in (14001, 14002, 14012, 14013, 14014, 14019):
    CODE_MEANINGS[_code] = (429, "credits or plan exhausted for this account")
CODE_MEANINGS[14003] = (429, "the model is temporarily limited for this account; retry later")
for _code in range(6000, 6009):
    CODE_MEANINGS[_code] = (429, "rate limit reached for this account and model; see the reset time in the message")
CODE_MEANINGS[6004] = (
    429,
    "frequency limit reached (a per-account, per-model cap); it resets at the time named in the message (UTC+8)",
)

_STATUS_WORDS = {
    400: "bad request",
    401: "the API key was refused: check CODEBUDDY_API_KEY (keys come from https://www.codebuddy.ai/console/api-keys)",
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


def redact(text: str, *secrets: str | None) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _clean_snippet(raw: str, limit: int = 200) -> str:
    text = _SPACES.sub(" ", _TAGS.sub(" ", raw)).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def status_error(
    status: int,
    message: str,
    model: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> Exception:
    """The LiteLLM exception for an HTTP status (as the caller should see it)."""
    safe = {k: v for k, v in (headers or {}).items() if k.lower() in _SAFE_HEADERS}
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
    headers = {k: redact(v, *secrets) for k, v in (headers or {}).items()}  # an upstream may echo the key
    code, msg, request_id, nested_status = _innermost(body)
    parts = ["CodeBuddy"]
    if code is not None and code in CODE_MEANINGS:
        status, meaning = CODE_MEANINGS[code]
        parts.append(f"error {code}: {meaning}.")
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
    return status_error(status, message, model, headers, redact(json.dumps(body), *secrets).encode())


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
            "so neither the request nor the API key was sent there; check api_base (or CODEBUDDY_API_BASE)"
        )
        return status_error(502, message, model, {k: redact(v, *secrets) for k, v in headers.items()})
    words = _STATUS_WORDS.get(status, "unexpected answer")
    text = redact(text, *secrets)  # before the snippet is cut, so no part of a key survives the cut
    snippet = _clean_snippet(text) if text.strip() else "(empty body)"
    message = redact(f"CodeBuddy HTTP {status}: {words}. Body: {snippet}", *secrets)
    safe = {k: redact(v, *secrets) for k, v in headers.items()}
    return status_error(status if status >= 400 else 502, message, model, safe)
