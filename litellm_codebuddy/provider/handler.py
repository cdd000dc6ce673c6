"""The LiteLLM handler: moves bytes between LiteLLM and CodeBuddy; the rules live in the pure modules.

Each entry point reads LiteLLM's arguments into a :class:`~.call.Call`, resolves the key (the stored login is read
in a worker thread on the async paths), builds the request (:mod:`.request`), sends it with a pooled client
(:mod:`.transport`) and drives a :class:`~.pump.Pump` with the body's bytes (:mod:`.coalesce` picks the source).
Every call streams upstream (the gateway only streams); a caller that asked for a plain answer gets one built from
the stream. Redirects are never followed; ``timeout`` is enforced as connect and between-bytes limits.

Images (``image_generation``, ``image_edit`` and their async forms) are one JSON request and one JSON answer each:
:mod:`.images` builds the body and reads the envelope, :class:`_ImageExchange` holds the steps both paths share.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import httpx
import litellm
from litellm.litellm_core_utils.litellm_logging import RawRequestCaptured
from litellm.llms.custom_llm import CustomLLM
from litellm.types.utils import ImageResponse, ModelResponse

from ..account.credentials import direct_key, resolve_key
from ..endpoint import PROVIDER, credit_cost, redact_headers
from .call import Call
from .coalesce import async_source, sync_source
from .errors import error_from_response, routed_refusal, transport_error, undecodable_stream, upstream_of
from .forbid import Answer, Forbidden
from .images import (
    ImageRequest,
    build_image_response,
    data_url,
    edit_body,
    generation_body,
    image_options,
    prepare_image_request,
    read_envelope,
)
from .params import bad_request
from .promptcount import PromptCounter
from .pump import Pump
from .request import PreparedRequest, prepare_request
from .sse import SSEDecodeError
from .stream import StreamState
from .transport import Clients

__all__ = ["CodeBuddyLLM"]

logger = logging.getLogger(__name__)

_STREAM_FAILURES = (httpx.HTTPError, SSEDecodeError)
PROMPTS = PromptCounter()
"""The local prompt count shared by every call of this process (bounded; holds digests and counts only)."""
FORBIDDEN = Forbidden()
"""The requests the gateway forbade retrying, shared by every call of this process (bounded; digests only)."""


class _Exchange:
    """One request and its answer: the pure steps both the sync and the async paths share."""

    __slots__ = ("call", "prep", "state")

    def __init__(self, call: Call, key: str, *, accumulate: bool) -> None:
        self.call = call
        self.prep = prep = prepare_request(
            call.model, call.messages, call.params, key, call.api_base, call.headers, call.policy
        )
        _log_request(call, prep)
        body, encoded = prep.body, prep.encoded

        def count_prompt() -> int:
            """The prompt as sent, tools included (only when the gateway's usage has no prompt_tokens)."""
            return PROMPTS.count(
                body["messages"],
                body.get("tools"),
                body.get("tool_choice"),
                message_keys=encoded.message_json(),
                tools_key=encoded.tools_json(),
            )

        self.state = StreamState(
            prep.model, count_prompt, accumulate=accumulate, secrets=(key,), credit_cost=_credit_cost()
        )

    def request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        prep = self.prep
        return http.build_request(
            "POST", prep.url, headers=prep.headers, content=prep.encoded.content, timeout=self.call.timeout
        )

    def failed(self, exc: Exception) -> Exception:
        """The LiteLLM exception for a transport or decoding failure."""
        prep = self.prep
        if isinstance(exc, SSEDecodeError):
            return undecodable_stream(exc, prep.model)
        return transport_error(exc, prep.model, prep.url, self.call.timeout, prep.api_key)

    @staticmethod
    def unexpected(resp: httpx.Response) -> bool:
        return resp.status_code != 200 or "text/event-stream" not in resp.headers.get("content-type", "")

    def non_sse_answer(self, resp: httpx.Response, content: bytes) -> list[Any]:
        """A 200 JSON body: an error object (raised) or, leniently, a whole completion (one event)."""
        prep, state = self.prep, self.state
        if resp.status_code == 200 and "json" in resp.headers.get("content-type", ""):
            try:
                body = json.loads(content)
            except ValueError:
                body = None
            if isinstance(body, dict) and body.get("choices"):
                return state.feed([content.decode("utf-8")]) + state.close()
        exc = error_from_response(resp.status_code, dict(resp.headers), content, prep.model, secrets=(prep.api_key,))
        self.remember(exc, Answer(resp.status_code, dict(resp.headers), content))
        raise exc

    def remember(self, exc: BaseException, answer: Answer | None = None) -> None:
        """Remember an answer whose ``retry_policy`` forbids retrying (``answer``: as it came; else, for an error
        object inside a stream, the object the exception was built from)."""
        said = upstream_of(exc)
        if said is None or said.retry_policy != "forbid":
            return
        if answer is None:
            response = getattr(exc, "response", None)
            content = response.content if isinstance(response, httpx.Response) else b""
            answer = Answer(said.http_status, {}, content)
        FORBIDDEN.remember(self.prep.api_key, self.prep.body["messages"], answer)

    def forbidden(self) -> None:
        """Raise the remembered answer when the gateway forbade sending these messages on this key again."""
        prep = self.prep
        answer = FORBIDDEN.answer_for(prep.api_key, prep.body["messages"])
        if answer is not None:
            note = "Not sent again: the gateway's retry_policy forbade retrying it (docs/gateway.md#retry-policy)."
            raise error_from_response(
                answer.status, answer.headers, answer.content, prep.model, secrets=(prep.api_key,), note=note
            )

    def response(self) -> ModelResponse:
        return self.state.build_response(self.call.model_response or ModelResponse())


class _ImageExchange:
    """One image generation or edit: the pure steps both the sync and the async paths share (:mod:`.images`)."""

    __slots__ = ("call", "prep")

    def __init__(self, call: Call, key: str, images: Sequence[str] | None) -> None:
        self.call = call
        options = image_options(call.params, _proxy_body(call))
        if images is None:
            body = generation_body(call.model, call.messages, options)
        else:
            body = edit_body(call.model, call.messages, images, options)
        self.prep = prep = prepare_image_request(
            call.model, body, key, call.api_base, edit=images is not None, private_data=call.policy.private_data
        )
        _log_image_request(call, prep)

    def request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        prep = self.prep
        return http.build_request(
            "POST", prep.url, headers=prep.headers, content=prep.content, timeout=self.call.timeout
        )

    def failed(self, exc: Exception) -> Exception:
        prep = self.prep
        return transport_error(exc, prep.model, prep.url, self.call.timeout, prep.api_key)

    def response(self, resp: httpx.Response) -> ImageResponse:
        prep = self.prep
        answer = read_envelope(resp.status_code, resp.headers, resp.content, prep.model, secrets=(prep.api_key,))
        return build_image_response(self.call.model_response, answer, _credit_cost())


def _proxy_body(call: Call) -> Mapping[str, Any] | None:
    """The body the proxy's ``/v1/images/*`` route received (LiteLLM keeps ``n``, ``size``, ... from a custom
    provider's ``optional_params``; the proxy puts the request under ``litellm_params.proxy_server_request``)."""
    sources = [call.params.get("proxy_server_request")]
    details = getattr(call.logging_obj, "model_call_details", None)
    if isinstance(details, Mapping):
        litellm_params = details.get("litellm_params")
        if isinstance(litellm_params, Mapping):
            sources.append(litellm_params.get("proxy_server_request"))
    for request in sources:
        body = request.get("body") if isinstance(request, Mapping) else None
        if isinstance(body, Mapping):
            return body
    return None


def _image_file(file: Any, model: str) -> str:
    """One uploaded image as a ``data:`` URL: bytes, a binary file object, a path, a ``(name, content[, type])``
    tuple (LiteLLM's ``FileTypes``), or a ``data:`` URL as it is. Reads the file (I/O: off the event loop)."""
    content_type: str | None = None
    if isinstance(file, tuple) and len(file) >= 2:
        content_type = file[2] if len(file) >= 3 and isinstance(file[2], str) else None
        file = file[1]
    if isinstance(file, str) and file.startswith("data:"):
        return file
    if isinstance(file, (bytes, bytearray, memoryview)):
        content = bytes(file)
    elif isinstance(file, os.PathLike):
        with open(file, "rb") as handle:
            content = handle.read()
    elif hasattr(file, "read"):
        if hasattr(file, "seek"):
            file.seek(0)
        content = file.read()
    else:
        raise bad_request(
            f"an image to edit must be bytes, a file, a path or a data: URL, got {type(file).__name__}", model
        )
    if not isinstance(content, bytes) or not content:
        raise bad_request("an image to edit is empty or not binary", model)
    return data_url(content, content_type)


def _image_files(images: Any, model: str) -> list[str]:
    files = images if isinstance(images, (list, tuple)) and not _is_file_tuple(images) else [images]
    return [_image_file(f, model) for f in files if f is not None]


def _is_file_tuple(value: Any) -> bool:
    """``(name, content[, type[, headers]])``, one file, as opposed to a list of files."""
    return isinstance(value, tuple) and len(value) >= 2 and (value[0] is None or isinstance(value[0], str))


def _log_image_request(call: Call, prep: ImageRequest) -> None:
    _pre_call(call, prep.loggable_body(), prep.url, prep.headers)
    logger.debug("CodeBuddy image request to %s, model %s", prep.url, prep.model)


def _credit_cost() -> float | None:
    """``CODEBUDDY_CREDIT_COST``, or None when unset; a bad value is ignored with a warning (the call goes on)."""
    try:
        return credit_cost()
    except ValueError as exc:
        logger.warning("CodeBuddy: %s; credits are not counted as cost", exc)
        return None


def _log_request(call: Call, prep: PreparedRequest) -> None:
    _pre_call(call, prep.body, prep.url, prep.headers)
    logger.debug("CodeBuddy request to %s, model %s, %d messages", prep.url, prep.model, len(prep.body["messages"]))


def _pre_call(call: Call, body: Any, url: str, headers: dict[str, str]) -> None:
    """Hand the request as sent (headers redacted) to LiteLLM's logging. ``RawRequestCaptured`` goes through:
    LiteLLM raises it on purpose to stop a raw-request capture (``litellm.utils.return_raw_request``, the proxy's
    ``/utils/transform_request``) here, before anything is sent; any other logging failure is only logged."""
    if call.logging_obj is None:
        return
    try:
        call.logging_obj.pre_call(
            input=call.messages,
            api_key="",
            additional_args={"complete_input_dict": body, "api_base": url, "headers": redact_headers(headers)},
        )
    except RawRequestCaptured:
        raise
    except Exception:  # logging must never break a call
        logger.debug("LiteLLM pre_call logging failed", exc_info=True)


class CodeBuddyLLM(CustomLLM):
    """LiteLLM custom handler for ``codebuddy/<model id>``.

    The entry points take ``model`` and ``messages``; LiteLLM's other keyword arguments go unread to
    :meth:`Call.from_litellm <.call.Call.from_litellm>`, whose signature names each one it uses.
    """

    def __init__(self) -> None:
        super().__init__()
        self.clients = Clients()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(provider={PROVIDER!r})"

    def close(self) -> None:
        """Close the pooled sync clients (each loop's async clients close when that loop shuts down)."""
        self.clients.close()

    # -------------------------------------------------------------- sync

    def _open_sync(self, call: Call, *, accumulate: bool) -> tuple[_Exchange, httpx.Response]:
        ex = _Exchange(call, resolve_key(call.api_key, call.model), accumulate=accumulate)
        ex.forbidden()
        http = self.clients.sync(call.client, call.verify)
        try:
            return ex, http.send(ex.request(http), stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise ex.failed(exc) from None

    def _chunks_sync(self, ex: _Exchange, resp: httpx.Response) -> Iterator[Any]:
        if _Exchange.unexpected(resp):
            try:
                content = resp.read()
            except httpx.HTTPError as exc:
                raise ex.failed(exc) from None
            finally:
                resp.close()
            yield from ex.non_sse_answer(resp, content)
            return
        pump = Pump(ex.state)
        source = sync_source(resp, ex.call.coalesce, pump.armed)
        try:
            for raw in source:
                yield from pump.push(raw)
                if not pump.reading():
                    break
            yield from pump.end()
        except _STREAM_FAILURES as exc:
            raise ex.failed(exc) from None
        except Exception as exc:
            ex.remember(exc)
            raise
        finally:
            source.close()

    def completion(self, model: str, messages: list[Any], **litellm_args: Any) -> ModelResponse:  # type: ignore[override]
        call = Call.from_litellm(model, messages, **litellm_args)
        ex, resp = self._open_sync(call, accumulate=True)
        for _ in self._chunks_sync(ex, resp):
            pass
        return ex.response()

    def streaming(self, model: str, messages: list[Any], **litellm_args: Any) -> Iterator[Any]:  # type: ignore[override]
        """Sends the request and raises status errors before returning the iterator (so retries work)."""
        call = Call.from_litellm(model, messages, stream=True, **litellm_args)
        ex, resp = self._open_sync(call, accumulate=False)
        if _Exchange.unexpected(resp):
            return iter(list(self._chunks_sync(ex, resp)))  # raises the mapped error now
        return self._chunks_sync(ex, resp)

    # -------------------------------------------------------------- async

    async def _open_async(self, call: Call, *, accumulate: bool) -> tuple[_Exchange, httpx.Response]:
        if direct_key(call.api_key) is not None:
            key = resolve_key(call.api_key, call.model)
        else:  # the stored login: a file lock, file and maybe network I/O, never on the event loop
            key = await asyncio.to_thread(resolve_key, call.api_key, call.model)
        ex = _Exchange(call, key, accumulate=accumulate)
        ex.forbidden()
        http = await self.clients.async_(call.client, call.verify)
        try:
            return ex, await http.send(ex.request(http), stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise ex.failed(exc) from None

    async def _chunks_async(self, ex: _Exchange, resp: httpx.Response) -> AsyncIterator[Any]:
        if _Exchange.unexpected(resp):
            try:
                content = await resp.aread()
            except httpx.HTTPError as exc:
                raise ex.failed(exc) from None
            finally:
                await resp.aclose()
            for chunk in ex.non_sse_answer(resp, content):
                yield chunk
            return
        pump = Pump(ex.state)
        source = async_source(resp, ex.call.coalesce, pump.armed)
        try:
            async for raw in source:
                for chunk in pump.push(raw):
                    yield chunk
                if not pump.reading():
                    break
            for chunk in pump.end():
                yield chunk
        except _STREAM_FAILURES as exc:
            raise ex.failed(exc) from None
        except Exception as exc:
            ex.remember(exc)
            raise
        finally:
            await source.aclose()

    async def acompletion(self, model: str, messages: list[Any], **litellm_args: Any) -> ModelResponse:  # type: ignore[override]
        call = Call.from_litellm(model, messages, **litellm_args)
        ex, resp = await self._open_async(call, accumulate=True)
        async for _ in self._chunks_async(ex, resp):
            pass
        return ex.response()

    async def astreaming(self, model: str, messages: list[Any], **litellm_args: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        """An async generator (LiteLLM wraps it unawaited): the request goes out at the first ``__anext__``."""
        call = Call.from_litellm(model, messages, stream=True, **litellm_args)
        ex, resp = await self._open_async(call, accumulate=False)
        try:
            async for chunk in self._chunks_async(ex, resp):
                yield chunk
        except (litellm.ContentPolicyViolationError, litellm.ContextWindowExceededError) as exc:
            if call.routed and not ex.state.delivered:  # the Router's bridges fall back from its envelope only
                raise routed_refusal(exc, ex.prep.model) from exc
            raise

    # -------------------------------------------------------------- images

    def _image_sync(self, call: Call, images: Sequence[str] | None) -> ImageResponse:
        ex = _ImageExchange(call, resolve_key(call.api_key, call.model), images)
        http = self.clients.sync(call.client, call.verify)
        try:
            resp = http.send(ex.request(http), follow_redirects=False)
        except httpx.HTTPError as exc:
            raise ex.failed(exc) from None
        return ex.response(resp)

    async def _image_async(self, call: Call, images: Sequence[str] | None) -> ImageResponse:
        if direct_key(call.api_key) is not None:
            key = resolve_key(call.api_key, call.model)
        else:  # the stored login: never on the event loop
            key = await asyncio.to_thread(resolve_key, call.api_key, call.model)
        ex = _ImageExchange(call, key, images)
        http = await self.clients.async_(call.client, call.verify)
        try:
            resp = await http.send(ex.request(http), follow_redirects=False)
        except httpx.HTTPError as exc:
            raise ex.failed(exc) from None
        return ex.response(resp)

    def image_generation(self, model: str, prompt: str, **litellm_args: Any) -> ImageResponse:  # type: ignore[override]
        """``litellm.image_generation(model="codebuddy/<image model>", prompt=...)`` (:mod:`.images`)."""
        return self._image_sync(Call.from_litellm(model, prompt, **litellm_args), None)

    async def aimage_generation(self, model: str, prompt: str, **litellm_args: Any) -> ImageResponse:  # type: ignore[override]
        return await self._image_async(Call.from_litellm(model, prompt, **litellm_args), None)

    def image_edit(self, model: str, image: Any, prompt: str | None, **litellm_args: Any) -> ImageResponse:  # type: ignore[override]
        """``litellm.image_edit(model="codebuddy/<edit model>", image=..., prompt=...)``: the images go up as
        ``data:`` URLs in the JSON body (:func:`.images.edit_body`)."""
        return self._image_sync(Call.from_litellm(model, prompt, **litellm_args), _image_files(image, model))

    async def aimage_edit(self, model: str, image: Any, prompt: str | None, **litellm_args: Any) -> ImageResponse:  # type: ignore[override]
        files = await asyncio.to_thread(_image_files, image, model)
        return await self._image_async(Call.from_litellm(model, prompt, **litellm_args), files)
