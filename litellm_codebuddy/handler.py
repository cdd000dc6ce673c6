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
import os
import socket
import ssl
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import litellm
from litellm.llms.custom_llm import CustomLLM
from litellm.types.utils import ModelResponse

from .auth import fill_stored_key
from .catalog import PROVIDER
from .errors import error_from_response, redact
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


# ------------------------------------------------------------------ opt-in coalescing window

COALESCE_ENV = "CODEBUDDY_STREAM_COALESCE_MS"
_MAX_WINDOW_MS = 10_000.0
_BACKLOG = 4 << 20  # bytes a coalescing reader may read ahead of its consumer
_END = object()


def _coalesce_window(kwargs: dict[str, Any]) -> float:
    """The coalescing window in seconds (0 = off): ``coalesce_ms`` of the call or deployment, else the env."""
    value = (kwargs.get("optional_params") or {}).get("coalesce_ms")
    if value is None:
        value = (kwargs.get("litellm_params") or {}).get("coalesce_ms")
    source = "coalesce_ms"
    if value is None:
        value, source = os.environ.get(COALESCE_ENV), COALESCE_ENV
    if value is None or value == "":
        return 0.0
    try:
        ms = float(value)
        if not 0 <= ms <= _MAX_WINDOW_MS:
            raise ValueError
    except (TypeError, ValueError):
        if source == COALESCE_ENV:
            logger.warning("%s=%r is not a number of milliseconds in [0, 10000]: coalescing stays off", source, value)
            return 0.0
        raise litellm.BadRequestError(
            message=f"coalesce_ms must be a number of milliseconds in [0, 10000], got {value!r}",
            model=str(kwargs.get("model")),
            llm_provider=PROVIDER,
        ) from None
    return ms / 1000.0


class _SyncCoalescer:
    """The body of ``resp`` as byte pieces; once ``armed()`` (a first chunk was handed on), pieces that arrive
    within ``window`` seconds of the first one still waiting are merged into one. A reader thread owns the
    response while it runs and wakes the consumer only when it waits for a first piece or the stream ends;
    nothing that arrived is held longer than the window."""

    def __init__(self, resp: httpx.Response, window: float, armed: Any) -> None:
        self.resp, self.window, self.armed = resp, window, armed
        self.cond = threading.Condition(threading.Lock())
        self.pending: list[bytes] = []
        self.size = 0
        self.first = 0.0
        self.end: Any = None
        self.want = True  # the consumer waits for any piece (not only for its deadline)
        self.stop = False
        self.thread = threading.Thread(target=self._read, name="codebuddy-stream-reader", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        cond = self.cond
        end: Any = _END
        try:
            for raw in self.resp.iter_bytes():
                with cond:
                    if self.stop:
                        return
                    if not self.pending:
                        self.first = time.monotonic()
                    self.pending.append(raw)
                    self.size += len(raw)
                    if self.want:
                        cond.notify()
                    while self.size > _BACKLOG and not self.stop:
                        cond.wait(0.1)
        except BaseException as exc:
            end = exc
        finally:
            with cond:
                self.end = end
                cond.notify()

    def __iter__(self) -> Iterator[bytes]:
        cond, window = self.cond, self.window
        while True:
            with cond:
                while not self.pending and self.end is None:
                    self.want = True
                    cond.wait()
                if self.pending and self.end is None and self.armed():
                    self.want = False  # only the deadline or the end of the stream wakes us
                    deadline = self.first + window
                    while self.end is None:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            break
                        cond.wait(remaining)
                pending, end = self.pending, self.end
                if pending:
                    self.pending = []
                    self.size = 0
                    cond.notify()  # room for a reader waiting on the backlog
            if pending:
                yield pending[0] if len(pending) == 1 else b"".join(pending)
                continue
            if end is _END:
                return
            raise end

    def close(self) -> None:
        """Stop the reader at once: shut the socket down when it is still reading (that wakes a blocked read)."""
        with self.cond:
            self.stop = True
            self.cond.notify_all()
        if self.thread.is_alive():
            stream = self.resp.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self.thread.join(timeout=2.0)


class _AsyncCoalescer:
    """The async twin of :class:`_SyncCoalescer`: a reader task appends pieces, the consumer takes what is
    ready, waiting at most until the first waiting piece is ``window`` old. An in-flight read is never
    cancelled except when the stream is closed."""

    def __init__(self, resp: httpx.Response, window: float, armed: Any) -> None:
        self.resp, self.window, self.armed = resp, window, armed
        self.pending: list[bytes] = []
        self.size = 0
        self.first = 0.0
        self.end: Any = None
        self.waiter: asyncio.Future[None] | None = None
        self.wake_on_data = True
        self.space: asyncio.Future[None] | None = None

    def _wake(self, data: bool) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done() and (self.wake_on_data or not data):
            waiter.set_result(None)

    async def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            async for raw in self.resp.aiter_bytes():
                if not self.pending:
                    self.first = loop.time()
                self.pending.append(raw)
                self.size += len(raw)
                self._wake(True)
                if self.size > _BACKLOG:
                    self.space = loop.create_future()
                    await self.space
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self.end = exc
        else:
            self.end = _END
        self._wake(False)

    async def pieces(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        task = loop.create_task(self._read(loop))
        try:
            while True:
                if not self.pending and self.end is None:
                    self.wake_on_data = True
                    self.waiter = loop.create_future()
                    await self.waiter
                if self.pending and self.end is None and self.armed():
                    deadline = self.first + self.window
                    if deadline > loop.time():
                        self.wake_on_data = False  # only the deadline or the end of the stream wakes us
                        self.waiter = waiter = loop.create_future()
                        timer = loop.call_at(deadline, _resolve, waiter)
                        try:
                            await waiter
                        finally:
                            timer.cancel()
                if self.pending:
                    pending, self.pending, self.size = self.pending, [], 0
                    space, self.space = self.space, None
                    if space is not None and not space.done():
                        space.set_result(None)
                    yield pending[0] if len(pending) == 1 else b"".join(pending)
                    continue
                if self.end is _END:
                    return
                raise self.end
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_SHARD = 10  # concurrent requests per httpx pool (see _ShardedAsyncClient)


class _Counted(httpx.AsyncByteStream):
    """A response body that calls ``release`` once when it is closed."""

    def __init__(self, stream: Any, release: Any) -> None:
        self.stream, self.release = stream, release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self.stream:
            yield part

    async def aclose(self) -> None:
        try:
            await self.stream.aclose()
        finally:
            release, self.release = self.release, None
            if release is not None:
                release()


class _ShardedAsyncClient(httpx.AsyncClient):
    """An AsyncClient that spreads concurrent requests over several connection pools of ``_SHARD`` requests.

    httpcore's pool does work proportional to (connections x idle connections) on every request and every
    response close, which dominates the CPU with hundreds of concurrent streams. Small pools keep that flat.
    Requests go to the first pool with room, so sequential calls keep reusing one connection.
    """

    def __init__(self, **kwargs: Any) -> None:
        verify = kwargs.get("verify", True)
        if not isinstance(verify, ssl.SSLContext):
            # one SSL context for every pool: building one loads the CA bundle (milliseconds of CPU)
            kwargs["verify"] = httpx.create_ssl_context(verify=verify)
        super().__init__(**kwargs)
        self._shard_kwargs = kwargs
        self._extra: list[httpx.AsyncClient] = []
        self._active: list[int] = [0]

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        active = self._active
        index = 0
        while index < len(active) and active[index] >= _SHARD:
            index += 1
        if index == len(active):
            self._extra.append(httpx.AsyncClient(**self._shard_kwargs))
            active.append(0)
        active[index] += 1

        def release() -> None:
            active[index] -= 1

        try:
            if index == 0:
                resp = await super().send(request, **kwargs)
            else:
                resp = await self._extra[index - 1].send(request, **kwargs)
        except BaseException:
            release()
            raise
        resp.stream = _Counted(resp.stream, release)
        return resp

    async def aclose(self) -> None:
        extra, self._extra = self._extra, []
        for http in extra:
            with contextlib.suppress(Exception):
                await http.aclose()
        await super().aclose()


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
                http = _ShardedAsyncClient(verify=_ssl_arg(verify), follow_redirects=False, limits=_LIMITS)
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
        coalescer: _SyncCoalescer | None = None
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
                coalescer = _SyncCoalescer(resp, window, lambda: state.delivered)
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
        window = _coalesce_window(kwargs)
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
                pieces = _AsyncCoalescer(resp, window, lambda: state.delivered).pieces()
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
        window = _coalesce_window(kwargs)
        prep, timeout, verify = self._prepare(kwargs)
        state = self._state(prep, accumulate=False)
        resp = await self._send_async(prep, timeout, verify, kwargs.get("client"))
        async for chunk in self._events_async(resp, prep, timeout, state, window):
            yield chunk
