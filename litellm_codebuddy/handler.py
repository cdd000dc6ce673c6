"""The LiteLLM handler: moves bytes between LiteLLM and CodeBuddy; the rules live in the pure modules.

One implementation serves the four entry points. Every call streams upstream (the gateway only streams);
a caller that asked for a plain answer gets one built from the stream. Each path uses a pooled httpx
client reused across calls (one per event loop for async), never follows redirects, and enforces the
``timeout`` as connect and between-bytes limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import litellm
from litellm.llms.custom_llm import CustomLLM
from litellm.types.utils import ModelResponse

from .auth import fill_stored_key
from .catalog import PROVIDER
from .coalesce import AsyncCoalescer, SyncCoalescer, coalesce_window
from .errors import error_from_response, redact
from .pool import ShardedAsyncClient
from .sse import SSEDecodeError, SSEDecoder
from .stream import StreamState
from .transformation import PreparedRequest, prepare_request, redacted_headers

__all__ = ["CodeBuddyLLM"]

logger = logging.getLogger(__name__)

_DEFAULT_TIMEOUT = 600.0
_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=100, keepalive_expiry=30.0)
_DRAIN_LIMIT = 65536  # bytes read after [DONE] so the connection can go back to the pool


def _timeout(timeout: Any) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        return timeout
    try:
        seconds = float(timeout) if timeout is not None else _DEFAULT_TIMEOUT
    except (TypeError, ValueError):
        seconds = _DEFAULT_TIMEOUT
    return httpx.Timeout(seconds)


def _verify_setting(litellm_params: dict[str, Any] | None) -> bool | str:
    value = (litellm_params or {}).get("ssl_verify")
    if value is None:
        value = getattr(litellm, "ssl_verify", True)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value if isinstance(value, (bool, str)) else True


def _ssl_arg(verify: bool | str) -> bool | ssl.SSLContext:
    if isinstance(verify, str):  # a CA bundle path, the LiteLLM way
        return ssl.create_default_context(cafile=verify)
    return verify


def _describe(exc: BaseException) -> str:
    """``Name: text`` of a transport error; async httpx errors often have no text: look down the cause chain."""
    if isinstance(exc, httpx.TimeoutException):
        return f"{type(exc).__name__}: {exc or 'timed out'}"
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 8:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    text = next((str(e) for e in chain if str(e)), "") or "connection closed or reset by the peer"
    root = chain[-1]
    if root is not exc and str(root) and str(root) not in text:  # e.g. "All connection attempts failed"
        text += f" ({type(root).__name__}: {root})"
    return f"{type(exc).__name__}: {text}"


def _transport_error(exc: Exception, prep: PreparedRequest, timeout: httpx.Timeout) -> Exception:
    detail = redact(_describe(exc), prep.api_key)
    if isinstance(exc, httpx.TimeoutException):
        return litellm.Timeout(
            message=f"CodeBuddy did not answer within the timeout ({timeout.read}s between bytes, "
            f"{timeout.connect}s to connect): {detail}",
            model=prep.model,
            llm_provider=PROVIDER,
        )
    return litellm.APIConnectionError(
        message=f"could not talk to CodeBuddy at {prep.url}: {detail}", llm_provider=PROVIDER, model=prep.model
    )


def _stream_error(exc: Exception, prep: PreparedRequest, timeout: httpx.Timeout) -> Exception:
    if isinstance(exc, SSEDecodeError):
        return litellm.APIError(
            status_code=502, message=f"CodeBuddy stream: {exc}", llm_provider=PROVIDER, model=prep.model
        )
    return _transport_error(exc, prep, timeout)


class CodeBuddyLLM(CustomLLM):
    """LiteLLM custom handler for ``codebuddy/<model id>``."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._sync_clients: dict[Any, httpx.Client] = {}
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, httpx.AsyncClient]] = (
            weakref.WeakKeyDictionary()
        )
        # per loop, a parked async generator that closes the loop's clients when the loop shuts down
        self._loop_closers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(provider={PROVIDER!r})"

    # -------------------------------------------------------------- clients

    def _sync_client(self, client: Any, verify: bool | str) -> httpx.Client:
        if isinstance(client, httpx.Client):
            return client
        if isinstance(getattr(client, "client", None), httpx.Client):
            return client.client  # type: ignore[no-any-return,union-attr]
        with self._lock:
            http = self._sync_clients.get(verify)
            if http is None or http.is_closed:
                http = httpx.Client(verify=_ssl_arg(verify), follow_redirects=False, limits=_LIMITS, trust_env=True)
                self._sync_clients[verify] = http
            return http

    async def _async_client(self, client: Any, verify: bool | str) -> httpx.AsyncClient:
        if isinstance(client, httpx.AsyncClient):
            return client
        if isinstance(getattr(client, "client", None), httpx.AsyncClient):
            return client.client  # type: ignore[no-any-return,union-attr]
        loop = asyncio.get_running_loop()
        with self._lock:
            for old in [lp for lp in list(self._async_clients.keys()) if lp.is_closed()]:
                # a loop closed without shutdown_asyncgens(): drop its clients, gc closes their sockets
                self._async_clients.pop(old, None)
                self._loop_closers.pop(old, None)
            per_loop = self._async_clients.get(loop)
            new_loop = per_loop is None
            if per_loop is None:
                per_loop = self._async_clients[loop] = {}
            http = per_loop.get(verify)
            if http is None or http.is_closed:
                http = ShardedAsyncClient(verify=_ssl_arg(verify), follow_redirects=False, limits=_LIMITS)
                per_loop[verify] = http
        if new_loop:
            closer = self._close_with_loop(per_loop)
            self._loop_closers[loop] = closer
            await closer.__anext__()  # parked until the loop's shutdown_asyncgens() (asyncio.run) closes it
        return http

    async def _close_with_loop(self, per_loop: dict[Any, httpx.AsyncClient]) -> AsyncIterator[None]:
        """Close a loop's pooled clients when the loop shuts down: its keep-alive sockets would otherwise stay
        open for good (the clients' connections refer to the loop, so the weak per-loop entry never goes)."""
        try:
            yield
        finally:
            loop = asyncio.get_running_loop()
            with self._lock:
                if self._async_clients.get(loop) is per_loop:
                    del self._async_clients[loop]
                self._loop_closers.pop(loop, None)
            for http in list(per_loop.values()):
                with contextlib.suppress(Exception):
                    await http.aclose()

    def close(self) -> None:
        """Close the pooled sync clients (each loop's async clients close when that loop shuts down)."""
        with self._lock:
            clients, self._sync_clients = list(self._sync_clients.values()), {}
        for http in clients:
            http.close()

    # -------------------------------------------------------------- shared steps

    def _prepare(self, kwargs: dict[str, Any]) -> tuple[PreparedRequest, httpx.Timeout, bool | str]:
        prep = prepare_request(
            model=kwargs["model"],
            messages=kwargs["messages"],
            optional_params=kwargs.get("optional_params") or {},
            api_key=kwargs.get("api_key"),
            api_base=kwargs.get("api_base"),
            extra_headers=kwargs.get("headers"),
        )
        logging_obj = kwargs.get("logging_obj")
        if logging_obj is not None:
            try:
                logging_obj.pre_call(
                    input=kwargs["messages"],
                    api_key="",
                    additional_args={
                        "complete_input_dict": prep.body,
                        "api_base": prep.url,
                        "headers": redacted_headers(prep.headers),
                    },
                )
            except Exception:  # logging must never break a call
                logger.debug("LiteLLM pre_call logging failed", exc_info=True)
        logger.debug("CodeBuddy request to %s, model %s, %d messages", prep.url, prep.model, len(prep.body["messages"]))
        return prep, _timeout(kwargs.get("timeout")), _verify_setting(kwargs.get("litellm_params"))

    @staticmethod
    def _state(prep: PreparedRequest, accumulate: bool) -> StreamState:
        messages = prep.body["messages"]

        def count_prompt() -> int:
            return int(litellm.token_counter(messages=messages))

        return StreamState(prep.model, count_prompt, accumulate=accumulate, secrets=(prep.api_key,))

    @staticmethod
    def _unexpected(resp: httpx.Response) -> bool:
        return resp.status_code != 200 or "text/event-stream" not in resp.headers.get("content-type", "")

    @staticmethod
    def _non_sse_answer(resp: httpx.Response, content: bytes, prep: PreparedRequest, state: StreamState) -> list[Any]:
        """A 200 JSON body: an error object (raised) or, leniently, a whole completion (one event)."""
        if resp.status_code == 200 and "json" in resp.headers.get("content-type", ""):
            try:
                body = json.loads(content)
            except ValueError:
                body = None
            if isinstance(body, dict) and body.get("choices"):
                chunks = state.feed([content.decode("utf-8")])
                return chunks + state.close()
        raise error_from_response(resp.status_code, dict(resp.headers), content, prep.model, secrets=(prep.api_key,))

    # -------------------------------------------------------------- sync

    def _send_sync(
        self, prep: PreparedRequest, timeout: httpx.Timeout, verify: bool | str, client: Any
    ) -> httpx.Response:
        http = self._sync_client(client, verify)
        request = http.build_request(
            "POST", prep.url, headers=prep.headers, content=json.dumps(prep.body), timeout=timeout
        )
        try:
            return http.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, prep, timeout) from None

    def _events_sync(
        self,
        resp: httpx.Response,
        prep: PreparedRequest,
        timeout: httpx.Timeout,
        state: StreamState,
        window: float = 0.0,
    ) -> Iterator[Any]:
        coalescer: SyncCoalescer | None = None
        try:
            if self._unexpected(resp):
                try:
                    content = resp.read()
                except httpx.HTTPError as exc:
                    raise _transport_error(exc, prep, timeout) from None
                yield from self._non_sse_answer(resp, content, prep, state)
                return
            decoder = SSEDecoder()
            feed = decoder.feed
            if window:
                coalescer = SyncCoalescer(resp, window, lambda: state.delivered)
            raw_iter = iter(coalescer) if coalescer is not None else resp.iter_bytes()
            try:
                for raw in raw_iter:
                    datas = feed(raw)
                    if datas:
                        chunks, datas = state.feed(datas), []  # the raw events are not held while we yield
                        yield from chunks
                        state.check()
                        if state.done:
                            drained = 0
                            for rest in raw_iter:
                                drained += len(rest)
                                if drained > _DRAIN_LIMIT:
                                    break
                            break
                else:
                    yield from state.feed(decoder.flush())
                    state.check()
            except (httpx.HTTPError, SSEDecodeError) as exc:
                raise _stream_error(exc, prep, timeout) from None
            yield from state.close()
        finally:
            if coalescer is not None:
                coalescer.close()
            resp.close()

    def completion(self, *args: Any, **kwargs: Any) -> ModelResponse:  # type: ignore[override]
        prep, timeout, verify = self._prepare(kwargs)
        state = self._state(prep, accumulate=True)
        resp = self._send_sync(prep, timeout, verify, kwargs.get("client"))
        for _ in self._events_sync(resp, prep, timeout, state):
            pass
        return state.build_response(kwargs.get("model_response") or ModelResponse())

    def streaming(self, *args: Any, **kwargs: Any) -> Iterator[Any]:  # type: ignore[override]
        """Sends the request and raises status errors before returning the iterator (so retries work)."""
        window = coalesce_window(kwargs)
        prep, timeout, verify = self._prepare(kwargs)
        state = self._state(prep, accumulate=False)
        resp = self._send_sync(prep, timeout, verify, kwargs.get("client"))
        if self._unexpected(resp):
            chunks = list(self._events_sync(resp, prep, timeout, state))  # raises the mapped error
            return iter(chunks)
        return self._events_sync(resp, prep, timeout, state, window)

    # -------------------------------------------------------------- async

    async def _send_async(
        self, prep: PreparedRequest, timeout: httpx.Timeout, verify: bool | str, client: Any
    ) -> httpx.Response:
        http = await self._async_client(client, verify)
        request = http.build_request(
            "POST", prep.url, headers=prep.headers, content=json.dumps(prep.body), timeout=timeout
        )
        try:
            return await http.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, prep, timeout) from None

    async def _events_async(
        self,
        resp: httpx.Response,
        prep: PreparedRequest,
        timeout: httpx.Timeout,
        state: StreamState,
        window: float = 0.0,
    ) -> AsyncIterator[Any]:
        pieces: Any = None
        try:
            if self._unexpected(resp):
                try:
                    content = await resp.aread()
                except httpx.HTTPError as exc:
                    raise _transport_error(exc, prep, timeout) from None
                for chunk in self._non_sse_answer(resp, content, prep, state):
                    yield chunk
                return
            decoder = SSEDecoder()
            feed = decoder.feed
            if window:
                pieces = AsyncCoalescer(resp, window, lambda: state.delivered).pieces()
            raw_iter = pieces if pieces is not None else resp.aiter_bytes()
            try:
                async for raw in raw_iter:
                    datas = feed(raw)
                    if datas:
                        chunks, datas = state.feed(datas), []  # the raw events are not held while we yield
                        for chunk in chunks:
                            yield chunk
                        state.check()
                        if state.done:
                            drained = 0
                            async for rest in raw_iter:
                                drained += len(rest)
                                if drained > _DRAIN_LIMIT:
                                    break
                            break
                else:
                    for chunk in state.feed(decoder.flush()):
                        yield chunk
                    state.check()
            except (httpx.HTTPError, SSEDecodeError) as exc:
                raise _stream_error(exc, prep, timeout) from None
            for chunk in state.close():
                yield chunk
        finally:
            if pieces is not None:
                await pieces.aclose()  # stops the reader task
            await resp.aclose()

    async def acompletion(self, *args: Any, **kwargs: Any) -> ModelResponse:  # type: ignore[override]
        await fill_stored_key(kwargs)  # a stored login token is read/refreshed off the event loop
        prep, timeout, verify = self._prepare(kwargs)
        state = self._state(prep, accumulate=True)
        resp = await self._send_async(prep, timeout, verify, kwargs.get("client"))
        async for _ in self._events_async(resp, prep, timeout, state):
            pass
        return state.build_response(kwargs.get("model_response") or ModelResponse())

    async def astreaming(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        """An async generator (LiteLLM wraps it unawaited): the request goes out at the first ``__anext__``."""
        await fill_stored_key(kwargs)  # off the event loop, like acompletion
        window = coalesce_window(kwargs)
        prep, timeout, verify = self._prepare(kwargs)
        state = self._state(prep, accumulate=False)
        resp = await self._send_async(prep, timeout, verify, kwargs.get("client"))
        async for chunk in self._events_async(resp, prep, timeout, state, window):
            yield chunk
