"""Which client an async call gets: LiteLLM's aiohttp transport (where LiteLLM would use it), else the sharded httpx
client; a caller's own client always wins. Which transport a client sends through is seen by sending through it
(LiteLLM's transport factory replaced by one that records and answers), not by reading the client's internals."""

from __future__ import annotations

import asyncio

import httpx
import litellm
import pytest
from litellm.llms.custom_httpx.http_handler import AsyncHTTPHandler

from litellm_codebuddy.provider.transport import Clients, ShardedAsyncClient


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The transports LiteLLM's factory made: each answers 200 "aiohttp" (a stand-in, no network)."""
    transports: list[object] = []

    def factory(**kwargs: object) -> httpx.AsyncBaseTransport:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, text="aiohttp"))
        transports.append(transport)
        return transport

    monkeypatch.setattr(AsyncHTTPHandler, "create_aiohttp_transport", staticmethod(factory))
    return transports


def _pick(client: object = None, verify: bool | str = True) -> tuple[type, str | None]:
    """The client's type, and what it answers through LiteLLM's factory's transport (None: it is not that one)."""

    async def run() -> tuple[type, str | None]:
        http = await Clients().async_(client, verify)
        if isinstance(http, ShardedAsyncClient):
            return type(http), None
        response = await http.get("http://upstream.test/")
        return type(http), response.text

    return asyncio.run(run())


def test_async_calls_use_litellms_aiohttp_transport(made: list[object]) -> None:
    assert _pick() == (httpx.AsyncClient, "aiohttp")
    assert _pick(verify=False) == (httpx.AsyncClient, "aiohttp")
    assert len(made) == 2


@pytest.mark.parametrize("how", ["attribute", "env"])
def test_where_litellm_would_not_use_aiohttp_neither_do_we(
    how: str, made: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    if how == "attribute":
        monkeypatch.setattr(litellm, "disable_aiohttp_transport", True)
    else:
        monkeypatch.setenv("DISABLE_AIOHTTP_TRANSPORT", "True")
    assert _pick()[0] is ShardedAsyncClient
    assert made == []


def test_a_callers_client_is_used_as_it_is() -> None:
    async def run() -> bool:
        async with httpx.AsyncClient() as own:
            return await Clients().async_(own, True) is own

    assert asyncio.run(run())
