"""Pure image requests and answers: the body per model family, the gateway's envelope, LiteLLM's ImageResponse.

The gateway makes pictures at ``POST {base}/images/generations`` and edits them at ``POST {base}/images/edits``
(docs/gateway.md#images), with the same key headers as chat and a JSON answer (no stream). The body depends on the
model's family, as the official client builds it:

- ``hunyuan-*``: ``model``, ``prompt``, ``size`` (default ``"1024x1024"``), ``n`` (default 1), and ``footnote`` and
  ``revise: {"value": bool}`` when given;
- ``gemini-*``: ``model``, ``prompt``, ``size``, nothing more;
- any other: ``model``, ``prompt``, ``size``, ``response_format: "b64_json"``, and ``n``, ``quality``, ``style``,
  ``background`` when given.

An edit is the same body plus ``image`` (a list of ``data:`` URLs) and ``input_fidelity`` when given.

The answer is an envelope, ``{"code": 0, "msg", "request_id", "data": {"data": [{"b64_json"} or {"url"}],
"usage": {"credit"}}}``; a non-zero ``code`` (or a status other than 200) is an error, mapped through the same
table as chat (:func:`~.errors.error_from_response`). The credit is kept on the response (``usage.credit`` and
``_hidden_params["codebuddy_credit"]``) and, with a credit cost, priced (``_hidden_params["response_cost"]``, which
LiteLLM takes as the call's cost and the proxy as its spend).

Where the options come from (:func:`image_options`): LiteLLM 1.108.7 hands a custom provider's ``image_generation``
only the parameters it does not know itself (``footnote``, ``revise``, ``background``, ...) and ``extra_body``; it
keeps ``n``, ``size``, ``quality``, ``style`` and ``response_format`` back, and ``image_edit`` keeps ``extra_body``
back too. So the options are read, in increasing precedence, from the proxy's request body
(``litellm_params.proxy_server_request.body``, where the proxy's ``/v1/images/*`` routes put what the client sent),
``optional_params`` and ``optional_params["extra_body"]``.
"""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import litellm
from litellm.types.utils import ImageObject, ImageResponse, ImageUsage, ImageUsageInputTokensDetails

from ..endpoint import PROVIDER, BadBaseURL, api_root, auth_headers, switch
from .errors import error_from_response
from .params import bad_request
from .stream import credits_cost

__all__ = [
    "DEFAULT_N",
    "DEFAULT_SIZE",
    "EDITS_PATH",
    "GENERATIONS_PATH",
    "ImageAnswer",
    "ImageRequest",
    "build_image_response",
    "data_url",
    "edit_body",
    "family",
    "generation_body",
    "image_options",
    "prepare_image_request",
    "read_envelope",
]

GENERATIONS_PATH = "/images/generations"
EDITS_PATH = "/images/edits"
DEFAULT_SIZE = "1024x1024"
DEFAULT_N = 1

Family = Literal["hunyuan", "gemini", "other"]

#: the options a body may carry besides model and prompt (what :func:`image_options` picks up)
OPTION_KEYS = ("size", "n", "quality", "style", "background", "response_format", "footnote", "revise", "input_fidelity")

#: image formats recognised from their first bytes, for the ``data:`` URL of an upload without a content type
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def family(model: str) -> Family:
    """The model family whose body rules apply: by the id's prefix, case-sensitive, as the official client decides."""
    if model.startswith("hunyuan-"):
        return "hunyuan"
    if model.startswith("gemini-"):
        return "gemini"
    return "other"


def image_options(
    optional_params: Mapping[str, Any] | None, proxy_body: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The options of one call (:data:`OPTION_KEYS` only, None values left out): the proxy's request body first,
    then ``optional_params``, then its ``extra_body``, each winning over the one before."""
    params = optional_params or {}
    extra = params.get("extra_body")
    options: dict[str, Any] = {}
    for source in (proxy_body, params, extra if isinstance(extra, Mapping) else None):
        for key in OPTION_KEYS:
            if source and source.get(key) is not None:
                options[key] = source[key]
    return options


def _count(value: Any, model: str) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise bad_request(f"n must be a whole number of images, got {str(value)[:40]!r}", model) from None
    if isinstance(value, bool) or n < 1 or n != float(value):
        raise bad_request(f"n must be a whole number of images >= 1, got {str(value)[:40]!r}", model)
    return n


def _revise(value: Any) -> dict[str, bool]:
    """``revise`` as the gateway takes it, ``{"value": bool}``; a bare bool (or "true"/"false") is wrapped."""
    if isinstance(value, Mapping):
        value = value.get("value")
    if isinstance(value, str):
        return {"value": switch(value) is True}
    return {"value": bool(value)}


def generation_body(model: str, prompt: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The ``/images/generations`` body for ``model``'s family (see the module's docstring)."""
    if not model or not model.strip():
        raise bad_request("the model id is empty: use codebuddy/<model id>, e.g. codebuddy/hunyuan-image-v3.0", model)
    if not isinstance(prompt, str) or not prompt.strip():
        raise bad_request("the prompt is empty: say what the image should show", model)
    size = options.get("size") or DEFAULT_SIZE
    if not isinstance(size, str):
        raise bad_request(f"size must be a string such as '1024x1024', got {type(size).__name__}", model)
    body: dict[str, Any] = {"model": model, "prompt": prompt, "size": size}
    kind = family(model)
    if kind == "hunyuan":
        body["n"] = _count(options.get("n", DEFAULT_N), model)
        if options.get("footnote") is not None:
            body["footnote"] = str(options["footnote"])
        if options.get("revise") is not None:
            body["revise"] = _revise(options["revise"])
    elif kind == "other":
        body["response_format"] = "b64_json"
        if options.get("n") is not None:
            body["n"] = _count(options["n"], model)
        for key in ("quality", "style", "background"):
            if options.get(key) is not None:
                body[key] = options[key]
    return body


def edit_body(model: str, prompt: str, images: Sequence[str], options: Mapping[str, Any]) -> dict[str, Any]:
    """The ``/images/edits`` body: the generation body plus ``image`` (``data:`` URLs) and ``input_fidelity``."""
    if not images:
        raise bad_request("an image edit needs at least one image", model)
    body = generation_body(model, prompt, options)
    body["image"] = list(images)
    if options.get("input_fidelity") is not None:
        body["input_fidelity"] = options["input_fidelity"]
    return body


def data_url(content: bytes, content_type: str | None = None) -> str:
    """A ``data:`` URL for an uploaded image; without a content type (or with a generic one) the type is read
    from the image's first bytes (PNG, JPEG, GIF, WebP), else ``image/png``."""
    if not content_type or not content_type.startswith("image/"):
        content_type = next((kind for magic, kind in _MAGIC if content.startswith(magic)), None)
        if content_type is None:
            content_type = "image/webp" if content[:4] == b"RIFF" and content[8:12] == b"WEBP" else "image/png"
    return f"data:{content_type};base64,{base64.b64encode(content).decode('ascii')}"


@dataclass(frozen=True)
class ImageRequest:
    """One image request, built without I/O: the URL, the headers and the JSON body (as objects and as bytes)."""

    url: str
    headers: dict[str, str] = field(repr=False)
    body: dict[str, Any] = field(repr=False)
    content: bytes = field(repr=False)
    model: str = ""
    api_key: str = field(default="", repr=False)

    def loggable_body(self) -> dict[str, Any]:
        """The body with each uploaded image shortened to its type and size (for logs and LiteLLM's pre_call)."""
        images = self.body.get("image")
        if not isinstance(images, list):
            return self.body
        short = [f"{url.partition(',')[0]},<{len(url)} characters>" for url in images]
        return {**self.body, "image": short}


def prepare_image_request(
    model: str,
    body: dict[str, Any],
    api_key: str,
    api_base: str | None,
    *,
    edit: bool = False,
    private_data: bool = False,
) -> ImageRequest:
    """The request for a body from :func:`generation_body` or :func:`edit_body`; BadRequestError for a bad base.
    ``private_data``: the privacy opt-out, ``X-Private-Data`` as on chat (docs/gateway.md#privacy-header)."""
    try:
        root = api_root(api_base)
    except BadBaseURL as exc:
        raise bad_request(str(exc), model) from None
    headers = {**auth_headers(api_key), "Content-Type": "application/json", "Accept": "application/json"}
    headers["X-Private-Data"] = "true" if private_data else "false"
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    url = root + (EDITS_PATH if edit else GENERATIONS_PATH)
    return ImageRequest(url=url, headers=headers, body=body, content=content, model=model, api_key=api_key)


@dataclass(frozen=True)
class ImageAnswer:
    """What a successful envelope holds."""

    images: list[dict[str, Any]]
    credit: float | None = None
    request_id: str | None = None


def _bad_answer(message: str, model: str) -> litellm.APIError:
    return litellm.APIError(status_code=502, message=message, llm_provider=PROVIDER, model=model)


def _credit(usage: Any) -> float | None:
    """``usage.credit`` when it is a finite number >= 0 (what the official client keeps), else None."""
    value = usage.get("credit") if isinstance(usage, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        return None
    return float(value)


def read_envelope(
    status: int, headers: Mapping[str, str], content: bytes, model: str, *, secrets: tuple[str | None, ...] = ()
) -> ImageAnswer:
    """The images of a 200 ``{"code": 0, ...}`` envelope; the mapped LiteLLM exception for anything else (a
    non-zero code, another status, or a body that is not the envelope, or holds no image)."""
    try:
        body = json.loads(content) if status == 200 else None
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("code") not in (0, "0"):
        # a business error by its code, any other status by its status, anything else a bad gateway answer
        raise error_from_response(status, dict(headers), content, model, secrets=secrets)
    data = body.get("data")
    items = data.get("data") if isinstance(data, dict) else None
    images = items if isinstance(items, list) else []
    request_id = body.get("request_id") or body.get("requestId")
    if not images:
        raise _bad_answer(f"CodeBuddy answered code 0 with no image (request_id={request_id})", model)
    if not all(isinstance(i, dict) and (i.get("b64_json") or i.get("url")) for i in images):
        # never a silent partial answer: the official client refuses such an item too
        raise _bad_answer(
            f"CodeBuddy image answer holds an item with neither b64_json nor url (request_id={request_id})", model
        )
    usage = data.get("usage") if isinstance(data, dict) else None
    return ImageAnswer(images, _credit(usage), str(request_id) if request_id else None)


def build_image_response(
    model_response: ImageResponse | None, answer: ImageAnswer, credit_cost: float | None = None
) -> ImageResponse:
    """LiteLLM's ImageResponse for an answer: ``data[]`` (``b64_json`` or ``url``, with ``revised_prompt`` when
    the gateway gives one), ``created``, ``usage.credit``, and the credit (and its cost) in the hidden params."""
    response = model_response if model_response is not None else ImageResponse()
    response.created = int(time.time())
    response.data = [
        ImageObject(b64_json=i.get("b64_json"), url=i.get("url"), revised_prompt=i.get("revised_prompt"))
        for i in answer.images
    ]
    usage = ImageUsage(
        input_tokens=0,
        input_tokens_details=ImageUsageInputTokensDetails(image_tokens=0, text_tokens=0),
        output_tokens=0,
        total_tokens=0,
    )
    if answer.credit is not None:
        usage.credit = answer.credit  # type: ignore[attr-defined]  # extra fields are allowed
    response.usage = usage
    hidden = dict(response.hidden_params or {})
    if answer.credit is not None:
        hidden["codebuddy_credit"] = answer.credit
    if answer.request_id:
        hidden["codebuddy_request_id"] = answer.request_id
    cost = credits_cost(answer.credit, credit_cost)
    if cost is not None:
        hidden["response_cost"] = cost
    response.hidden_params = hidden
    return response
