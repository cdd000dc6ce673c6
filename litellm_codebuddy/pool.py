"""A sharded httpx.AsyncClient: many concurrent streams without httpcore's per-request pool scan cost."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx

__all__ = ["ShardedAsyncClient"]

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
