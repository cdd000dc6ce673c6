"""The coalescing window (``coalesce_ms`` / ``CODEBUDDY_STREAM_COALESCE_MS``, fixed or ``auto``) against the
built-in fake.

Timing checks use generous margins (the suite runs on loaded two-core machines); speed itself is measured by
``benchmarks/bench.py``, not here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import litellm
import pytest

import litellm_codebuddy  # noqa: F401  (registers the provider)
from fake_codebuddy import FakeCodeBuddy
from litellm_codebuddy.provider.coalesce import COALESCE_ENV
from litellm_codebuddy.provider.window import BUSY_RATE, METER

KEY = "ck_coalesce.test"
MODEL = "codebuddy/gpt-5.5"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCodeBuddy]:
    with FakeCodeBuddy() as instance:
        yield instance


def _messages(directives: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": f"hi {directives}"}]


def _expected(n: int) -> str:
    return "".join(f"w{i} " for i in range(n))


def _sync_chunks(fake: FakeCodeBuddy, directives: str, **kw: Any) -> tuple[list[float], list[str]]:
    """(arrival time of each content chunk after the call started, its text)."""
    start = time.monotonic()
    times, texts = [], []
    stream = litellm.completion(
        model=MODEL, messages=_messages(directives), api_key=KEY, api_base=fake.base_url, stream=True, **kw
    )
    for chunk in stream:
        text = chunk.choices[0].delta.content
        if text:
            times.append(time.monotonic() - start)
            texts.append(text)
    return times, texts


def _async_chunks(fake: FakeCodeBuddy, directives: str, **kw: Any) -> tuple[list[float], list[str]]:
    async def run() -> tuple[list[float], list[str]]:
        start = time.monotonic()
        times, texts = [], []
        stream = await litellm.acompletion(
            model=MODEL, messages=_messages(directives), api_key=KEY, api_base=fake.base_url, stream=True, **kw
        )
        async for chunk in stream:
            text = chunk.choices[0].delta.content
            if text:
                times.append(time.monotonic() - start)
                texts.append(text)
        return times, texts

    return asyncio.run(run())


RUNNERS = {"sync": _sync_chunks, "async": _async_chunks}


@pytest.mark.parametrize("path", RUNNERS)
def test_order_and_completeness_with_window(fake: FakeCodeBuddy, path: str) -> None:
    _, texts = RUNNERS[path](fake, "FAKE:events=60 FAKE:pace=0.004", coalesce_ms=30)
    assert "".join(texts) == _expected(60)
    assert 1 < len(texts) < 60  # merged, but not held to the end


@pytest.mark.parametrize("path", RUNNERS)
def test_env_setting_turns_it_on(fake: FakeCodeBuddy, path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(COALESCE_ENV, "30")
    _, texts = RUNNERS[path](fake, "FAKE:events=60 FAKE:pace=0.004")
    assert "".join(texts) == _expected(60)
    assert len(texts) < 60


@pytest.mark.parametrize("path", RUNNERS)
def test_off_by_default_one_chunk_per_read(fake: FakeCodeBuddy, path: str) -> None:
    # no window: a consumer that keeps up gets each event on its own (events only merge, on the async path's
    # aiohttp reads, when the consumer is behind: 50 ms apart keeps a loaded 2-core machine in step)
    _, texts = RUNNERS[path](fake, "FAKE:events=8 FAKE:pace=0.05")
    assert texts == [f"w{i} " for i in range(8)]


@pytest.mark.parametrize("path", RUNNERS)
def test_first_chunk_is_never_held(fake: FakeCodeBuddy, path: str) -> None:
    # the fake sends the first event, then stalls 1.5 s: with a 1 s window, a held first event would come
    # after the stall; handed on at once it arrives long before
    times, texts = RUNNERS[path](fake, "FAKE:events=5 FAKE:stall=1.5", coalesce_ms=1000)
    assert texts[0] == "w0 "
    assert times[0] < 1.0
    assert "".join(texts) == _expected(5)


@pytest.mark.parametrize("path", RUNNERS)
def test_no_event_later_than_the_window(fake: FakeCodeBuddy, path: str) -> None:
    pace, window, margin, n = 0.02, 0.06, 0.25, 40
    times, texts = RUNNERS[path](fake, f"FAKE:events={n} FAKE:pace={pace}", coalesce_ms=window * 1000)
    assert "".join(texts) == _expected(n)
    first = times[0]  # event 0 (sent at the fake's start) arrived then; event k is sent k * pace later
    seen = 0
    for arrived, text in zip(times, texts, strict=True):
        seen += len(text.split())
        last = seen - 1  # the newest event in this chunk; the oldest waited longest: check it below
        oldest = seen - len(text.split())
        assert arrived <= first + oldest * pace + window + margin, (oldest, last, arrived)
    assert len(texts) < n


def test_bad_value_is_refused(fake: FakeCodeBuddy) -> None:
    with pytest.raises(litellm.BadRequestError, match="coalesce_ms"):
        _sync_chunks(fake, "FAKE:events=3", coalesce_ms="soon")


def test_bad_env_value_leaves_it_off(fake: FakeCodeBuddy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(COALESCE_ENV, "fast")
    # 80 ms apart: a loaded machine keeps up, so each event comes in its own chunk
    _, texts = _sync_chunks(fake, "FAKE:events=5 FAKE:pace=0.08")
    assert texts == [f"w{i} " for i in range(5)]


def _wait_disconnect(fake: FakeCodeBuddy, before: int, limit: float = 1.0) -> float:
    start = time.monotonic()
    while fake.disconnects == before and time.monotonic() - start < limit + 1:
        time.sleep(0.01)
    return time.monotonic() - start


async def _async_wait_disconnect(fake: FakeCodeBuddy, before: int, limit: float = 1.0) -> float:
    start = time.monotonic()
    while fake.disconnects == before and time.monotonic() - start < limit + 1:
        await asyncio.sleep(0.01)
    return time.monotonic() - start


@pytest.mark.parametrize("coalesce_ms", [0, 50])
def test_early_close_disconnects_upstream_sync(coalesce_ms: int) -> None:
    with FakeCodeBuddy() as fake:
        stream = litellm.completion(
            model=MODEL,
            messages=_messages("FAKE:events=1000 FAKE:pace=0.01"),
            api_key=KEY,
            api_base=fake.base_url,
            stream=True,
            coalesce_ms=coalesce_ms,
        )
        for i, _ in enumerate(stream):
            if i == 3:
                break
        before = fake.disconnects
        close = getattr(stream, "close", None)
        if close is not None:
            close()
        else:  # LiteLLM 1.106: the wrapper has no close(); finalisation closes the generator
            del stream
        assert _wait_disconnect(fake, before) < 1.0
        assert fake.disconnects == before + 1


@pytest.mark.parametrize("coalesce_ms", [0, 50])
def test_early_close_disconnects_upstream_async(coalesce_ms: int) -> None:
    with FakeCodeBuddy() as fake:

        async def run() -> int:
            stream = await litellm.acompletion(
                model=MODEL,
                messages=_messages("FAKE:events=1000 FAKE:pace=0.01"),
                api_key=KEY,
                api_base=fake.base_url,
                stream=True,
                coalesce_ms=coalesce_ms,
            )
            count = 0
            async for _ in stream:
                count += 1
                if count == 3:
                    break
            before = fake.disconnects
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
            else:
                del stream
            assert await _async_wait_disconnect(fake, before) < 1.0
            return fake.disconnects - before

        assert asyncio.run(run()) == 1


def test_cancelled_consumer_disconnects_upstream() -> None:
    """A proxy client that goes away cancels the consumer task mid-wait: the reader and the connection go too."""
    with FakeCodeBuddy() as fake:

        async def run() -> int:
            async def consume() -> None:
                stream = await litellm.acompletion(
                    model=MODEL,
                    messages=_messages("FAKE:events=1000 FAKE:pace=0.01"),
                    api_key=KEY,
                    api_base=fake.base_url,
                    stream=True,
                    coalesce_ms=200,
                )
                try:
                    async for _ in stream:
                        pass
                finally:
                    aclose = getattr(stream, "aclose", None)
                    if aclose is not None:
                        await aclose()

            before = fake.disconnects
            task = asyncio.create_task(consume())
            await asyncio.sleep(0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert await _async_wait_disconnect(fake, before) < 1.0
            return fake.disconnects - before

        assert asyncio.run(run()) == 1


def _unwrap(exc: BaseException) -> BaseException:
    original = getattr(exc, "original_exception", None)
    return original if isinstance(original, BaseException) else exc


@pytest.mark.parametrize("path", RUNNERS)
@pytest.mark.parametrize(
    ("directive", "expected"),
    [("FAKE:cut=4", litellm.APIConnectionError), ("FAKE:midstream=6004", litellm.RateLimitError)],
)
def test_errors_still_surface_with_window(fake: FakeCodeBuddy, path: str, directive: str, expected: type) -> None:
    with pytest.raises(Exception) as info:
        RUNNERS[path](fake, f"FAKE:events=10 FAKE:pace=0.005 {directive}", coalesce_ms=50)
    assert isinstance(_unwrap(info.value), expected), repr(info.value)


# ------------------------------------------------------------------------ coalesce_ms: auto (follows how busy)


@pytest.fixture
def process_load() -> Iterator[Callable[[float], None]]:
    """Sets how many reads per second the process's coalescing streams seem to receive (restored after)."""
    saved = METER.rate, METER.last

    def set_rate(rate: float) -> None:
        METER.rate, METER.last = rate, time.monotonic()

    yield set_rate
    METER.rate, METER.last = saved


@pytest.mark.parametrize("path", RUNNERS)
def test_auto_hands_each_event_on_alone_while_the_process_is_idle(
    fake: FakeCodeBuddy, path: str, process_load: Callable[[float], None]
) -> None:
    process_load(0)
    # 80 ms apart keeps a loaded machine in step; a window of the limit (200 ms) would merge them
    _, texts = RUNNERS[path](fake, "FAKE:events=6 FAKE:pace=0.08", coalesce_ms="auto:200")
    assert texts == [f"w{i} " for i in range(6)]


@pytest.mark.parametrize("path", RUNNERS)
def test_auto_merges_while_the_process_is_busy(
    fake: FakeCodeBuddy, path: str, process_load: Callable[[float], None]
) -> None:
    process_load(100 * BUSY_RATE)
    _, texts = RUNNERS[path](fake, "FAKE:events=60 FAKE:pace=0.004", coalesce_ms="auto")
    assert "".join(texts) == _expected(60)
    assert 1 < len(texts) < 30


@pytest.mark.parametrize("path", RUNNERS)
def test_auto_never_holds_the_first_chunk(
    fake: FakeCodeBuddy, path: str, process_load: Callable[[float], None]
) -> None:
    process_load(100 * BUSY_RATE)
    times, texts = RUNNERS[path](fake, "FAKE:events=5 FAKE:stall=1.5", coalesce_ms="auto:1000")
    assert texts[0] == "w0 "
    assert times[0] < 1.0
    assert "".join(texts) == _expected(5)


@pytest.mark.parametrize("path", RUNNERS)
def test_auto_holds_no_event_longer_than_its_limit(
    fake: FakeCodeBuddy, path: str, process_load: Callable[[float], None]
) -> None:
    process_load(100 * BUSY_RATE)
    pace, limit, margin, n = 0.02, 0.06, 0.25, 40
    times, texts = RUNNERS[path](fake, f"FAKE:events={n} FAKE:pace={pace}", coalesce_ms=f"auto:{limit * 1000:g}")
    assert "".join(texts) == _expected(n)
    first, seen = times[0], 0
    for arrived, text in zip(times, texts, strict=True):
        oldest = seen  # the oldest event of this chunk waited longest
        seen += len(text.split())
        assert arrived <= first + oldest * pace + limit + margin, (oldest, arrived)
    assert len(texts) < n
