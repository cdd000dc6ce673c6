"""The chat endpoint, ``POST /v2/chat/completions``: the gateway's rules, in the order it applies them.

Auth: both ``Authorization: Bearer <key>`` and ``X-API-Key: <key>`` must be present and equal.  With
``api_key=None`` any ``ck_<something>`` key is accepted, otherwise exactly ``api_key``; access tokens issued by the
login endpoints (``account``) are accepted until they expire.  Failure: HTTP 401
``{"code": 401, "msg": "unauthorized: ..."}``.

Request checks, in this order (error bodies and their HTTP status: see ``codes``):

1. auth (above);
2. the body is a JSON object with a non-empty ``messages`` list of objects, else 11101;
3. ``stream`` is true, else 11101 "Non-stream chat request is currently not supported";
4. some message is a system message, else 11101 "Parse message failed: 11101:invalid request";
5. the first message is the system message, else 11128 "first message is not system prompt";
6. no ``developer`` role, else 11128;
7. no two consecutive assistant messages, else 11133;
8. no empty content (missing, ``None``, ``""``, ``[]``) unless an assistant message carries ``tool_calls``, else
   11151;
9. ``tool_choice`` is absent or a string, else 11101;
10. tool schemas contain no ``$ref``/``$defs``/``allOf`` key, else HTTP **400** ``{"code":400,"msg":"Invalid request
    parameters"}`` (always 400);
11. every tool message's ``tool_call_id`` matches an earlier assistant ``tool_calls`` id, else 11148;
12. no system prompt names another coding agent ("claude code", "cursor", "cline", "roo code", "kilo code",
    "codex cli", case-insensitive), else 11140 "Illegal API invocation from an unapproved channel";
13. ``model`` is a bare known id (``models.KNOWN_MODELS`` and ``models.ACCOUNT_MODELS``, anything starting with
    ``fake-``, or the ``models=`` given to the constructor), else 11102 "service info not found for the model";
14. content parts are ``{"type":"text","text":str,...}`` or exactly
    ``{"type":"image_url","image_url":{"url":str}}`` (no other keys, no other part types), else 11101;
15. ``reasoning_effort`` "none"/"off" -> 11150.

The directives (``directives``) wrap these rules: proxy-level faults come before auth, injected business errors
(``code=``, ``nested=``) after auth and before the checks; a request that passes gets the answer stream
(``answer`` says what it holds, ``stream`` how it is written).
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from collections.abc import Mapping, Set
from typing import TYPE_CHECKING, Any

from .answer import Answer, enc
from .codes import business_message, error_body, request_id
from .directives import request_directives
from .http import Gone, Request, abort, is_gone, phrase, send, send_json, sleep_watching
from .messages import is_empty, text_of
from .models import ACCOUNT_MODELS
from .stream import write_stream

if TYPE_CHECKING:
    import asyncio

    from .server import FakeCodeBuddy

logger = logging.getLogger(__name__)

UNAPPROVED_AGENTS: tuple[str, ...] = ("claude code", "cursor", "cline", "roo code", "kilo code", "codex cli")

_HTML_PAGE = (
    "<html><head><title>{s} {p}</title></head><body><center><h1>{s} {p}</h1></center>"
    "<hr><center>nginx</center></body></html>"
)


def auth_error(headers: Mapping[str, str], api_key: str | None, tokens: Mapping[str, float]) -> str | None:
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
    if tokens.get(bearer, 0.0) > time.time():  # an access token issued by the login endpoints
        return None
    if api_key is None:
        if not (bearer.startswith("ck_") and len(bearer) > 3):
            return "invalid API key"
    elif bearer != api_key:
        return "invalid API key"
    return None


def _has_schema_refs(node: Any) -> bool:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("$ref", "$defs", "allOf") or _has_schema_refs(value):
                return True
    elif isinstance(node, list):
        return any(_has_schema_refs(item) for item in node)
    return False


def _good_part(part: Any) -> bool:
    if not isinstance(part, dict):
        return False
    kind = part.get("type")
    if kind == "text":
        return isinstance(part.get("text"), str)
    if kind == "image_url":
        image = part.get("image_url")
        return (
            set(part) == {"type", "image_url"}
            and isinstance(image, dict)
            and set(image) == {"url"}
            and isinstance(image["url"], str)
        )
    return False


def validate(body: Any, models: Set[str]) -> tuple[int | None, int, str] | None:
    """(forced HTTP status or None, code, msg) of the first failed check (2 to 15), or None."""
    if not isinstance(body, dict):
        return None, 11101, "Parse message failed: 11101:invalid request (body is not a JSON object)"
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) for m in msgs):
        return None, 11101, "Parse message failed: 11101:invalid request (messages)"
    if body.get("stream") is not True:
        return None, 11101, "Non-stream chat request is currently not supported"
    roles = [m.get("role") for m in msgs]
    if "system" not in roles:
        return None, 11101, "Parse message failed: 11101:invalid request"
    if roles[0] != "system":
        return None, 11128, "first message is not system prompt"
    if "developer" in roles:
        return None, 11128, "request illegal: role developer is not supported"
    for first, second in itertools.pairwise(roles):
        if first == second == "assistant":
            return None, 11133, "invalid parameter: consecutive assistant messages"
    for m in msgs:
        if is_empty(m.get("content")) and not (m.get("role") == "assistant" and m.get("tool_calls")):
            return None, 11151, "message content must not be empty"
    if body.get("tool_choice") is not None and not isinstance(body.get("tool_choice"), str):
        return None, 11101, "Parse message failed: 11101:invalid request (tool_choice)"
    if _has_schema_refs(body.get("tools")):
        return 400, 400, "Invalid request parameters"
    seen: set[Any] = set()
    for m in msgs:
        if m.get("role") == "assistant" and isinstance(m.get("tool_calls"), list):
            seen.update(c.get("id") for c in m["tool_calls"] if isinstance(c, dict))
        elif m.get("role") == "tool" and m.get("tool_call_id") not in seen:
            return None, 11148, "invalid tool call sequence: tool result without a matching tool call"
    for m in msgs:
        if m.get("role") == "system":
            text = text_of(m.get("content")).lower()
            if any(name in text for name in UNAPPROVED_AGENTS):
                return None, 11140, "Illegal API invocation from an unapproved channel"
    model = body.get("model")
    if not isinstance(model, str) or not (model in models or model.startswith("fake-")):
        return None, 11102, "service info not found for the model"
    for m in msgs:
        content = m.get("content")
        if content is not None and not isinstance(content, (str, list)):
            return None, 11101, "Parse message failed: 11101:invalid request (content)"
        if isinstance(content, list) and not all(_good_part(p) for p in content):
            return None, 11101, "Parse message failed: 11101:invalid request (content part)"
    effort = body.get("reasoning_effort")
    if isinstance(effort, str) and effort.lower() in ("none", "off"):
        return None, 11150, "reasoning_effort value is not supported by this model"
    return None


async def _proxy_fault(
    d: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter, keep: bool
) -> bool | None:
    """Act out a proxy-level fault (``reset``, ``slow``, ``redirect``, ``html``, ``http``); None: carry on."""
    if d.get("reset"):
        abort(writer)
        return False
    if "slow" in d:
        await sleep_watching(d["slow"], reader, writer)
    if "redirect" in d:
        return await send(writer, 307, b"", keep_alive=keep, extra=[("Location", d["redirect"])])
    if "html" in d:
        page = _HTML_PAGE.format(s=d["html"], p=phrase(d["html"])).encode()
        return await send(writer, d["html"], page, keep_alive=keep, content_type="text/html")
    if "http" in d:
        status = d["http"]
        extra = [("Retry-After", str(d.get("retry_after", 7)))] if status == 429 else []
        obj = {"code": status, "msg": phrase(status), "requestId": request_id()}
        return await send_json(writer, status, obj, keep_alive=keep, extra=extra)
    return None


def unauthorized_body(why: str) -> dict[str, Any]:
    return {
        "code": 401,
        "msg": f"unauthorized: {why}",
        "requestId": request_id(),
        "displayMsg": {"en": f"unauthorized: {why}", "zh": "未授权：API 密钥无效或缺失"},
    }


async def chat(fake: FakeCodeBuddy, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Answer one chat request; returns whether the connection serves another."""
    keep = req.keep_alive
    try:
        body: Any = json.loads(req.body)
    except ValueError:
        body = None
    fake._record(req, body)
    try:
        d, text, images = request_directives(fake._fault, req.headers, body)
    except ValueError as exc:
        return await send_json(writer, 400, {"code": 400, "msg": f"bad fake directive: {exc}"}, keep_alive=keep)

    done = await _proxy_fault(d, reader, writer, keep)
    if done is not None:
        return done

    why = auth_error(req.headers, fake.api_key, fake.tokens)
    if why is not None:
        return await send_json(writer, 401, unauthorized_body(why), keep_alive=keep)

    status = d.get("status", 200)
    if "code" in d:
        return await send_json(writer, status, error_body(d["code"]), keep_alive=keep)
    if "nested" in d:
        nested_status = d.get("status", 403)
        msg = business_message(d["nested"])[0]
        obj: dict[str, Any] = {
            "error": {"code": -32603, "message": msg, "data": {"code": d["nested"], "statusCode": nested_status}}
        }
        return await send_json(writer, nested_status, obj, keep_alive=keep)

    failed = validate(body, fake.models | ACCOUNT_MODELS.keys())
    if failed is not None:
        forced, code, msg = failed
        if forced is not None:
            obj = {"code": code, "msg": msg, "requestId": request_id()}
            return await send_json(writer, forced, obj, keep_alive=keep)
        return await send_json(writer, status, error_body(code, msg), keep_alive=keep)

    model = d.get("model") or body["model"]
    ans = Answer(d=d, body=body, model_json=enc(model), rid=uuid.uuid4().hex[:12] + "_")
    if is_gone(reader, writer):
        raise Gone
    try:
        return await write_stream(ans, text, images, reader, writer, keep)
    except Gone:
        fake.disconnects += 1
        logger.debug("client abandoned the stream")
        return False
