"""Which client an async call gets: streams with a coalescing window go through LiteLLM's aiohttp transport (where
LiteLLM would use it), everything else through the sharded httpx client; a caller's own client always wins."""

from __future__ import annotations

import asyncio

import httpx
import litellm
import pytest
from litellm.llms.custom_httpx.aiohttp_transport import LiteLLMAiohttpTransport

from litellm_codebuddy.provider.transport import Clients, ShardedAsyncClient


def _pick(windowed: bool, client: object = None, verify: bool | str = True) -> tuple[type, type]:
    async def run() -> tuple[type, type]:
        http = await Clients().async_(client, verify, windowed=windowed)
        return type(http), type(http._transport)

    return asyncio.run(run())


def test_windowed_streams_use_litellms_aiohttp_transport() -> None:
    assert _pick(windowed=True) == (httpx.AsyncClient, LiteLLMAiohttpTransport)
    assert _pick(windowed=True, verify=False)[1] is LiteLLMAiohttpTransport


def test_other_calls_use_the_sharded_httpx_client() -> None:
    assert _pick(windowed=False)[0] is ShardedAsyncClient


def test_where_litellm_would_not_use_aiohttp_neither_does_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(litellm, "disable_aiohttp_transport", True)
    assert _pick(windowed=True)[0] is ShardedAsyncClient


def test_a_callers_client_is_used_as_it_is() -> None:
    async def run() -> bool:
        async with httpx.AsyncClient() as own:
            return await Clients().async_(own, True, windowed=True) is own

    assert asyncio.run(run())
