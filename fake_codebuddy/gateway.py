"""The chat endpoint, ``POST /v2/chat/completions``: the gateway's steps, in the order it takes them.

1. record the request (``state.traffic``);
2. read the directives (``directives``; a bad one answers HTTP 400 "bad fake directive: ...");
3. act out a proxy-level fault (``reset``, ``slow``, ``redirect``, ``html``, ``http``);
4. auth (``auth``): failure answers HTTP 401 ``{"code": 401, "msg": "unauthorized: ...", ...}``;
5. the key's frequency limit (``FakeCodeBuddy.limit``): HTTP 429 6004 naming the reset time (or another code with
   ``x-ratelimit-reset``), until it;
6. an injected business error or refusal (``code=``, ``nested=``, ``refuse=``; only for ``for_model=`` when set);
   ``retry_policy=`` and ``ratelimit_reset=`` add to these two kinds of error answer;
7. the request checks (``checks``);
8. the prompt cache: what the request reads from it and writes to it (``billing``);
9. the answer stream (``answer`` says what it holds and what it costs, ``stream`` how it is written);
   ``refuse=softblock`` makes it the content-safety notice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import uuid
from collections.abc import Callable
from typing import Any

from .answer import Answer, enc
from .auth import auth_error
from .checks import validate
from .codes import business_message, error_body, request_id, status_of
from .directives import Faults, RequestDirectives, request_directives
from .http import Gone, Request, abort, is_gone, phrase, send, send_json, sleep_watching
from .models import input_window, picked
from .refusals import REFUSALS, Said, frequency_limit
from .state import FakeState
from .stream import write_stream
from .tokens import prompt_tokens

logger = logging.getLogger(__name__)

_HTML_PAGE = (
    "<html><head><title>{s} {p}</title></head><body><center><h1>{s} {p}</h1></center>"
    "<hr><center>nginx</center></body></html>"
)


async def _proxy_fault(
    f: Faults, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, keep: bool
) -> bool | None:
    """Act out a proxy-level fault; None: carry on."""
    if f.reset:
        abort(writer)
        return False
    if f.slow is not None:
        await sleep_watching(f.slow, reader, writer)
    if f.redirect is not None:
        return await send(writer, 307, b"", keep_alive=keep, extra=[("Location", f.redirect)])
    if f.html is not None:
        page = _HTML_PAGE.format(s=f.html, p=phrase(f.html)).encode()
        return await send(writer, f.html, page, keep_alive=keep, content_type="text/html")
    if f.http is not None:
        extra = [("Retry-After", f.retry_after or "7")] if f.http == 429 else []
        obj = {"code": f.http, "msg": phrase(f.http), "requestId": request_id()}
        return await send_json(writer, f.http, obj, keep_alive=keep, extra=extra)
    return None


def unauthorized_body(why: str) -> dict[str, Any]:
    return {
        "code": 401,
        "msg": f"unauthorized: {why}",
        "requestId": request_id(),
        "displayMsg": {"en": f"unauthorized: {why}", "zh": "未授权：API 密钥无效或缺失"},
    }


#: an error answer: (HTTP status, body, extra headers)
Failure = tuple[int, dict[str, Any], list[tuple[str, str]]]

_RETRY_POLICIES: dict[str, dict[str, Any]] = {
    "false": {"retry": False},
    "true": {"retry": True},
    "other": {"maxRetries": 3},
}


def _limited(state: FakeState, req: Request, body: Any) -> Failure | None:
    """HTTP 429 for a key over its frequency limit (for this model): 6004 naming its reset time in the message, or
    the limit's other code with ``x-ratelimit-reset`` naming it; or None."""
    model = body.get("model") if isinstance(body, dict) else None
    limit = state.limit_of(req.headers.get("x-api-key"), model)
    if limit is None:
        return None
    if limit.code != 6004:
        reset = [("x-ratelimit-reset", str(math.ceil(limit.reset.timestamp())))]
        return 429, error_body(limit.code), reset
    msg = frequency_limit(limit.reset, limit.lang)
    return 429, {"code": 6004, "msg": msg, "requestId": request_id(), "displayMsg": {"en": msg, "zh": msg}}, []


def _as_directed(f: Faults, failure: Failure) -> Failure:
    """``retry_policy=``, ``ratelimit_reset=`` and (under HTTP 429) ``retry_after=`` laid over an error answer."""
    status, obj, extra = failure
    if status == 429 and f.retry_after is not None:
        extra = [*(h for h in extra if h[0].lower() != "retry-after"), ("Retry-After", f.retry_after)]
    if f.retry_policy is not None:
        obj = {**obj, "retry_policy": _RETRY_POLICIES[f.retry_policy]}
    if f.ratelimit_reset is not None:
        extra = [*extra, ("x-ratelimit-reset", str(math.ceil(time.time() + f.ratelimit_reset)))]
    return status, obj, extra


def _said(body: Any) -> Said:
    """What an injected refusal names: the model, its window M (128,000 for a model without one) and a prompt of
    N = the request's own tokens + M, so that "prompt is too long: N tokens > M maximum" reads like the real one."""
    body = body if isinstance(body, dict) else {}
    messages = body.get("messages")
    messages = [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
    model = str(body.get("model"))
    window = input_window(model) or 128_000
    return Said(model=model, prompt_tokens=prompt_tokens(messages) + window, window=window)


def _injected_error(f: Faults, body: Any) -> Failure | None:
    """The business error or refusal ``code=``, ``nested=`` or ``refuse=`` asks for: (HTTP status, body), or None
    (also for another model than ``for_model=``'s, and for ``refuse=softblock``, an answer)."""
    model = body.get("model") if isinstance(body, dict) else None
    if f.for_model is not None and model != f.for_model:
        return None
    if f.refuse is not None:
        refusal = REFUSALS[f.refuse]
        if refusal.body is None:
            return None
        return f.status or refusal.status, refusal.body(_said(body)), []
    if f.code is not None:
        return f.status or status_of(f.code), error_body(f.code), []
    if f.nested is not None:
        status = f.status or 403
        msg = business_message(f.nested)[0]
        nested = {"error": {"code": -32603, "message": msg, "data": {"code": f.nested, "statusCode": status}}}
        return status, nested, []
    return None


async def admit(
    state: FakeState,
    req: Request,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    directed_by: Callable[[Any], Any] = lambda body: body,
) -> tuple[Any, RequestDirectives] | bool:
    """Steps 1 to 6 for any model request (chat, and ``images``): the body and its directives, or, once one of
    these steps has answered, whether the connection serves another. ``directed_by``: what of the body holds the
    directives, as a chat body (an image body's ``prompt`` as a user message)."""
    keep = req.keep_alive
    try:
        body: Any = json.loads(req.body)
    except ValueError:
        body = None
    state.traffic.record(req, body)
    try:
        directed = request_directives(state.faults, req.headers, directed_by(body))
    except ValueError as exc:
        return await send_json(writer, 400, {"code": 400, "msg": f"bad fake directive: {exc}"}, keep_alive=keep)
    f = directed.faults

    done = await _proxy_fault(f, reader, writer, keep)
    if done is not None:
        return done

    why = auth_error(req.headers, state)
    if why is not None:
        return await send_json(writer, 401, unauthorized_body(why), keep_alive=keep)

    failure = _limited(state, req, body) or _injected_error(f, body)
    if failure is not None:
        status, obj, extra = _as_directed(f, failure)
        return await send_json(writer, status, obj, keep_alive=keep, extra=extra)
    return body, directed


async def chat(state: FakeState, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Answer one chat request; returns whether the connection serves another."""
    keep = req.keep_alive
    admitted = await admit(state, req, reader, writer)
    if isinstance(admitted, bool):
        return admitted
    body, directed = admitted
    f = directed.faults

    refusal = validate(body, state)
    if refusal is not None:
        if refusal.body is not None:
            return await send_json(writer, refusal.status or 400, refusal.body, keep_alive=keep)
        if refusal.status is not None:
            obj = {"code": refusal.code, "msg": refusal.msg, "requestId": request_id()}
            return await send_json(writer, refusal.status, obj, keep_alive=keep)
        obj = error_body(refusal.code, refusal.msg)
        if refusal.param is not None:
            obj["extError"] = {"param": refusal.param}
        return await send_json(writer, f.status or 200, obj, keep_alive=keep)

    model = f.model or picked(body["model"])
    cached = state.cache.use(body)  # read before the answer, written for the next request (billing)
    notice = f.refuse == "softblock" and (f.for_model is None or f.for_model == body["model"])
    ans = Answer(f, body, enc(model), uuid.uuid4().hex[:12] + "_", seed=req.body, cache=cached, notice=notice)
    if is_gone(reader, writer):
        raise Gone
    try:
        return await write_stream(ans, directed.text, directed.images, reader, writer, keep)
    except Gone:
        state.traffic.stream_abandoned()
        logger.debug("client abandoned the stream")
        return False
