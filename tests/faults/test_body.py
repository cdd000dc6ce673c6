"""How a stream's bytes reach LiteLLM (``provider/coalesce.py``'s plain sources, ``provider/transport.py``'s
clients), against a server that writes one HTTP chunk per SSE event: a paced server gives one chunk per event, an
async consumer that fell behind catches up in a few chunks (LiteLLM's aiohttp transport hands over what the
connection holds), a sync one gets what httpx's iterator hands over, closing or cancelling drops the upstream
connection, a connection is reused after [DONE]; over TLS too; a caller's mock client gets one chunk per read."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import litellm
import pytest

from fake_codebuddy.tls import Certificates, make_certificates
from litellm_codebuddy.provider.pump import Pump

from support.servers import EventServer, event_bytes
from support.upstream import KEY, MODEL, event, sse_response

MESSAGES = [{"role": "user", "content": "hi"}]


def _texts(chunks: list[Any]) -> list[str]:
    """The non-empty content of each chunk, in order."""
    out = []
    for chunk in chunks:
        content = chunk.choices[0].delta.content if chunk.choices else None
        if content:
            out.append(content)
    return out


def _words(a: int, b: int) -> str:
    return "".join(f"w{k} " for k in range(a, b))


def _sync_stream(url: str, on_chunk: Callable[[int], None] = lambda i: None, **kw: Any) -> list[Any]:
    stream = litellm.completion(model=MODEL, messages=MESSAGES, api_key=KEY, api_base=url, stream=True, **kw)
    chunks = []
    for chunk in stream:
        chunks.append(chunk)
        on_chunk(len(chunks))
    return chunks


async def _async_stream(url: str, on_chunk: Callable[[int], Any] = lambda i: None, **kw: Any) -> list[Any]:
    stream = await litellm.acompletion(model=MODEL, messages=MESSAGES, api_key=KEY, api_base=url, stream=True, **kw)
    chunks = []
    async for chunk in stream:
        chunks.append(chunk)
        result = on_chunk(len(chunks))
        if asyncio.iscoroutine(result):
            await result
    return chunks


# ------------------------------------------------------------------------------------ a consumer that fell behind


def _behind_server(
    events: int, tls: Certificates | None = None, one_write: bool = False
) -> tuple[EventServer, threading.Event]:
    """Event 0 goes out; the rest (each its own chunk; with ``one_write``, all in one send) only once the consumer
    has its first chunk."""
    first = threading.Event()
    cuts = (1,) if one_write else None
    server = EventServer(events, hold=lambda k: k == 1 and first.wait(10), tls=tls, cut_before=cuts)
    return server, first


def _pieces(events: int) -> int:
    """The most chunks a backlog of events 1 to ``events`` may come in: the aiohttp transport hands over up to 16 KB
    per read (HTTP chunk framing included), plus one for a read that ends mid-event."""
    total = sum(len(event_bytes(k)) + 10 for k in range(1, events))
    return total // 16384 + 2


def test_an_async_consumer_that_fell_behind_gets_the_backlog_in_few_chunks() -> None:
    texts = _behind("async", 200)
    assert "".join(texts) == _words(0, 200)
    assert texts[0] == "w0 "  # the first event was all there was when it was read
    assert len(texts) - 1 <= _pieces(200)  # one chunk per event before


def test_a_sync_consumer_that_fell_behind_gets_every_event() -> None:
    """httpx's iterator hands over one HTTP chunk at a time: nothing merged, nothing lost."""
    assert _behind("sync", 200) == [f"w{k} " for k in range(200)]


@pytest.mark.parametrize("path", ["sync", "async"])
def test_a_paced_server_still_gives_one_chunk_per_event(path: str) -> None:
    """Event k is written only once the consumer holds event k-1: nothing is ever ready early, nothing waits."""
    got = threading.Semaphore(0)
    server = EventServer(20, hold=lambda k: k == 0 or got.acquire(timeout=10))

    def on_chunk(i: int) -> None:
        got.release()

    with server:
        if path == "sync":
            chunks = _sync_stream(server.url, on_chunk)
        else:
            chunks = asyncio.run(_async_stream(server.url, on_chunk))
    assert _texts(chunks) == [f"w{k} " for k in range(20)]


def _behind(path: str, events: int, tls: Certificates | None = None, one_write: bool = False) -> list[str]:
    """The texts a consumer gets when the whole stream after event 0 reaches this process while it holds event 0."""
    server, first = _behind_server(events, tls, one_write)
    kw: dict[str, Any] = {"ssl_verify": str(tls.ca)} if tls is not None else {}
    with server:
        if path == "sync":

            def on_chunk(i: int) -> None:
                if i == 1:
                    first.set()
                    assert server.sent.wait(10)

            chunks = _sync_stream(server.url, on_chunk, **kw)
        else:

            async def aon_chunk(i: int) -> None:
                if i == 1:
                    first.set()
                    assert await asyncio.to_thread(server.sent.wait, 10)

            chunks = asyncio.run(_async_stream(server.url, aon_chunk, **kw))
    assert chunks[-1].choices[0].finish_reason == "stop"
    return _texts(chunks)


def test_a_large_async_backlog_comes_whole_and_in_order() -> None:
    """More than one socket read of the event loop (asyncio reads up to 256 KB at a time)."""
    texts = _behind("async", 3000)
    assert "".join(texts) == _words(0, 3000)
    assert len(texts) - 1 <= _pieces(3000)


@pytest.mark.parametrize("path", ["async"])
def test_a_plain_answer_takes_everything_ready_from_the_first_read(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Async through the aiohttp transport: the whole answer in one piece when it is there."""
    pieces: list[bytes] = []
    push = Pump.push

    def counted(self: Pump, raw: bytes) -> list[Any]:
        pieces.append(raw)
        return push(self, raw)

    monkeypatch.setattr(Pump, "push", counted)
    kw = {"model": MODEL, "messages": MESSAGES, "api_key": KEY}
    with EventServer(100, cut_before=()) as server:  # the whole answer in one send: one read finds it
        if path == "sync":
            response = litellm.completion(api_base=server.url, **kw)
        else:
            response = asyncio.run(litellm.acompletion(api_base=server.url, **kw))
    assert response.choices[0].message.content == _words(0, 100)
    assert len(pieces) == 1


# ------------------------------------------------------------------------------------ over TLS


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.mark.parametrize("path", ["sync", "async"])
def test_over_tls_a_consumer_that_fell_behind_gets_the_whole_backlog(path: str, certs: Certificates) -> None:
    texts = _behind(path, 200, certs)
    assert "".join(texts) == _words(0, 200)
    if path == "async":
        assert len(texts) - 1 <= _pieces(200)


@pytest.mark.parametrize("path", ["sync", "async"])
def test_over_tls_a_paced_server_still_gives_one_chunk_per_event(path: str, certs: Certificates) -> None:
    got = threading.Semaphore(0)
    server = EventServer(20, hold=lambda k: k == 0 or got.acquire(timeout=10), tls=certs)

    def on_chunk(i: int) -> None:
        got.release()

    with server:
        if path == "sync":
            chunks = _sync_stream(server.url, on_chunk, ssl_verify=str(certs.ca))
        else:
            chunks = asyncio.run(_async_stream(server.url, on_chunk, ssl_verify=str(certs.ca)))
    assert _texts(chunks) == [f"w{k} " for k in range(20)]


# ------------------------------------------------------------------------------------ the connection


def _paced_forever(k: int) -> None:
    if k > 5:
        time.sleep(0.005)


def _wait_for(predicate: Callable[[], bool], limit: float = 5.0) -> bool:
    deadline = time.monotonic() + limit
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.005)
    return predicate()


def test_closing_a_sync_stream_drops_the_upstream_connection() -> None:
    with EventServer(100_000, hold=_paced_forever) as server:
        stream = litellm.completion(model=MODEL, messages=MESSAGES, api_key=KEY, api_base=server.url, stream=True)
        for i, _ in enumerate(stream):
            if i == 10:
                break
        assert server.disconnects == 0
        stream.close()
        assert _wait_for(lambda: server.disconnects == 1)
        assert server.connections == 1


@pytest.mark.parametrize("how", ["aclose", "cancel"])
def test_closing_or_cancelling_an_async_stream_drops_the_upstream_connection(how: str) -> None:
    with EventServer(100_000, hold=_paced_forever) as server:

        async def run() -> None:
            stream = await litellm.acompletion(
                model=MODEL, messages=MESSAGES, api_key=KEY, api_base=server.url, stream=True
            )
            seen = asyncio.Event()

            async def consume() -> None:
                count = 0
                async for _ in stream:
                    count += 1
                    if count == 10:
                        seen.set()
                        if how == "aclose":
                            break

            task = asyncio.create_task(consume())
            await seen.wait()
            assert server.disconnects == 0
            if how == "cancel":
                task.cancel()
            with pytest.raises(asyncio.CancelledError) if how == "cancel" else _nothing():
                await task
            if how == "aclose":
                await stream.aclose()
            assert await asyncio.to_thread(_wait_for, lambda: server.disconnects == 1)

        asyncio.run(run())
        assert server.connections == 1


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize("path", ["sync", "async"])
def test_the_connection_is_reused_after_done(path: str) -> None:
    """The piece holding [DONE] also holds the end of the body: the connection goes back to the pool."""
    with EventServer(300) as server:  # all at once: every stream ends in one ready piece
        if path == "sync":
            runs = [_sync_stream(server.url) for _ in range(3)]
        else:

            async def three() -> list[list[Any]]:
                return [await _async_stream(server.url) for _ in range(3)]

            runs = asyncio.run(three())
        assert server.requests == 3
        assert server.connections == 1
    for chunks in runs:
        assert "".join(_texts(chunks)) == _words(0, 300)


# ------------------------------------------------------------------------------------ a caller's own client


@pytest.mark.parametrize("path", ["sync", "async"])
def test_a_caller_supplied_mock_client_gets_one_chunk_per_read_as_before(path: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return sse_response(*(event(f"w{k} ") for k in range(5)), event(finish_reason="stop"), split=True)

    kwargs = {"model": MODEL, "messages": MESSAGES, "api_key": KEY, "api_base": "http://upstream.test", "stream": True}
    if path == "sync":
        client: Any = httpx.Client(transport=httpx.MockTransport(answer))
        chunks = list(litellm.completion(client=client, **kwargs))
    else:

        async def run() -> list[Any]:
            async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as aclient:
                stream = await litellm.acompletion(client=aclient, **kwargs)
                return [c async for c in stream]

        chunks = asyncio.run(run())
    assert _texts(chunks) == [f"w{k} " for k in range(5)]
