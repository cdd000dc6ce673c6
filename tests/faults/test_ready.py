"""Streams hand LiteLLM everything that is ready (``provider/ready.py``), against a server that writes one HTTP
chunk per SSE event: a consumer that fell behind catches up in one chunk, the first event goes out alone, a paced
server still gives one chunk per event, closing or cancelling drops the upstream connection, a connection is reused
after [DONE]; over TLS too (bytes the TLS layer holds, decrypted or not, count as ready), and with bytes the event
loop has already read; where readiness cannot be known (respx, a custom transport, a compressed body) the body goes
on as httpx hands it over; on the installed httpcore, h11 and anyio every layer the probe knows is found."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import h11
import httpcore
import httpx
import litellm
import pytest
import respx

from fake_codebuddy.tls import Certificates, make_certificates
from litellm_codebuddy.provider.pump import Pump
from litellm_codebuddy.provider.ready import _below_h11, _buffered, probe

from support.servers import EventServer
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


@pytest.mark.parametrize("path", ["sync", "async"])
def test_a_consumer_that_fell_behind_gets_the_backlog_in_one_chunk(path: str) -> None:
    server, first = _behind_server(200)
    with server:
        if path == "sync":

            def on_chunk(i: int) -> None:
                if i == 1:
                    first.set()
                    assert server.sent.wait(10)  # all 200 events are in this process's socket buffer now

            chunks = _sync_stream(server.url, on_chunk)
        else:

            async def aon_chunk(i: int) -> None:
                if i == 1:
                    first.set()
                    assert await asyncio.to_thread(server.sent.wait, 10)

            chunks = asyncio.run(_async_stream(server.url, aon_chunk))
    # the first event alone, then everything that had arrived in one chunk (one chunk per event without it)
    assert _texts(chunks) == ["w0 ", _words(1, 200)]
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_the_first_event_goes_out_alone_even_when_more_is_ready() -> None:
    """The whole stream is in this process's socket buffer before the first chunk is asked for."""
    with EventServer(50) as server:
        stream = litellm.completion(model=MODEL, messages=MESSAGES, api_key=KEY, api_base=server.url, stream=True)
        assert server.sent.wait(10)
        chunks = list(stream)
    assert _texts(chunks) == ["w0 ", _words(1, 50)]


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


def test_async_bytes_the_event_loop_already_read_count_as_ready() -> None:
    """A backlog larger than one socket read of the event loop (asyncio reads up to 256 KB, anyio hands httpcore
    64 KB at a time): the rest waits in anyio's queue, not in the socket, and still joins the piece."""
    assert _behind("async", 3000) == ["w0 ", _words(1, 3000)]


@pytest.mark.parametrize("path", ["sync", "async"])
def test_a_plain_answer_takes_everything_ready_from_the_first_read(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not streamed, nobody sees the pieces: no first event alone, the whole answer in one piece when it is there."""
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
def test_over_tls_a_consumer_that_fell_behind_gets_the_backlog_in_one_chunk(path: str, certs: Certificates) -> None:
    """Async, the TLS layer reads many records off the socket at once: they wait in its incoming buffer."""
    assert _behind(path, 200, certs) == ["w0 ", _words(1, 200)]


@pytest.mark.parametrize("path", ["sync", "async"])
def test_over_tls_reads_smaller_than_a_record_leave_decrypted_bytes_that_count(
    path: str, certs: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpcore reading 64 bytes at a time, the rest of the stream in one TLS record: after the first read of it,
    everything waits decrypted in the TLS layer (the socket is empty)."""
    monkeypatch.setattr(httpcore.HTTP11Connection, "READ_NUM_BYTES", 64)
    monkeypatch.setattr(httpcore.AsyncHTTP11Connection, "READ_NUM_BYTES", 64)
    assert _behind(path, 80, certs, one_write=True) == ["w0 ", _words(1, 80)]


@pytest.mark.parametrize("path", ["sync", "async"])
def test_over_tls_the_first_event_goes_out_alone_even_when_more_is_ready(path: str, certs: Certificates) -> None:
    """The whole answer reaches the client in its first read (one TLS record)."""
    with EventServer(50, tls=certs, cut_before=()) as server:
        if path == "sync":
            chunks = _sync_stream(server.url, ssl_verify=str(certs.ca))
        else:
            chunks = asyncio.run(_async_stream(server.url, ssl_verify=str(certs.ca)))
    assert _texts(chunks) == ["w0 ", _words(1, 50)]


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


# ------------------------------------------------------------------------------------ where it does not apply


def test_probe_knows_a_real_http11_body() -> None:
    with EventServer(3) as server, httpx.Client() as client:
        with client.stream("POST", server.url + "/chat/completions", content=b"{}") as resp:
            assert probe(resp) is not None
            resp.read()


def test_probe_gives_up_on_mocks_custom_transports_and_compressed_bodies() -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.post("http://upstream.test/x").mock(return_value=sse_response(event("a")))
        with httpx.Client() as client, client.stream("POST", "http://upstream.test/x") as resp:
            assert probe(resp) is None
    transport = httpx.MockTransport(lambda request: sse_response(event("a")))
    with httpx.Client(transport=transport) as client, client.stream("POST", "http://upstream.test/x") as resp:
        assert probe(resp) is None
    with EventServer(3) as server, httpx.Client() as client:
        with client.stream("POST", server.url + "/chat/completions", content=b"{}") as resp:
            resp.headers["content-encoding"] = "gzip"  # a piece could decode to nothing: httpx would read on
            assert probe(resp) is None
            resp.headers["content-encoding"] = "identity"
            assert probe(resp) is not None
            resp.read()


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


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("path", ["sync", "async"])
def test_probe_finds_every_layer_it_knows_on_the_installed_libraries(path: str, tls: bool, certs: Certificates) -> None:
    """Where httpcore, h11 or anyio change the private fields the probe reads, this fails (the streams would still
    be right, one read per piece: only slower)."""
    expected = {
        ("sync", False): set(),
        ("sync", True): {"tls decrypted"},
        ("async", False): {"event loop read"},
        ("async", True): {"tls decrypted", "tls received", "event loop read"},
    }[path, tls]
    verify: Any = ssl.create_default_context(cafile=certs.ca) if tls else True
    with EventServer(3, tls=certs if tls else None) as server:
        if path == "sync":
            with httpx.Client(verify=verify) as client:
                with client.stream("POST", server.url + "/chat/completions", content=b"{}") as resp:
                    found = set(_below_h11(resp.extensions["network_stream"]))
                    ready = probe(resp)
                    resp.read()
        else:

            async def run() -> tuple[set[str], Any]:
                async with httpx.AsyncClient(verify=verify) as client:
                    async with client.stream("POST", server.url + "/chat/completions", content=b"{}") as resp:
                        names = set(_below_h11(resp.extensions["network_stream"]))
                        checker = probe(resp)
                        await resp.aread()
                        return names, checker

            found, ready = asyncio.run(run())
    assert ready is not None
    assert found == expected


# ------------------------------------------------------------------------------------ what h11 holds


def _h11_after_head() -> h11.Connection:
    conn = h11.Connection(our_role=h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert isinstance(conn.next_event(), h11.Response)
    return conn


def test_buffered_is_true_only_when_h11_can_hand_over_data_without_reading() -> None:
    conn = _h11_after_head()
    assert _buffered(conn) is False  # nothing yet
    conn.receive_data(b"5\r")
    assert _buffered(conn) is False  # half a chunk header
    conn.receive_data(b"\n")
    assert _buffered(conn) is False  # a header, no data yet: h11 would read
    conn.receive_data(b"hel")
    assert _buffered(conn) is True
    assert bytes(conn.next_event().data) == b"hel"  # type: ignore[union-attr]
    assert _buffered(conn) is False  # mid-chunk, nothing buffered
    conn.receive_data(b"lo\r\n")
    assert _buffered(conn) is True
    conn.next_event()
    assert _buffered(conn) is False  # only the CRLF after the chunk
    conn.receive_data(b"3\r\nabc\r\n4\r\nwxyz\r\n")
    assert _buffered(conn) is True
    conn.next_event()
    assert _buffered(conn) is True  # a whole second chunk behind the first
    conn.next_event()
    conn.receive_data(b"0\r\n\r\n")
    assert _buffered(conn) is False  # the last chunk: the next step takes the end of the message
    assert conn.next_event() == h11.EndOfMessage()
