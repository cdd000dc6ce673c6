"""Cancellation and resources: a consumer that stops early makes the provider close the upstream
connection at once, and abandoned or finished calls leave no connection or file descriptor behind.

The fake streams 2,000 events 10 ms apart (20 s), so an answer is always still in flight when the consumer stops;
``fake.disconnects`` counts streams the client abandoned (the fake sees it at its next write, 10 ms later).
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import litellm
import pytest

import litellm_codebuddy  # noqa: F401  (registers the provider)
from fake_codebuddy import FakeCodeBuddy
from litellm_codebuddy import codebuddy_llm
from litellm_codebuddy.local import launch

from support.servers import open_fds

MODEL = "codebuddy/gpt-5.5"
KEY = "ck_test.key"
LONG = [{"role": "user", "content": "hi FAKE:events=2000 FAKE:pace=0.01"}]
SHORT = [{"role": "user", "content": "hi FAKE:events=3"}]
DEADLINE = 1.0  # "at once": the fake must see the disconnect within a second
FD_SLACK = 8  # pooled keep-alive connections, logging handlers and the like
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake() -> Iterator[FakeCodeBuddy]:
    with FakeCodeBuddy(max_requests=100) as server:
        yield server


def _kw(fake: FakeCodeBuddy, messages: list[dict[str, Any]] = LONG, **kw: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": messages, "api_key": KEY, "api_base": fake.base_url, **kw}


def wait_for(condition: Callable[[], bool], limit: float) -> float | None:
    """Seconds until ``condition()`` held, or None when it did not within ``limit``."""
    start = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - start
        if time.monotonic() - start > limit:
            return None
        time.sleep(0.005)


async def async_wait_for(condition: Callable[[], bool], limit: float) -> float | None:
    start = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - start
        if time.monotonic() - start > limit:
            return None
        await asyncio.sleep(0.005)


# ------------------------------------------------------------------------------------------------ stopping early


def test_sync_break_and_drop(fake: FakeCodeBuddy) -> None:
    stream = litellm.completion(**_kw(fake), stream=True)
    for chunk in stream:
        assert chunk.choices[0].delta.content == "w0 "
        break
    del stream, chunk  # no gc.collect(): reference counting alone must finalise the generator
    seen = wait_for(lambda: fake.disconnects == 1, DEADLINE)
    assert seen is not None, "the upstream stream was not closed within 1 s of dropping the stream"
    assert wait_for(lambda: fake.open_connections == 0, 5) is not None


def test_sync_close(fake: FakeCodeBuddy) -> None:
    stream = litellm.completion(**_kw(fake), stream=True)
    next(iter(stream))
    if not hasattr(stream, "close"):
        pytest.skip("this LiteLLM's CustomStreamWrapper has no close()")
    stream.close()
    assert wait_for(lambda: fake.disconnects == 1, DEADLINE) is not None
    assert wait_for(lambda: fake.open_connections == 0, 5) is not None


def test_sync_stream_kept_is_not_closed(fake: FakeCodeBuddy) -> None:
    """A consumer that only pauses (keeps the stream) keeps the connection: closing is not premature."""
    stream = litellm.completion(**_kw(fake), stream=True)
    it = iter(stream)
    next(it)
    time.sleep(0.3)
    assert fake.disconnects == 0
    assert next(it).choices[0].delta.content  # and it goes on
    stream.close()
    assert wait_for(lambda: fake.disconnects == 1, DEADLINE) is not None


def test_async_break_and_aclose(fake: FakeCodeBuddy) -> None:
    async def main() -> float | None:
        stream = await litellm.acompletion(**_kw(fake), stream=True)
        async for _ in stream:
            break
        if not hasattr(stream, "aclose"):
            pytest.skip("this LiteLLM's CustomStreamWrapper has no aclose()")
        await stream.aclose()
        return await async_wait_for(lambda: fake.disconnects == 1, DEADLINE)

    assert asyncio.run(main()) is not None
    assert wait_for(lambda: fake.open_connections == 0, 5) is not None


def test_async_break_and_drop(fake: FakeCodeBuddy) -> None:
    """No aclose(): the event loop's async-generator finaliser closes the provider's generator."""

    async def main() -> float | None:
        stream = await litellm.acompletion(**_kw(fake), stream=True)
        async for _ in stream:
            break
        del stream
        return await async_wait_for(lambda: fake.disconnects == 1, DEADLINE)

    assert asyncio.run(main()) is not None
    assert wait_for(lambda: fake.open_connections == 0, 5) is not None


def test_async_task_cancelled(fake: FakeCodeBuddy) -> None:
    async def main() -> tuple[float | None, int]:
        got: list[Any] = []

        async def consume() -> None:
            stream = await litellm.acompletion(**_kw(fake), stream=True)
            async for chunk in stream:
                got.append(chunk)

        task = asyncio.create_task(consume())
        assert await async_wait_for(lambda: len(got) >= 2, 10) is not None
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return await async_wait_for(lambda: fake.disconnects == 1, DEADLINE), len(got)

    seen, chunks = asyncio.run(main())
    assert seen is not None, "the upstream stream was not closed within 1 s of cancelling the task"
    assert chunks < 2000
    assert wait_for(lambda: fake.open_connections == 0, 5) is not None


def test_async_non_stream_cancelled(fake: FakeCodeBuddy) -> None:
    """Cancelling a plain ``acompletion`` (which reads a stream upstream) closes the upstream too."""

    async def main() -> float | None:
        task = asyncio.create_task(litellm.acompletion(**_kw(fake)))
        assert await async_wait_for(lambda: fake.connections_total >= 1 and len(fake.requests) >= 1, 10) is not None
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return await async_wait_for(lambda: fake.disconnects == 1, DEADLINE)

    assert asyncio.run(main()) is not None, "cancelling acompletion() did not close the upstream within 1 s"
    assert wait_for(lambda: fake.open_connections == 0, 5) is not None


# ------------------------------------------------------------------------------------------------ many streams


def _settle(fake: FakeCodeBuddy, baseline: int) -> tuple[bool, int]:
    """gc, then wait until the fake has no open connection and our descriptors are back near the baseline."""

    def settled() -> bool:
        gc.collect()
        return fake.open_connections == 0 and open_fds() <= baseline + FD_SLACK

    ok = wait_for(settled, 10) is not None
    return ok, open_fds() - baseline


def test_thousand_abandoned_sync_streams(fake: FakeCodeBuddy) -> None:
    litellm.completion(**_kw(fake, SHORT))  # warm up: pooled client, logging, imports
    gc.collect()
    baseline = open_fds()
    for i in range(1000):
        stream = litellm.completion(**_kw(fake), stream=True)
        next(iter(stream))
        if i % 2:
            stream.close()
        del stream  # even i: dropped without close()
    ok, extra = _settle(fake, baseline)
    assert ok, f"after 1000 abandoned sync streams: {fake.open_connections} open upstream, {extra} extra fds"
    assert fake.disconnects == 1000


def test_thousand_abandoned_async_streams(fake: FakeCodeBuddy) -> None:
    async def main() -> None:
        await litellm.acompletion(**_kw(fake, SHORT))
        for i in range(1000):
            stream = await litellm.acompletion(**_kw(fake), stream=True)
            await stream.__anext__()
            if i % 2:
                await stream.aclose()
            del stream  # even i: dropped, the loop's async-generator finaliser closes it
        await asyncio.sleep(0)

    gc.collect()
    baseline = open_fds()
    asyncio.run(main())
    ok, extra = _settle(fake, baseline)
    assert ok, f"after 1000 abandoned async streams: {fake.open_connections} open upstream, {extra} extra fds"
    assert fake.disconnects == 1000


def test_many_calls_return_to_baseline(fake: FakeCodeBuddy) -> None:
    """A small soak (benchmarks/soak.py is the big one): 200 sequential and 100 concurrent async calls, and 50
    sync calls; no error, no connection or descriptor left once the event loop is gone."""
    litellm.completion(**_kw(fake, SHORT))
    gc.collect()
    baseline = open_fds()
    for _ in range(50):
        assert litellm.completion(**_kw(fake, SHORT)).choices[0].message.content == "w0 w1 w2 "

    async def main() -> None:
        for _ in range(200):
            resp = await litellm.acompletion(**_kw(fake, SHORT))
            assert resp.choices[0].message.content == "w0 w1 w2 "
        answers = await asyncio.gather(*(litellm.acompletion(**_kw(fake, SHORT)) for _ in range(100)))
        assert all(a.choices[0].message.content == "w0 w1 w2 " for a in answers)

    asyncio.run(main())
    codebuddy_llm.close()  # the pooled sync client's keep-alive connection
    ok, extra = _settle(fake, baseline)
    assert ok, f"{fake.open_connections} open upstream, {extra} extra fds"
    assert fake.disconnects == 0


# ------------------------------------------------------------------------------------------------ the proxy


@pytest.mark.proxy  # needs the proxy: not run with the faults
def test_proxy_client_disconnect_reaches_upstream(fake: FakeCodeBuddy, tmp_path: Path) -> None:
    """A client that drops its streaming request to the LiteLLM proxy: the proxy cancels the response, the
    provider's generator closes the upstream connection (measured: about 10 ms on an idle machine)."""
    port = launch.free_port()
    master = "sk-master-cancel-" + os.urandom(4).hex()
    env = {"LITELLM_MASTER_KEY": master, "CODEBUDDY_API_KEY": KEY, "CODEBUDDY_API_BASE": fake.base_url}
    proc = launch.start_proxy(ROOT / "proxy_config.yaml", port, env, log=tmp_path / "proxy.log")
    try:
        launch.wait_http(f"http://127.0.0.1:{port}/health/liveliness", 180, proc)
        delays = []
        for round_ in range(3):
            with httpx.Client(timeout=60) as client:
                with client.stream(
                    "POST",
                    f"http://127.0.0.1:{port}/v1/chat/completions",
                    headers={"Authorization": f"Bearer {master}"},
                    json={"model": MODEL, "stream": True, "messages": LONG},
                ) as resp:
                    assert resp.status_code == 200
                    for line in resp.iter_lines():
                        if line.startswith("data:"):
                            break
            seen = wait_for(lambda n=round_: fake.disconnects == n + 1, 5)
            assert seen is not None, "the proxy did not close the upstream stream within 5 s of the client leaving"
            delays.append(seen)
        print(f"proxy disconnect reached the fake after {', '.join(f'{d * 1000:.0f} ms' for d in delays)}")
        assert min(delays) < 2.0
        assert wait_for(lambda: fake.open_connections == 0, 5) is not None
    finally:
        launch.stop(proc)
