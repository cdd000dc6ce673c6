"""Login, discovery and credits endpoints (experimental: they come from other clients' reports, not from docs).

Login: ``POST /v2/plugin/auth/state`` -> ``{"code":0,"data":{"state","authUrl"[,"interval"]}}``; ``GET
/v2/plugin/auth/token?state=S`` -> code 11217 (pending) for the first ``login_pending_polls`` polls of S, then
``{"code":0,"data":{"accessToken","refreshToken","expiresIn"}}``; ``POST /v2/plugin/auth/token/refresh`` with
``X-Refresh-Token`` -> a new token pair (the old refresh token stops working); ``GET /v2/plugin/login/account``
(with the new access token; the official client's last step) -> ``{"code":0,"data":{"userId","userName",
"userNickname","enterpriseId"}}`` (``ACCOUNT``).  Issued access tokens are accepted
as keys by every endpoint until they expire.

Discovery (the chat endpoint's auth): ``GET /v3/config`` -> ``{"code":0,"data":{"agents":[{"name":"cli",
"models":[id, ...]}],"models":[row, ...]}}``, the shape the official client reads: the CLI's models as bare ids,
their specs as rows joined by id (``models.CONFIG_ROWS``: limits, ``contextWindow`` objects, ``reasoning``, tags; by
default also the two image models and a disabled row, which are in no agent's list), and
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

The knobs that steer them are fields of ``state.Account`` (and attributes of ``FakeCodeBuddy`` of the same names):
``login_pending_polls`` (0), ``login_refuse`` (the poll answers HTTP 403), ``login_expire`` (code 11218 "login
state expired"), ``login_interval`` (announced poll interval, None), ``token_expires_in`` (86400; None omits it),
``refresh_fail`` (refresh answers HTTP 401), ``models_live`` (ids or dicts listed by every discovery endpoint; None:
the defaults above; on ``/v3/config`` each id is in the cli agent's list and a dict's keys go over the model's
row), ``discovery_fail`` (True: every discovery endpoint answers 500; ``"v3"``: only ``/v3/config``; ``"12403"``:
``/v3/config`` answers HTTP 403 with code 12403, a User-Agent the gateway cannot parse), ``personal_models_fail``
(N: the next N calls of ``/v2/enterprises/personal/models`` answer HTTP 500, "reported to fail now and then"),
``credits_remaining`` (250.0) and ``credits_size`` (300.0) of the package, ``credits_fail`` (the credits endpoint
answers HTTP 500); ``issue_token(expires_in)`` makes a token pair directly; ``account_requests`` records these
requests.
"""

from __future__ import annotations

import asyncio
import datetime
import json
from typing import Any

from .auth import auth_error
from .codes import request_id
from .http import Request, send_json
from .models import ACCOUNT_MODELS, CLI_MODELS, CONFIG_ROWS, config_row
from .state import FakeState, LoginPoll

PERSONAL_MODELS = "/v2/enterprises/personal/models"
CREDITS = "/v2/billing/meter/get-user-resource"
PRODUCT_CODE = "p_tcaca"
_POST_PATHS = frozenset({"/v2/plugin/auth/state", "/v2/plugin/auth/token/refresh", CREDITS})
_DISCOVERY = frozenset({"/v3/config", "/console/enterprises/personal/models", PERSONAL_MODELS})
LOGIN_ACCOUNT = "/v2/plugin/login/account"
ACCOUNTS = "/v2/plugin/accounts"
PATHS = frozenset({*_POST_PATHS, *_DISCOVERY, "/v2/plugin/auth/token", LOGIN_ACCOUNT, ACCOUNTS})
#: the account ``GET /v2/plugin/login/account`` names (the official client's last login step)
ACCOUNT = {
    "userId": "fake-user-0001",
    "userName": "fake-user",
    "userNickname": "Fake User",
    "type": "personal",
    "enterpriseId": None,
}
_SERVER_ERROR: tuple[int, dict[str, Any]] = (500, {"code": 500, "msg": "Internal Server Error"})


def _token_answer(state: FakeState) -> dict[str, Any]:
    access, refresh = state.account.issue_token()
    data: dict[str, Any] = {"accessToken": access, "refreshToken": refresh, "tokenType": "Bearer"}
    if state.account.token_expires_in is not None:
        data["expiresIn"] = state.account.token_expires_in
    return {"code": 0, "msg": "OK", "data": data}


def _login_state(state: FakeState) -> dict[str, Any]:
    login = state.account.open_login()
    data: dict[str, Any] = {"state": login, "authUrl": f"{state.url}/login?state={login}"}
    if state.account.login_interval is not None:
        data["interval"] = state.account.login_interval
    return {"code": 0, "msg": "OK", "data": data}


_POLL_ANSWERS: dict[LoginPoll, tuple[int, dict[str, Any]]] = {
    LoginPoll.EXPIRED: (200, {"code": 11218, "msg": "login state expired or unknown"}),
    LoginPoll.REFUSED: (403, {"code": 403, "msg": "login refused by the user"}),
    LoginPoll.PENDING: (200, {"code": 11217, "msg": "login pending: waiting for the user"}),
}


def _login_poll(state: FakeState, login: str) -> tuple[int, dict[str, Any]]:
    poll = state.account.take_login_poll(login)
    if poll is LoginPoll.APPROVED:
        return 200, _token_answer(state)
    return _POLL_ANSWERS[poll]


def _refresh(state: FakeState, old: str) -> tuple[int, dict[str, Any]]:
    if not state.account.take_refresh(old):
        return 401, {"code": 14015, "msg": "refresh token invalid or expired"}
    return 200, _token_answer(state)


def _items(entries: list[Any]) -> list[dict[str, Any]]:
    out = []
    for entry in entries:
        item = dict(entry) if isinstance(entry, dict) else {"id": str(entry)}
        item.setdefault("name", item.get("id"))
        out.append(item)
    return out


def _discovery_entries(state: FakeState, path: str) -> list[dict[str, Any]]:
    entries: list[Any]
    if state.account.models_live is not None:
        entries = state.account.models_live
    elif path == PERSONAL_MODELS:
        entries = [*ACCOUNT_MODELS.values(), *sorted(state.models - ACCOUNT_MODELS.keys())]
    else:
        entries = sorted(state.models)
    return _items(entries)


def _config(state: FakeState) -> dict[str, Any]:
    """``/v3/config``'s ``data``: the cli agent's ids and the rows they join (every row has its model's figures)."""
    if state.account.models_live is not None:
        items = _items(state.account.models_live)
        ids = [str(item.get("id")) for item in items]
        rows = [{**config_row(str(item.get("id"))), **item} for item in items]
    else:
        extra = sorted(state.models - set(CLI_MODELS))
        ids = [*CLI_MODELS, *extra]
        rows = [*CONFIG_ROWS, *(config_row(m) for m in extra)]
    return {"agents": [{"name": "ide", "models": []}, {"name": "cli", "models": ids}], "models": rows}


def _discovery(state: FakeState, path: str) -> tuple[int, dict[str, Any]]:
    fail = state.account.discovery_fail
    if fail is True or (fail == "v3" and path == "/v3/config"):
        return _SERVER_ERROR
    if fail == "12403" and path == "/v3/config":
        return 403, {"code": 12403, "msg": "invalid user agent"}
    if path == PERSONAL_MODELS and state.account.take_personal_models_failure():
        return _SERVER_ERROR
    if path == "/v3/config":
        return 200, {"code": 0, "msg": "OK", "data": _config(state)}
    return 200, {"code": 0, "msg": "OK", "data": _discovery_entries(state, path)}


def _credits(state: FakeState, body: bytes) -> tuple[int, dict[str, Any]]:
    account = state.account
    if account.credits_fail:
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
                "CapacitySize": account.credits_size,
                "CapacityRemain": account.credits_remaining,
                "CapacityUsed": round(account.credits_size - account.credits_remaining, 4),
                "CycleStartTime": today.strftime("%Y-%m-%d %H:%M:%S"),
                "CycleEndTime": (today + datetime.timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S"),
                "Status": 0,
            }
        )
    data = {"Response": {"RequestId": request_id(), "Data": {"Accounts": accounts, "TotalCount": len(accounts)}}}
    return 200, {"code": 0, "msg": "OK", "data": data}


def _answer(state: FakeState, req: Request) -> tuple[int, dict[str, Any]]:
    path = req.path
    if path == "/v2/plugin/auth/state":
        return 200, _login_state(state)
    if path == "/v2/plugin/auth/token":
        return _login_poll(state, req.query.get("state", ""))
    if path == "/v2/plugin/auth/token/refresh":
        return _refresh(state, req.headers.get("x-refresh-token", ""))
    if path in (LOGIN_ACCOUNT, ACCOUNTS):  # the login's own access token, as a bearer token alone
        token = req.headers.get("authorization", "").partition(" ")[2].strip()
        if not state.account.token_valid(token):
            return 401, {"code": 401, "msg": "unauthorized: not a token this login issued"}
        data = dict(ACCOUNT) if path == LOGIN_ACCOUNT else {"accounts": [dict(ACCOUNT)]}
        return 200, {"code": 0, "msg": "OK", "data": data}
    why = auth_error(req.headers, state)
    if why is not None:
        return 401, {"code": 401, "msg": f"unauthorized: {why}"}
    return _credits(state, req.body) if path == CREDITS else _discovery(state, path)


async def handle(state: FakeState, req: Request, writer: asyncio.StreamWriter) -> bool:
    """Answer a request for one of ``PATHS``; returns whether the connection serves another."""
    state.traffic.record_account(req)
    if req.method != ("POST" if req.path in _POST_PATHS else "GET"):
        return await send_json(writer, 405, {"code": 405, "msg": "method not allowed"}, keep_alive=req.keep_alive)
    status, obj = _answer(state, req)
    return await send_json(writer, status, obj, keep_alive=req.keep_alive)
