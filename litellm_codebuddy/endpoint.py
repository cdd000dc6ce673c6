"""Where CodeBuddy is and how a client identifies itself to it: the facts every wing shares, each written once.

The API base and its URL rules, the environment variable names, the key's well-formedness rule, the header pair
that carries the key (``Authorization: Bearer`` and ``X-API-Key``, as the official CLI sends it), the honest
``User-Agent``, the names of the provider's own headers, the one reading of a true/false setting, and the redaction
of secrets from text and headers. Pure: nothing here does I/O.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ._version import __version__

__all__ = [
    "BASE_ENV",
    "CREDIT_COST_ENV",
    "DEFAULT_API_BASE",
    "KEYS_URL",
    "KEY_ENV",
    "OWN_HEADERS",
    "PRIVATE_DATA_ENV",
    "PROVIDER",
    "SECRET_HEADERS",
    "USER_AGENT",
    "api_root",
    "auth_headers",
    "chat_url",
    "credit_cost",
    "key_is_well_formed",
    "redact",
    "redact_headers",
    "switch",
]

PROVIDER = "codebuddy"
DEFAULT_API_BASE = "https://www.codebuddy.ai/v2"
KEY_ENV = "CODEBUDDY_API_KEY"
BASE_ENV = "CODEBUDDY_API_BASE"
CREDIT_COST_ENV = "CODEBUDDY_CREDIT_COST"
#: ``true`` opts out of the use of this process's requests to improve models (``X-Private-Data: true``)
PRIVATE_DATA_ENV = "CODEBUDDY_PRIVATE_DATA"
KEYS_URL = "https://www.codebuddy.ai/console/api-keys"
USER_AGENT = f"litellm-codebuddy/{__version__}"

_CHAT_PATH = "/chat/completions"
#: the headers that carry a key or token (lower case)
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "x-refresh-token"})
#: the headers the provider sets itself on a model request, which a caller's ``extra_headers`` cannot replace
#: (lower case): the key, the User-Agent, the privacy and correlation headers, and how the body is framed
OWN_HEADERS = frozenset(
    {
        "authorization",
        "x-api-key",
        "user-agent",
        "x-private-data",
        "x-conversation-id",
        "x-request-id",
        "content-type",
        "content-length",
        "content-encoding",
        "transfer-encoding",
        "accept",
        "host",
    }
)
_ON = frozenset({"1", "true", "yes", "on"})
_OFF = frozenset({"0", "false", "no", "off"})


class BadBaseURL(ValueError):
    """An API base that is not an http(s) URL."""


def api_root(api_base: str | None = None) -> str:
    """The API base (``.../v2``, no trailing ``/chat/completions`` or ``/``): ``api_base``, else
    ``CODEBUDDY_API_BASE``, else the default. Raises :class:`BadBaseURL` for anything but an http(s) URL."""
    base = (api_base or os.environ.get(BASE_ENV) or DEFAULT_API_BASE).strip()
    lowered = base.lower()
    if not (lowered.startswith("http://") or lowered.startswith("https://")) or not base.split("://", 1)[1]:
        raise BadBaseURL(f"api_base must be an http(s) URL, got {base[:80]!r}")
    return base.rstrip("/").removesuffix(_CHAT_PATH)


def chat_url(api_base: str | None = None) -> str:
    """The chat endpoint under :func:`api_root`."""
    return api_root(api_base) + _CHAT_PATH


def credit_cost() -> float | None:
    """``CODEBUDDY_CREDIT_COST``: what one CodeBuddy credit costs (in the unit of your budgets), or None when unset.
    Raises ValueError for a value that is not a number >= 0."""
    raw = os.environ.get(CREDIT_COST_ENV, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"{CREDIT_COST_ENV} must be a number >= 0, got {raw[:40]!r}")
    return value


def switch(value: object) -> bool | None:
    """A true/false setting: True or False for a bool or a word (``1``/``true``/``yes``/``on``,
    ``0``/``false``/``no``/``off``, any case), None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        return True if word in _ON else False if word in _OFF else None
    return None


def key_is_well_formed(key: str) -> bool:
    """A key or token can go in a header: printable, no whitespace, CR/LF or control characters."""
    return bool(key) and key.isprintable() and not any(ch.isspace() for ch in key)


def auth_headers(key: str) -> dict[str, str]:
    """The key twice, as the official CLI sends it, and this package's own User-Agent."""
    return {"Authorization": f"Bearer {key}", "X-API-Key": key, "User-Agent": USER_AGENT}


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with every secret replaced by ``***`` (longest first, so no part of a longer one survives)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def redact_headers(headers: Mapping[str, str], *secrets: str | None) -> dict[str, str]:
    """Headers fit to log or attach to an exception: credential headers masked, secrets removed from the rest."""
    return {k: ("***" if k.lower() in SECRET_HEADERS else redact(str(v), *secrets)) for k, v in headers.items()}
