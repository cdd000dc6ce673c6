"""Which key a call uses: the caller's ``api_key``, else ``CODEBUDDY_API_KEY``, else the stored login.

The one place that decides it, for the provider, the discovery, the credits and the command line.
:func:`direct_key` is free of I/O; :func:`resolve_key` may read the token file under its lock and refresh the login
over the network, so async code runs it in a worker thread when :func:`direct_key` has nothing (see the handler).
:func:`account_key` is :func:`resolve_key` for the account's own requests. Keys are never shown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import litellm

from ..endpoint import KEY_ENV, PROVIDER, key_is_well_formed
from .http import AccountError
from .login import stored_token

__all__ = ["Credentials", "account_key", "direct_key", "resolve_credentials", "resolve_key"]


@dataclass(frozen=True)
class Credentials:
    key: str = field(repr=False)
    source: str
    """``"api_key"``, :data:`KEY_ENV` or ``"login"``"""


def _auth_error(message: str, model: str) -> litellm.AuthenticationError:
    return litellm.AuthenticationError(message=f"CodeBuddy: {message}", llm_provider=PROVIDER, model=model)


def direct_key(api_key: str | None) -> Credentials | None:
    """The caller's key or the environment's, without any I/O; None when the stored login would be needed."""
    if api_key:
        return Credentials(api_key, "api_key")
    env = os.environ.get(KEY_ENV, "")
    return Credentials(env, KEY_ENV) if env else None


def resolve_credentials(api_key: str | None, model: str = "") -> Credentials:
    """:func:`direct_key`, else the stored login's token (refreshed when near expiry: blocking I/O).

    Raises ``litellm.AuthenticationError`` when there is no key, or the key has whitespace or control characters.
    """
    creds = direct_key(api_key)
    if creds is None:
        creds = Credentials(stored_token(model), "login")  # AuthenticationError without a usable login
    if not key_is_well_formed(creds.key):
        raise _auth_error(
            f"the API key contains whitespace, CR/LF or control characters; check {KEY_ENV} for a stray newline "
            "or space (the key is not shown)",
            model,
        )
    return creds


def resolve_key(api_key: str | None, model: str = "") -> str:
    """The key of :func:`resolve_credentials`."""
    return resolve_credentials(api_key, model).key


def account_key(api_key: str | None) -> str:
    """The key of :func:`resolve_credentials` for the account's own requests (discovery, credits): raises
    :class:`~.http.AccountError` (kind ``config``) instead when there is none or it is malformed."""
    try:
        return resolve_key(api_key)
    except Exception as exc:  # no key, a malformed key, a stored login that cannot be read or refreshed
        raise AccountError(str(getattr(exc, "message", exc)), "config") from None
