"""Login and discovery endpoints (experimental: they come from other clients' reports, not from documentation).

``POST /v2/plugin/auth/state`` -> ``{"code":0,"data":{"state","authUrl"[,"interval"]}}``; ``GET
/v2/plugin/auth/token?state=S`` -> code 11217 (pending) for the first ``login_pending_polls`` polls of S, then
``{"code":0,"data":{"accessToken","refreshToken","expiresIn"}}``; ``POST /v2/plugin/auth/token/refresh`` with
``X-Refresh-Token`` -> a new token pair (the old refresh token stops working).  ``GET /v3/config`` ->
``{"code":0,"data":{"models":[...]}}`` and ``GET /console/enterprises/personal/models`` -> ``{"code":0,"data":[...]}``
(both need the chat endpoint's auth).  Issued access tokens are accepted as keys by every endpoint until they
expire.

Attributes of :class:`FakeCodeBuddy` that steer them: ``login_pending_polls`` (0), ``login_refuse`` (the poll
answers HTTP 403), ``login_expire`` (code 11218 "login state expired"), ``login_interval`` (announced poll
interval, None), ``token_expires_in`` (86400; None omits it), ``refresh_fail`` (refresh answers HTTP 401),
``models_live`` (ids or dicts; None: the known models), ``discovery_fail`` (True: both discovery endpoints answer
500; ``"v3"``: only ``/v3/config``); ``issue_token(expires_in)`` makes a token pair directly;
``account_requests`` records these requests.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from .gateway import auth_error
from .http import Request, send_json

if TYPE_CHECKING:
    import asyncio

    from .server import FakeCodeBuddy

_POST_PATHS = frozenset({"/v2/plugin/auth/state", "/v2/plugin/auth/token/refresh"})
PATHS = frozenset({*_POST_PATHS, "/v2/plugin/auth/token", "/v3/config", "/console/enterprises/personal/models"})


def _token_answer(fake: FakeCodeBuddy) -> dict[str, Any]:
    access, refresh = fake.issue_token()
    data: dict[str, Any] = {"accessToken": access, "refreshToken": refresh, "tokenType": "Bearer"}
    if fake.token_expires_in is not None:
        data["expiresIn"] = fake.token_expires_in
    return {"code": 0, "msg": "OK", "data": data}


def _discovery_entries(fake: FakeCodeBuddy, personal: bool) -> list[dict[str, Any]]:
    entries = fake.models_live if fake.models_live is not None else sorted(fake.models)
    out = []
    for entry in entries:
        item = dict(entry) if isinstance(entry, dict) else {"id": str(entry)}
        item.setdefault("name", item.get("id"))
        if not personal:  # /v3/config carries ids and names only
            item = {k: v for k, v in item.items() if k in ("id", "name")}
        out.append(item)
    return out


def _login_state(fake: FakeCodeBuddy) -> dict[str, Any]:
    state = uuid.uuid4().hex
    fake._states[state] = 0
    data: dict[str, Any] = {"state": state, "authUrl": f"{fake.url}/login?state={state}"}
    if fake.login_interval is not None:
        data["interval"] = fake.login_interval
    return {"code": 0, "msg": "OK", "data": data}


def _login_poll(fake: FakeCodeBuddy, state: str) -> tuple[int, dict[str, Any]]:
    if state not in fake._states or fake.login_expire:
        return 200, {"code": 11218, "msg": "login state expired or unknown"}
    if fake.login_refuse:
        return 403, {"code": 403, "msg": "login refused by the user"}
    if fake._states[state] < fake.login_pending_polls:
        fake._states[state] += 1
        return 200, {"code": 11217, "msg": "login pending: waiting for the user"}
    del fake._states[state]
    return 200, _token_answer(fake)


def _refresh(fake: FakeCodeBuddy, old: str) -> tuple[int, dict[str, Any]]:
    if fake.refresh_fail or old not in fake._refresh_tokens:
        return 401, {"code": 14015, "msg": "refresh token invalid or expired"}
    fake.tokens.pop(fake._refresh_tokens.pop(old), None)
    return 200, _token_answer(fake)


def _discovery(fake: FakeCodeBuddy, req: Request) -> tuple[int, dict[str, Any]]:
    why = auth_error(req.headers, fake.api_key, fake.tokens)
    if why is not None:
        return 401, {"code": 401, "msg": f"unauthorized: {why}"}
    if fake.discovery_fail is True or (fake.discovery_fail == "v3" and req.path == "/v3/config"):
        return 500, {"code": 500, "msg": "Internal Server Error"}
    if req.path == "/v3/config":
        return 200, {"code": 0, "msg": "OK", "data": {"models": _discovery_entries(fake, False)}}
    return 200, {"code": 0, "msg": "OK", "data": _discovery_entries(fake, True)}


async def handle(fake: FakeCodeBuddy, req: Request, writer: asyncio.StreamWriter) -> bool:
    """Answer a request for one of ``PATHS``; returns whether the connection serves another."""
    keep = req.keep_alive
    fake._record_account(req)
    want = "POST" if req.path in _POST_PATHS else "GET"
    if req.method != want:
        return await send_json(writer, 405, {"code": 405, "msg": "method not allowed"}, keep_alive=keep)
    status, obj = 200, {}
    if req.path == "/v2/plugin/auth/state":
        obj = _login_state(fake)
    elif req.path == "/v2/plugin/auth/token":
        status, obj = _login_poll(fake, req.query.get("state", ""))
    elif req.path == "/v2/plugin/auth/token/refresh":
        status, obj = _refresh(fake, req.headers.get("x-refresh-token", ""))
    else:
        status, obj = _discovery(fake, req)
    return await send_json(writer, status, obj, keep_alive=keep)
