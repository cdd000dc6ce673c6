"""Which client an async call gets: LiteLLM's aiohttp transport (where LiteLLM would use it), else the sharded httpx
client; a caller's own client always wins."""

from __future__ import annotations

import asyncio

import httpx
import litellm
import pytest
from litellm.llms.custom_httpx.aiohttp_transport import LiteLLMAiohttpTransport

from litellm_codebuddy.provider.transport import Clients, ShardedAsyncClient


def _pick(client: object = None, verify: bool | str = True) -> tuple[type, type]:
    async def run() -> tuple[type, type]:
        http = await Clients().async_(client, verify)
        return type(http), type(http._transport)

    return asyncio.run(run())


def test_async_calls_use_litellms_aiohttp_transport() -> None:
    assert _pick() == (httpx.AsyncClient, LiteLLMAiohttpTransport)
    assert _pick(verify=False)[1] is LiteLLMAiohttpTransport


@pytest.mark.parametrize("how", ["attribute", "env"])
def test_where_litellm_would_not_use_aiohttp_neither_do_we(how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if how == "attribute":
        monkeypatch.setattr(litellm, "disable_aiohttp_transport", True)
    else:
        monkeypatch.setenv("DISABLE_AIOHTTP_TRANSPORT", "True")
    assert _pick()[0] is ShardedAsyncClient


def test_a_callers_client_is_used_as_it_is() -> None:
    async def run() -> bool:
        async with httpx.AsyncClient() as own:
            return await Clients().async_(own, True) is own

    assert asyncio.run(run())
