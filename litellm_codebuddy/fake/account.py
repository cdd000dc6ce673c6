"""Login, discovery and credits endpoints (experimental: they come from other clients' reports, not from docs).

Login: ``POST /v2/plugin/auth/state`` -> ``{"code":0,"data":{"state","authUrl"[,"interval"]}}``; ``GET
/v2/plugin/auth/token?state=S`` -> code 11217 (pending) for the first ``login_pending_polls`` polls of S, then
``{"code":0,"data":{"accessToken","refreshToken","expiresIn"}}``; ``POST /v2/plugin/auth/token/refresh`` with
``X-Refresh-Token`` -> a new token pair (the old refresh token stops working).  Issued access tokens are accepted
as keys by every endpoint until they expire.

Discovery (the chat endpoint's auth): ``GET /v3/config`` -> ``{"code":0,"data":{"models":[{"id","name"}]}}`` and
``GET /console/enterprises/personal/models`` -> ``{"code":0,"data":[{"id","name"}, ...]}``, by default for the
known models (``KNOWN_MODELS`` and the constructor's ``models=``); ``GET /v2/enterprises/personal/models`` (the
international site's) -> ``{"code":0,"data":[row, ...]}``, by default every ``models.ACCOUNT_MODELS`` row (``id``,
``name``, ``maxInputTokens``, ``maxOutputTokens``, ``supportsToolCall``, ``supportsReasoning``,
``supportsImages``) and the constructor's other models.

Credits (the chat endpoint's auth): ``POST /v2/billing/meter/get-user-resource`` with a filter body such as
``{"ProductCode":"p_tcaca","Status":[0,3]}`` -> ``{"code":0,"data":{"Response":{"RequestId","Data":{"Accounts":
[...]}}}}``.  Reported (cloviela-router, Foxrouters), not documented: the row shape is this fake's invention, one
package ``{"PackageName","PackageCode","CapacitySize","CapacityRemain","CapacityUsed","CycleStartTime",
"CycleEndTime","Status"}`` (Status 0: active; times ``YYYY-MM-DD HH:MM:SS`` UTC+8), listed when the body names
the ProductCode and, if it gives ``Status``, includes 0; an empty ``{}`` body gets no packages, as reported.

Attributes of ``FakeCodeBuddy`` that steer them: ``login_pending_polls`` (0), ``login_refuse`` (the poll answers
HTTP 403), ``login_expire`` (code 11218 "login state expired"), ``login_interval`` (announced poll interval, None),
``token_expires_in`` (86400; None omits it), ``refresh_fail`` (refresh answers HTTP 401), ``models_live`` (ids or
dicts listed by every discovery endpoint; None: the defaults above), ``discovery_fail`` (True: every discovery
endpoint answers 500; ``"v3"``: only ``/v3/config``), ``personal_models_fail`` (N: the next N calls of
``/v2/enterprises/personal/models`` answer HTTP 500, "reported to fail now and then"), ``credits_remaining``
(250.0) and ``credits_size`` (300.0) of the package, ``credits_fail`` (the credits endpoint answers HTTP 500);
``issue_token(expires_in)`` makes a token pair directly; ``account_requests`` records these requests.
"""

from __future__ import annotations

import datetime
import json
import uuid
from typing import TYPE_CHECKING, Any

from .codes import request_id
from .gateway import auth_error
from .http import Request, send_json
from .models import ACCOUNT_MODELS

if TYPE_CHECKING:
    import asyncio

    from .server import FakeCodeBuddy

PERSONAL_MODELS = "/v2/enterprises/personal/models"
CREDITS = "/v2/billing/meter/get-user-resource"
PRODUCT_CODE = "p_tcaca"
_POST_PATHS = frozenset({"/v2/plugin/auth/state", "/v2/plugin/auth/token/refresh", CREDITS})
_DISCOVERY = frozenset({"/v3/config", "/console/enterprises/personal/models", PERSONAL_MODELS})
PATHS = frozenset({*_POST_PATHS, *_DISCOVERY, "/v2/plugin/auth/token"})
_SERVER_ERROR: tuple[int, dict[str, Any]] = (500, {"code": 500, "msg": "Internal Server Error"})


def _token_answer(fake: FakeCodeBuddy) -> dict[str, Any]:
    access, refresh = fake.issue_token()
    data: dict[str, Any] = {"accessToken": access, "refreshToken": refresh, "tokenType": "Bearer"}
    if fake.token_expires_in is not None:
        data["expiresIn"] = fake.token_expires_in
    return {"code": 0, "msg": "OK", "data": data}


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


def _discovery_entries(fake: FakeCodeBuddy, path: str) -> list[dict[str, Any]]:
    entries: list[Any]
    if fake.models_live is not None:
        entries = fake.models_live
    elif path == PERSONAL_MODELS:
        entries = [*ACCOUNT_MODELS.values(), *sorted(fake.models - ACCOUNT_MODELS.keys())]
    else:
        entries = sorted(fake.models)
    out = []
    for entry in entries:
        item = dict(entry) if isinstance(entry, dict) else {"id": str(entry)}
        item.setdefault("name", item.get("id"))
        if path == "/v3/config":  # ids and names only
            item = {k: v for k, v in item.items() if k in ("id", "name")}
        out.append(item)
    return out


def _discovery(fake: FakeCodeBuddy, path: str) -> tuple[int, dict[str, Any]]:
    if fake.discovery_fail is True or (fake.discovery_fail == "v3" and path == "/v3/config"):
        return _SERVER_ERROR
    if path == PERSONAL_MODELS and fake.personal_models_fail > 0:
        fake.personal_models_fail -= 1
        return _SERVER_ERROR
    if path == "/v3/config":
        return 200, {"code": 0, "msg": "OK", "data": {"models": _discovery_entries(fake, path)}}
    return 200, {"code": 0, "msg": "OK", "data": _discovery_entries(fake, path)}


def _credits(fake: FakeCodeBuddy, body: bytes) -> tuple[int, dict[str, Any]]:
    if fake.credits_fail:
        return _SERVER_ERROR
    try:
        query = json.loads(body) if body else {}
    except ValueError:
        query = None
    if not isinstance(query, dict):
        return 400, {"code": 11101, "msg": "Parse message failed: 11101:invalid request (body)"}
    statuses = query.get("Status")
    accounts: list[dict[str, Any]] = []
    if query.get("ProductCode") == PRODUCT_CODE and (not isinstance(statuses, list) or 0 in statuses):
        tz = datetime.timezone(datetime.timedelta(hours=8))
        today = datetime.datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
        accounts.append(
            {
                "PackageName": "CodeBuddy Free",
                "PackageCode": "pkg_free_monthly",
                "CapacitySize": fake.credits_size,
                "CapacityRemain": fake.credits_remaining,
                "CapacityUsed": round(fake.credits_size - fake.credits_remaining, 4),
                "CycleStartTime": today.strftime("%Y-%m-%d %H:%M:%S"),
                "CycleEndTime": (today + datetime.timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S"),
                "Status": 0,
            }
        )
    data = {"Response": {"RequestId": request_id(), "Data": {"Accounts": accounts, "TotalCount": len(accounts)}}}
    return 200, {"code": 0, "msg": "OK", "data": data}


def _answer(fake: FakeCodeBuddy, req: Request) -> tuple[int, dict[str, Any]]:
    path = req.path
    if path == "/v2/plugin/auth/state":
        return 200, _login_state(fake)
    if path == "/v2/plugin/auth/token":
        return _login_poll(fake, req.query.get("state", ""))
    if path == "/v2/plugin/auth/token/refresh":
        return _refresh(fake, req.headers.get("x-refresh-token", ""))
    why = auth_error(req.headers, fake.api_key, fake.tokens)
    if why is not None:
        return 401, {"code": 401, "msg": f"unauthorized: {why}"}
    return _credits(fake, req.body) if path == CREDITS else _discovery(fake, path)


async def handle(fake: FakeCodeBuddy, req: Request, writer: asyncio.StreamWriter) -> bool:
    """Answer a request for one of ``PATHS``; returns whether the connection serves another."""
    fake._record_account(req)
    if req.method != ("POST" if req.path in _POST_PATHS else "GET"):
        return await send_json(writer, 405, {"code": 405, "msg": "method not allowed"}, keep_alive=req.keep_alive)
    status, obj = _answer(fake, req)
    return await send_json(writer, status, obj, keep_alive=req.keep_alive)
