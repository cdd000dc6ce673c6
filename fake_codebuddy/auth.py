"""Who may call the fake: the key rule every endpoint but login and ``/health`` applies.

Both ``Authorization: Bearer <key>`` and ``X-API-Key: <key>`` must be present and equal.  With ``api_key=None``
any ``ck_<something>`` key is accepted, otherwise exactly ``api_key``; access tokens issued by the login endpoints
(``account``) are accepted until they expire.
"""

from __future__ import annotations

from collections.abc import Mapping

from .state import FakeState


def auth_error(headers: Mapping[str, str], state: FakeState) -> str | None:
    """Why the request's key is refused, or None."""
    auth = headers.get("authorization")
    x_api_key = headers.get("x-api-key")
    if not auth:
        return "missing Authorization header"
    scheme, _, bearer = auth.partition(" ")
    bearer = bearer.strip()
    if scheme.lower() != "bearer" or not bearer:
        return "Authorization must be 'Bearer <key>'"
    if x_api_key is None:
        return "missing X-API-Key header"
    if x_api_key.strip() != bearer:
        return "Authorization and X-API-Key carry different keys"
    if state.account.token_valid(bearer):  # an access token issued by the login endpoints
        return None
    if state.api_key is None:
        if not (bearer.startswith("ck_") and len(bearer) > 3):
            return "invalid API key"
    elif bearer != state.api_key:
        return "invalid API key"
    return None
