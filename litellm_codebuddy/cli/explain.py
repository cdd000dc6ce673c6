"""Exit codes, and plain words for what went wrong: read from what the provider's exceptions carry.

:data:`EXIT_CODES` is the one table of the command's exit codes (value, name, meaning): the ``--help`` epilog and
the manual's table (docs/cli.md#exit-codes, written by ``docs/generate.py``) are made from it.

A provider exception built from the gateway's answer carries ``exc.codebuddy``
(:class:`litellm_codebuddy.provider.errors.Upstream`): the business code, whose meaning and advice come from the
one table :data:`~litellm_codebuddy.provider.errors.CODES`, and the gateway's own words and request id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import litellm

from ..endpoint import BASE_ENV, KEY_ENV, KEYS_URL
from ..provider.errors import upstream_of

__all__ = [
    "EXIT_AUTH",
    "EXIT_CODES",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_LOGIN",
    "EXIT_NETWORK",
    "EXIT_NOT_CONFIGURED",
    "EXIT_OK",
    "EXIT_RATE_LIMIT",
    "EXIT_USAGE",
    "CliError",
    "ExitCode",
    "explain",
    "message_of",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_CONFIGURED = 3
EXIT_AUTH = 4
EXIT_RATE_LIMIT = 5
EXIT_NETWORK = 6
EXIT_LOGIN = 7
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class ExitCode:
    """One exit code of the command: its value, a short name (the ``--help`` epilog) and what it means."""

    code: int
    name: str
    meaning: str


#: every exit code of the command, in order (the one table: ``--help`` and docs/cli.md are made from it)
EXIT_CODES: tuple[ExitCode, ...] = (
    ExitCode(EXIT_OK, "ok", "success"),
    ExitCode(
        EXIT_FAILURE,
        "other failure",
        "the gateway rejected the request as invalid (e.g. 11101, 11102, 11125, 11133, 11135; an unsupported model, "
        "11103), refused it by its content checks or risk control (11128, 11140-11142, 17271-17276, the soft block, "
        "a moderation refusal) or as longer than the model's window (11115, 4028), an HTTP 500, an answer of an "
        "unexpected shape, or a bug",
    ),
    ExitCode(EXIT_USAGE, "usage error", "a bad command line: an unknown option or value, no prompt, a bad --api-base"),
    ExitCode(
        EXIT_NOT_CONFIGURED,
        "not configured",
        "no API key and no login, a malformed key, a bad CODEBUDDY_API_BASE, an expired or unreadable login",
    ),
    ExitCode(
        EXIT_AUTH,
        "authentication or permission refused",
        "HTTP 401/403, 12153, 12403, a refused login; "
        "14015-14017, 11212, 11216 (the account has no usable plan: an expired licence, not activated)",
    ),
    ExitCode(
        EXIT_RATE_LIMIT,
        "rate limited or out of credits",
        "HTTP 429, 6000-6008 (per second, minute, hour and day limits; 6004: frequency limit), the model's provider "
        "rate-limiting requests, 14001, 14012-14014, 14018, 14019, 11114, 1005 (quota or credits exhausted), 14003, "
        "14002 and 10105 (conversation limits), 15001",
    ),
    ExitCode(
        EXIT_NETWORK,
        "network, timeout or service unavailable",
        "cannot connect, a timeout, CodeBuddy temporarily unavailable (HTTP 502/503/504, 11134, 3003)",
    ),
    ExitCode(EXIT_LOGIN, "login not completed in time", "the wait timed out (--timeout) or the login request expired"),
    ExitCode(EXIT_INTERRUPTED, "interrupted", "Ctrl-C"),
)

HTTP_HINTS: dict[int, tuple[str, str]] = {
    401: (
        "the key was refused (HTTP 401)",
        f"check {KEY_ENV} (keys come from {KEYS_URL}); if you use the login, run `litellm-codebuddy login` again",
    ),
    403: ("permission denied (HTTP 403)", "check that your account may use this model"),
    404: ("not found (HTTP 404)", f"check --api-base / {BASE_ENV} and the model id"),
    429: ("rate limited (HTTP 429)", "wait a little and retry"),
}


class CliError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def message_of(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc)
    return re.sub(r"^litellm\.\w+: (\w+Exception - )?", "", text).strip()


def _unwrap(exc: BaseException) -> BaseException:
    original = getattr(exc, "original_exception", None)
    fallback = getattr(litellm.exceptions, "MidStreamFallbackError", None)
    if fallback is not None and isinstance(exc, fallback) and isinstance(original, BaseException):
        return original
    return exc


def explain(exc: BaseException) -> tuple[int, str]:
    """(exit code, plain words: what happened and what to do) for a provider exception."""
    upstream = upstream_of(exc)
    exc = _unwrap(exc)
    detail = message_of(exc)
    status = getattr(exc, "status_code", None)
    if isinstance(exc, (litellm.AuthenticationError, litellm.PermissionDeniedError)):
        code = EXIT_AUTH
    elif isinstance(exc, litellm.RateLimitError):
        code = EXIT_RATE_LIMIT
    elif isinstance(exc, (litellm.Timeout, litellm.APIConnectionError, litellm.ServiceUnavailableError)):
        code = EXIT_NETWORK
    else:
        code = EXIT_FAILURE
    known = upstream.known if upstream is not None else None
    lines: list[str] = []
    if upstream is not None and known is not None:
        label = f"CodeBuddy error {upstream.code}" if upstream.code is not None else "CodeBuddy"
        lines.append(f"{label}: {known.meaning}.")
        if known.hint:
            lines.append(f"What to do: {known.hint}.")
        if upstream.text:  # the meaning is already above: keep the gateway's own words and the requestId
            detail = f"Upstream said: {upstream.text!r}." + (
                f" requestId={upstream.request_id}." if upstream.request_id else ""
            )
    elif isinstance(status, int) and status in HTTP_HINTS:
        what, todo = HTTP_HINTS[status]
        lines.append(f"CodeBuddy: {what}.")
        lines.append(f"What to do: {todo}.")
    elif code == EXIT_NETWORK:
        if isinstance(exc, litellm.Timeout):
            lines.append("CodeBuddy did not answer in time.")
        elif isinstance(exc, litellm.ServiceUnavailableError):
            lines.append("CodeBuddy is temporarily unavailable.")
        else:
            lines.append("Could not talk to CodeBuddy (connection failed).")
        lines.append(f"What to do: check your network and --api-base / {BASE_ENV}, then retry.")
    lines.append(f"Details: {detail}")
    return code, "\n".join(lines)
