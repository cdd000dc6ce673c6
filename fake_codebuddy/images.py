"""The image endpoints, ``POST /v2/images/generations`` and ``POST /v2/images/edits``: the gateway's envelope.

The steps are chat's (``gateway``), in the same order: record the request (``state.traffic``, with chat's), read
the directives (written in the ``prompt`` as ``FAKE:<name>`` tokens, in the ``X-Fake-Fault`` header or by
``set_fault``), act out a proxy-level fault, check the key (``auth``: HTTP 401), the key's frequency limit, an
injected business error (``code=``, ``nested=``, ``refuse=``; a business error under HTTP 200 unless ``status=``
says otherwise), then the body checks: ``model`` and ``prompt`` non-empty strings, ``size`` ``WxH``, ``n`` a whole
number from 1 to :data:`MAX_IMAGES`; an edit also needs ``image``, a non-empty list of base64 ``data:`` URLs (else
11135 "invalid image data"). A bad body answers 11101 with what is wrong.

The answer: ``{"code": 0, "msg": "success", "request_id", "data": {"data": [{"b64_json": PNG}, ...],
"usage": {"credit": n x CREDITS_PER_IMAGE}}}``, ``n`` images (the body's ``n``, 1 without one), each an 8x8 PNG
whose colours come from a hash of the prompt (the directives removed), the image's index and, for an edit, the
images sent: the same request gives the same pictures. ``size`` is checked, not honoured.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import re
import struct
import zlib
from typing import Any

from .codes import error_body, request_id
from .gateway import admit
from .http import Request, send_json
from .state import FakeState

__all__ = ["CREDITS_PER_IMAGE", "EDITS", "GENERATIONS", "MAX_IMAGES", "PATHS", "answer", "handle", "png"]

GENERATIONS = "/v2/images/generations"
EDITS = "/v2/images/edits"
PATHS = frozenset({GENERATIONS, EDITS})
#: the fake's price of one image (the gateway prices images per image; its figure is not known)
CREDITS_PER_IMAGE = 4.0
MAX_IMAGES = 4
SIDE = 8

_SIZE = re.compile(r"^[1-9][0-9]{1,4}[x*][1-9][0-9]{1,4}$")
_DATA_URL = re.compile(r"^data:image/[a-z0-9.+-]+;base64,(?P<data>[A-Za-z0-9+/=\s]+)$", re.IGNORECASE)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(seed: bytes, side: int = SIDE) -> bytes:
    """A ``side`` x ``side`` RGB PNG whose pixels come from SHA-256 of ``seed`` (the same seed, the same bytes)."""
    stream = b""
    counter = 0
    while len(stream) < side * side * 3:
        stream += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    rows = b"".join(b"\x00" + stream[y * side * 3 : (y + 1) * side * 3] for y in range(side))
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b"")


def _bad_body(body: Any, edit: bool) -> tuple[int, str] | None:
    """(code, msg) for a body the gateway would refuse, or None."""
    if not isinstance(body, dict):
        return 11101, "invalid request: the body is not a JSON object"
    for key in ("model", "prompt"):
        if not isinstance(body.get(key), str) or not body[key].strip():
            return 11101, f"invalid request: {key} must be a non-empty string"
    size = body.get("size")
    if size is not None and not (isinstance(size, str) and _SIZE.match(size)):
        return 11101, f"invalid request: size must be WIDTHxHEIGHT, got {str(size)[:40]!r}"
    n = body.get("n", 1)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_IMAGES:
        return 11101, f"invalid request: n must be a whole number from 1 to {MAX_IMAGES}"
    if edit:
        images = body.get("image")
        if not isinstance(images, list) or not images:
            return 11101, "invalid request: image must be a non-empty list of data: URLs"
        for url in images:
            match = _DATA_URL.match(url) if isinstance(url, str) else None
            try:
                if match is None or not base64.b64decode(match["data"], validate=False):
                    return 11135, "invalid image data"
            except (binascii.Error, ValueError):
                return 11135, "invalid image data"
    return None


def answer(body: dict[str, Any], prompt: str) -> dict[str, Any]:
    """The envelope for a good body: ``n`` images seeded by the prompt, their index and the images sent."""
    n = body.get("n", 1)
    sent = json.dumps(body.get("image") or [], separators=(",", ":")).encode()
    images = [
        {"b64_json": base64.b64encode(png(prompt.encode() + b"\x00" + str(i).encode() + sent)).decode("ascii")}
        for i in range(n)
    ]
    credit = round(n * CREDITS_PER_IMAGE, 4)
    return {
        "code": 0,
        "msg": "success",
        "request_id": request_id(),
        "data": {"data": images, "usage": {"credit": credit}},
    }


def _as_message(body: Any) -> dict[str, Any]:
    """The image body's ``prompt`` as a chat body's user message, where the directives are read."""
    prompt = body.get("prompt") if isinstance(body, dict) else None
    return {"messages": [{"role": "user", "content": prompt if isinstance(prompt, str) else ""}]}


async def handle(state: FakeState, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Answer one image request; returns whether the connection serves another."""
    keep = req.keep_alive
    admitted = await admit(state, req, reader, writer, _as_message)
    if isinstance(admitted, bool):
        return admitted
    body, directed = admitted
    f = directed.faults
    bad = _bad_body(body, edit=req.path == EDITS)
    if bad is not None:
        return await send_json(writer, f.status or 200, error_body(*bad), keep_alive=keep)
    return await send_json(writer, 200, answer(body, directed.text), keep_alive=keep)
