"""Raw socket helper servers for the fault, cancellation and secrets suites (faults the fake cannot play).

* :func:`refused_port`: a port that refuses connections (bound, never listening: no race with other tests).
* :class:`RawServer`: answers every HTTP request with fixed bytes (or a callable's bytes) and records what it got;
  as the target of a redirect it proves that nothing (no key) was sent there.
* :class:`EventServer`: a keep-alive SSE server that writes ONE HTTP CHUNK PER EVENT (like aiohttp, uvicorn,
  nginx), with a hook before each event so a test decides what is already sent; counts connections and disconnects;
  HTTPS too (certificates from ``fake_codebuddy.tls``).
* :func:`open_fds`: the number of open file descriptors of this process.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import ssl
import struct
import termios
import threading
import time
from collections.abc import Callable, Iterator

from fake_codebuddy.tls import Certificates, server_context

__all__ = [
    "EventServer",
    "RawServer",
    "open_fds",
    "refused_port",
    "relay_to",
    "sse_http_response",
]


def open_fds() -> int:
    """Open file descriptors of this process (Linux: /proc/self/fd)."""
    return len(os.listdir("/proc/self/fd"))


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A local port on which nobody listens: held bound (not listening) so no other test can take it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def _read_request(conn: socket.socket) -> bytes:
    """One HTTP/1.1 request (head and Content-Length body), or what arrived before the peer closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip() or 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class RawServer:
    """A threaded TCP server that answers each request with ``response`` (bytes, or a callable of the request).

    ``connections`` counts accepted connections and ``received`` keeps the raw requests, so a test can prove a
    client sent nothing here. Each connection is answered once and closed.
    """

    def __init__(self, response: bytes | Callable[[bytes], bytes] = b"") -> None:
        self.response = response
        self.connections = 0
        self.received: list[bytes] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = int(self._sock.getsockname()[1])
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="raw-server", daemon=True)
        self._workers: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(5)
        for worker in self._workers:
            worker.join(5)

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            worker = threading.Thread(target=self._answer, args=(conn,), daemon=True)
            self._workers.append(worker)
            worker.start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            try:
                request = _read_request(conn)
                self.received.append(request)
                answer = self.response(request) if callable(self.response) else self.response
                if answer:
                    conn.sendall(answer)
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_WR)
                    conn.recv(1024)  # let the client read before the close
            except OSError:
                pass


def sse_http_response(body: bytes) -> bytes:
    """A complete HTTP/1.1 event-stream answer carrying ``body`` (Content-Length framing, connection closed)."""
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def event_bytes(k: int) -> bytes:
    """Content event ``k`` of an :class:`EventServer` stream (text ``w<k> ``), in the gateway's shape."""
    delta = {"role": "assistant" if k == 0 else "", "content": f"w{k} ", "tool_calls": []}
    payload = {"id": f"r{k}", "model": "gpt-5.5", "object": "response", "choices": [{"delta": delta}]}
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


_FINISH = (
    b"data: "
    + json.dumps(
        {
            "id": "rf",
            "model": "gpt-5.5",
            "choices": [{"delta": {}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 7, "total_tokens": 10},
        }
    ).encode()
)


class EventServer:
    """A threaded keep-alive server answering every request with ``events`` content events, a finishing event and
    ``[DONE]``, each written as its own HTTP chunk (one ``send`` each), then the last chunk.

    ``hold(k)`` runs before event ``k`` is written (k = ``events`` for the finishing event and [DONE]); after the
    last chunk, ``sent`` is set once the kernel has passed every byte to the client (nothing left in flight).
    ``connections`` and ``disconnects`` count TCP connections opened and ended. With ``tls``, HTTPS (each ``send``
    one TLS record); with ``cut_before`` (event numbers), the answer goes out in a few ``send`` s instead, cut
    before each of those events (one read finds each part; over TLS, one record each up to 16 KB).
    """

    def __init__(
        self,
        events: int = 200,
        hold: Callable[[int], None] | None = None,
        tls: Certificates | None = None,
        cut_before: tuple[int, ...] | None = None,
    ) -> None:
        self.events, self.hold, self.cut_before = events, hold, cut_before
        self.tls: ssl.SSLContext | None = server_context(tls.cert, tls.key) if tls is not None else None
        self.connections = self.disconnects = self.requests = 0
        self.sent = threading.Event()
        self._raw = RawServer()
        self._raw._answer = self._answer  # type: ignore[method-assign]

    @property
    def url(self) -> str:
        return self._raw.url.replace("http:", "https:") if self.tls is not None else self._raw.url

    def __enter__(self) -> EventServer:
        self._raw.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._raw.stop()

    def _answer(self, conn: socket.socket) -> None:
        self.connections += 1
        try:
            if self.tls is not None:
                conn.settimeout(30)
                conn = self.tls.wrap_socket(conn, server_side=True)
            with conn:
                conn.settimeout(30)
                while _read_request(conn):
                    self.requests += 1
                    self._stream(conn)
        except OSError:
            pass
        finally:
            self.disconnects += 1

    def _stream(self, conn: socket.socket) -> None:
        held: list[bytes] = []
        cuts = self.cut_before
        send = held.append if cuts is not None else conn.sendall
        send(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: keep-alive\r\n\r\n"
        )
        for k in range(self.events + 1):
            if cuts and k in cuts:
                conn.sendall(b"".join(held))
                held.clear()
            if self.hold is not None:
                self.hold(k)
            data = event_bytes(k) if k < self.events else _FINISH + b"\n\n" + b"data: [DONE]\n\n"
            send(b"%x\r\n%b\r\n" % (len(data), data))
        send(b"0\r\n\r\n")
        if held:
            conn.sendall(b"".join(held))
        for _ in range(1000):  # until the kernel has handed every byte to the client (loopback: at once)
            if not _unsent(conn):
                break
            time.sleep(0.001)
        self.sent.set()


def _unsent(conn: socket.socket) -> int:
    """Bytes written to ``conn`` that the kernel has not sent yet (Linux TIOCOUTQ)."""
    return int(struct.unpack("i", fcntl.ioctl(conn.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0])


def relay_to(host: str, port: int, request: bytes, timeout: float = 30.0) -> bytes:
    """Send one raw HTTP request to ``host:port`` with ``Connection: close`` and return the whole raw answer."""
    head, _, body = request.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
    lines.append(b"Connection: close")
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        parts: list[bytes] = []
        while chunk := sock.recv(65536):
            parts.append(chunk)
    return b"".join(parts)
