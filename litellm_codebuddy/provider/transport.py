"""The HTTP clients the handler sends with: pooled, never following redirects, one set per event loop for async.

:class:`Clients` keeps a pooled sync client per TLS setting and, per event loop, an ``httpx.AsyncClient`` on
LiteLLM's aiohttp transport, the one LiteLLM's own providers use (``AsyncHTTPHandler.create_aiohttp_transport``):
each read hands over everything the connection holds (up to 16 KB), so a consumer that fell behind catches up in a
few chunks, at about a third of httpx's CPU per event over TLS (``benchmarks/token_rate.py``). Where LiteLLM would
not use aiohttp (``litellm.disable_aiohttp_transport``, ``DISABLE_AIOHTTP_TRANSPORT``, HTTP/2) or does not offer it,
async calls go through a :class:`ShardedAsyncClient` (httpx). A caller-supplied ``httpx`` client (or a LiteLLM
handler wrapping one) is used as it is. Everything here is public API of httpx and LiteLLM.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import weakref
from collections.abc import AsyncIterator
from typing import Any

import httpx

__all__ = ["Clients", "ShardedAsyncClient", "aiohttp_client"]

LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=100, keepalive_expiry=30.0)

_SHARD = 10  # concurrent requests per httpx pool (see ShardedAsyncClient)


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


class ShardedAsyncClient(httpx.AsyncClient):
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


def _ssl_arg(verify: bool | str) -> bool | ssl.SSLContext:
    if isinstance(verify, str):  # a CA bundle path, the LiteLLM way
        return ssl.create_default_context(cafile=verify)
    return verify


def aiohttp_client(verify: bool | str) -> httpx.AsyncClient | None:
    """An ``httpx.AsyncClient`` on LiteLLM's aiohttp transport, trusting what the httpx clients trust; None where
    LiteLLM would not use that transport or does not offer it."""
    try:
        from litellm.llms.custom_httpx.http_handler import AsyncHTTPHandler

        if not AsyncHTTPHandler.should_use_aiohttp_transport():
            return None
        context = httpx.create_ssl_context(verify=_ssl_arg(verify))  # certifi, a CA file, or no verification
        transport = AsyncHTTPHandler.create_aiohttp_transport(ssl_context=context)
    except (ImportError, AttributeError, TypeError):  # a LiteLLM without it
        return None
    return httpx.AsyncClient(transport=transport, follow_redirects=False)


class Clients:
    """The handler's pooled clients: thread-safe; async clients are bound to the loop that made them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sync_clients: dict[Any, httpx.Client] = {}
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, httpx.AsyncClient]] = (
            weakref.WeakKeyDictionary()
        )
        # per loop, a parked async generator that closes the loop's clients when the loop shuts down
        self._loop_closers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:
        return f"Clients(sync={len(self._sync_clients)}, loops={len(self._async_clients)})"

    def sync(self, client: Any, verify: bool | str) -> httpx.Client:
        if isinstance(client, httpx.Client):
            return client
        if isinstance(getattr(client, "client", None), httpx.Client):
            return client.client  # type: ignore[no-any-return,union-attr]
        with self._lock:
            http = self._sync_clients.get(verify)
            if http is None or http.is_closed:
                http = httpx.Client(verify=_ssl_arg(verify), follow_redirects=False, limits=LIMITS, trust_env=True)
                self._sync_clients[verify] = http
            return http

    async def async_(self, client: Any, verify: bool | str) -> httpx.AsyncClient:
        """The client for an async call: the caller's, else this loop's (aiohttp where LiteLLM uses it)."""
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
                http = aiohttp_client(verify) or ShardedAsyncClient(
                    verify=_ssl_arg(verify), follow_redirects=False, limits=LIMITS
                )
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
