"""The fake's lifecycle: :class:`FakeCodeBuddy` serves on its own asyncio loop in a daemon thread.

In-process use (sync and async tests alike)::

    with FakeCodeBuddy() as fake:            # or fake = FakeCodeBuddy().start(); ...; fake.stop()
        fake.base_url                        # "http://127.0.0.1:PORT/v2"
        fake.requests[-1].body               # parsed JSON body of the last chat request
        fake.set_fault("code=6004")          # every following request fails with 6004
        fake.set_fault(None)                 # back to normal

    with FakeCodeBuddy(tls=True) as fake:    # HTTPS with a throw-away CA (needs ``cryptography``)
        fake.base_url                        # "https://127.0.0.1:PORT/v2"
        fake.ca_file                         # the CA file clients trust (ssl_verify=fake.ca_file)

Routes: ``POST /v2/chat/completions`` (``gateway``); ``POST /v2/images/generations`` and ``/v2/images/edits``
(``images``); the login, discovery and credits paths (``account``); ``GET /health`` -> ``{"ok": true}`` (no auth,
no faults); the official client's telemetry, ``POST /v1/traces`` and ``POST /v2/report`` -> 200 ``{}``, read and
ignored (counted in ``state.traffic.telemetry``); anything else -> 404 JSON.  Each route gets the fake's one
:class:`~.state.FakeState` (``fake.state``); the attributes below read and write its fields.

Counters (``state.traffic``): ``requests`` (records of chat and image requests, at most ``max_requests``, oldest
dropped), ``account_requests``, ``unanswered`` (requests for paths it does not serve, answered 404),
``disconnects`` (streams abandoned by the client before they finished; detected on the next write, or within 0.1 s
during a stall), ``open_connections``, ``connections_total``.  Account knobs
(``state.account``, see ``account``): ``login_pending_polls``, ``credits_remaining``, ``discovery_fail``, ...;
``tokens`` (issued access token -> expiry) and ``issued`` (every token handed out, in order).

``sock=`` serves on a listening socket made elsewhere (e.g. in another network namespace) instead of binding
``host:port``.

TLS: ``certfile=``/``keyfile=`` serve HTTPS with that certificate; ``tls=True`` without a certificate makes a CA
and a server certificate for 127.0.0.1/localhost (``tls.make_certificates``) in a temporary directory, removed when
the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Generic, TypeVar, cast, overload

from . import account, gateway, images
from .directives import Faults, parse_faults
from .http import HEADER_LIMIT, Gone, Request, read_request, send, send_json
from .refusals import reset_at
from .state import FakeState, KeyLimit, RequestRecord
from .tls import make_certificates, server_context

logger = logging.getLogger(__name__)

CHAT_PATH = "/v2/chat/completions"
#: where the official client sends its telemetry: answered and ignored
TELEMETRY_PATHS = frozenset({"/v1/traces", "/v2/report"})
T = TypeVar("T")


class StateField(Generic[T]):
    """An attribute of :class:`FakeCodeBuddy` that is the field of the same name of ``fake.state`` (``part=""``)
    or of ``fake.state.<part>``."""

    def __init__(self, part: str = "") -> None:
        self.part = part
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def _holder(self, fake: FakeCodeBuddy) -> object:
        return getattr(fake.state, self.part) if self.part else fake.state

    @overload
    def __get__(self, fake: None, owner: type | None = None) -> StateField[T]: ...

    @overload
    def __get__(self, fake: FakeCodeBuddy, owner: type | None = None) -> T: ...

    def __get__(self, fake: FakeCodeBuddy | None, owner: type | None = None) -> T | StateField[T]:
        if fake is None:
            return self
        return cast(T, getattr(self._holder(fake), self.name))

    def __set__(self, fake: FakeCodeBuddy, value: T) -> None:
        setattr(self._holder(fake), self.name, value)


class FakeCodeBuddy:
    """A local fake CodeBuddy gateway.  The package's modules describe its behaviour and directives."""

    api_key: StateField[str | None] = StateField()
    models: StateField[frozenset[str]] = StateField()
    limits: StateField[dict[str, KeyLimit]] = StateField()
    # what the server saw
    requests: StateField[list[RequestRecord]] = StateField("traffic")
    account_requests: StateField[list[RequestRecord]] = StateField("traffic")
    unanswered: StateField[list[RequestRecord]] = StateField("traffic")
    disconnects: StateField[int] = StateField("traffic")
    open_connections: StateField[int] = StateField("traffic")
    connections_total: StateField[int] = StateField("traffic")
    telemetry: StateField[int] = StateField("traffic")
    max_requests: StateField[int] = StateField("traffic")
    # login, discovery and credits (see ``account``)
    login_pending_polls: StateField[int] = StateField("account")
    login_refuse: StateField[bool] = StateField("account")
    login_expire: StateField[bool] = StateField("account")
    login_interval: StateField[float | None] = StateField("account")
    token_expires_in: StateField[int | None] = StateField("account")
    refresh_fail: StateField[bool] = StateField("account")
    models_live: StateField[list[Any] | None] = StateField("account")
    discovery_fail: StateField[bool | str] = StateField("account")
    personal_models_fail: StateField[int] = StateField("account")
    credits_remaining: StateField[float] = StateField("account")
    credits_size: StateField[float] = StateField("account")
    credits_fail: StateField[bool] = StateField("account")
    tokens: StateField[dict[str, float]] = StateField("account")
    issued: StateField[list[str]] = StateField("account")

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        *,
        models: Iterable[str] | None = None,
        max_requests: int = 10_000,
        tls: bool = False,
        certfile: str | Path | None = None,
        keyfile: str | Path | None = None,
        sock: socket.socket | None = None,
    ) -> None:
        self.host = "127.0.0.1" if host == "localhost" else host
        self.port = port
        self.sock = sock
        """A listening socket to serve on instead of binding ``host:port`` (e.g. one made in another network
        namespace); the fake closes it when it stops."""
        if sock is not None:
            self.host, self.port = sock.getsockname()[:2]
        self.state = FakeState.create(api_key, models, max_requests)
        self.tls = tls or certfile is not None
        self.certfile = certfile
        self.keyfile = keyfile
        self.ca_file: str | None = None
        """The throw-away CA (``tls=True`` without ``certfile``) once started; clients pass it as ``ssl_verify``."""
        self._tls_dir: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._conns: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}

    # ---------------------------------------------------------------------------------------------- public API

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` or ``https://HOST:PORT`` (no path)."""
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "[::1]"
        elif ":" in host:
            host = f"[{host}]"
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base: ``http(s)://HOST:PORT/v2``."""
        return self.url + "/v2"

    def set_fault(self, spec: str | None) -> None:
        """Apply directives (``"code=6004 status=429"``) to every following request; ``None`` clears them.  Raises
        ValueError for an unknown directive or a bad value."""
        self.state.faults = parse_faults(spec) if spec else Faults()

    def limit(
        self, key: str, seconds: float = 3600.0, *, model: str | None = None, lang: str = "zh", code: int = 6004
    ) -> datetime.datetime:
        """Put ``key`` over its frequency limit for ``seconds`` (for every model, or only ``model``): its requests
        get HTTP 429 6004 naming the reset time (UTC+8, ``lang`` "zh" or "en") until then, or another ``code`` (e.g.
        14018, out of credits) with ``x-ratelimit-reset`` naming it. Returns the reset time."""
        reset = reset_at(seconds)
        self.state.limits[key] = KeyLimit(reset, model, lang, code)
        return reset

    def issue_token(self, expires_in: int | None = None) -> tuple[str, str]:
        """A new (access token, refresh token) pair, accepted as a key until it expires."""
        return self.state.account.issue_token(expires_in)

    def start(self) -> FakeCodeBuddy:
        """Serve in a daemon thread; returns once the port is bound."""
        if self._thread is not None:
            raise RuntimeError("FakeCodeBuddy already started")
        self._ready.clear()
        self._start_error = None
        self._thread = threading.Thread(target=self._thread_main, name="fake-codebuddy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("FakeCodeBuddy did not start")
        if self._start_error is not None:
            self._thread.join(2)
            self._thread = None
            raise self._start_error
        return self

    def stop(self) -> None:
        """Close the listener and every connection, and join the thread."""
        thread = self._thread
        if thread is None:
            return
        self.request_stop()
        thread.join(5)
        self._thread = None

    def request_stop(self) -> None:
        """Thread-safe: ask ``serve()`` to return."""
        loop, event = self._loop, self._stop_event
        if loop is not None and event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    def __enter__(self) -> FakeCodeBuddy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def serve(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve on the running event loop until ``request_stop()``/``stop()``."""
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        try:
            context = self._tls_context()
            where: dict[str, Any] = (
                {"sock": self.sock} if self.sock is not None else {"host": self.host, "port": self.port}
            )
            server = await asyncio.start_server(
                self._on_connection,
                **where,
                backlog=2048,
                limit=HEADER_LIMIT,
                ssl=context,
                ssl_handshake_timeout=10 if context is not None else None,
            )
            self.port = server.sockets[0].getsockname()[1]
            self.state.url = self.url
            if on_ready is not None:
                on_ready()
            try:
                await self._stop_event.wait()
            finally:
                await self._close(server)
        finally:
            if self._tls_dir is not None:
                shutil.rmtree(self._tls_dir, ignore_errors=True)
                self._tls_dir = None

    # ---------------------------------------------------------------------------------------------- internals

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self.serve(on_ready=self._ready.set))
        except BaseException as exc:  # reported to start()
            if not self._ready.is_set():
                self._start_error = exc
            else:
                logger.exception("fake CodeBuddy server failed")
        finally:
            self._ready.set()
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _tls_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        if self.certfile is None:
            self._tls_dir = tempfile.mkdtemp(prefix="fake-codebuddy-tls-")
            certs = make_certificates(Path(self._tls_dir))
            self.ca_file = str(certs.ca)
            return server_context(certs.cert, certs.key)
        return server_context(self.certfile, self.keyfile)

    async def _close(self, server: asyncio.Server) -> None:
        server.close()
        tasks = list(self._conns)
        for task, writer in list(self._conns.items()):
            writer.transport.abort()
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 1)

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns[task] = writer
        self.state.traffic.connection_opened()
        try:
            while True:
                req = await read_request(reader, writer)
                if req is None or not await self._dispatch(req, reader, writer):
                    break
        except Gone:
            logger.debug("client went away")
        except asyncio.CancelledError:
            logger.debug("connection handler cancelled (server stopping)")
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as exc:
            logger.debug("connection error: %r", exc)
        except Exception:
            logger.exception("fake CodeBuddy handler failed")
        finally:
            self.state.traffic.connection_closed()
            if task is not None:
                self._conns.pop(task, None)
            if not writer.transport.is_closing():
                writer.close()

    async def _dispatch(self, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        keep = req.keep_alive
        if req.path == "/health" and req.method in ("GET", "HEAD"):
            return await send(writer, 200, b'{"ok":true}', keep_alive=keep, head_only=req.method == "HEAD")
        if req.path == CHAT_PATH and req.method == "POST":
            return await gateway.chat(self.state, req, reader, writer)
        if req.path in images.PATHS and req.method == "POST":
            return await images.handle(self.state, req, reader, writer)
        if req.path in account.PATHS:
            return await account.handle(self.state, req, writer)
        if req.path in TELEMETRY_PATHS and req.method == "POST":
            self.state.traffic.telemetry_received()
            return await send(writer, 200, b"{}", keep_alive=keep)
        if req.path in ("/health", CHAT_PATH, *TELEMETRY_PATHS) or req.path in images.PATHS:
            return await send_json(writer, 405, {"code": 405, "msg": "method not allowed"}, keep_alive=keep)
        self.state.traffic.record_unanswered(req)
        return await send_json(writer, 404, {"code": 404, "msg": f"not found: {req.path}"}, keep_alive=keep)
