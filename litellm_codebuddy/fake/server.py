"""The fake's lifecycle: :class:`FakeCodeBuddy` serves on its own asyncio loop in a daemon thread.

In-process use (sync and async tests alike)::

    with FakeCodeBuddy() as fake:            # or fake = FakeCodeBuddy().start(); ...; fake.stop()
        fake.base_url                        # "http://127.0.0.1:PORT/v2"
        fake.requests[-1].body               # parsed JSON body of the last chat request
        fake.set_fault("code=6004")          # every following request fails with 6004
        fake.set_fault(None)                 # back to normal

Routes: ``POST /v2/chat/completions`` (``gateway``); the login, discovery and credits paths (``account``);
``GET /health`` -> ``{"ok": true}`` (no auth, no faults); anything else -> 404 JSON.

Counters: ``requests`` (records of chat requests, at most ``max_requests``, oldest dropped), ``disconnects``
(streams abandoned by the client before they finished; detected on the next write, or within 0.1 s during a
stall), ``open_connections``, ``connections_total``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from . import account, gateway
from .directives import parse_fault
from .http import HEADER_LIMIT, Gone, Request, read_request, send, send_json
from .models import KNOWN_MODELS

logger = logging.getLogger(__name__)

CHAT_PATH = "/v2/chat/completions"


@dataclass
class RequestRecord:
    """One received request.  Attribute or item access: ``rec.body`` == ``rec["body"]``."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    """The parsed JSON body (``None`` when it was not valid JSON)."""

    def __getitem__(self, key: str) -> Any:
        if key in ("method", "path", "headers", "body"):
            return getattr(self, key)
        if key == "json":
            return self.body
        raise KeyError(key)

    @property
    def json(self) -> Any:
        return self.body


class FakeCodeBuddy:
    """A local fake CodeBuddy gateway.  The package's modules describe its behaviour and directives."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        *,
        models: Iterable[str] | None = None,
        max_requests: int = 10_000,
    ) -> None:
        self.host = "127.0.0.1" if host == "localhost" else host
        self.port = port
        self.api_key = api_key
        self.models: frozenset[str] = KNOWN_MODELS | frozenset(models or ())
        self.max_requests = max_requests
        self.requests: list[RequestRecord] = []
        self.disconnects = 0
        self.open_connections = 0
        self.connections_total = 0
        self._fault: dict[str, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._conns: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}
        self._lock = threading.Lock()
        # login, discovery and credits (see ``account``), configurable from tests
        self.login_pending_polls = 0
        self.login_refuse = False
        self.login_expire = False
        self.login_interval: float | None = None
        self.token_expires_in: int | None = 86400
        self.refresh_fail = False
        self.models_live: list[Any] | None = None
        self.discovery_fail: bool | str = False
        self.personal_models_fail = 0
        self.credits_remaining = 250.0
        self.credits_size = 300.0
        self.credits_fail = False
        self.account_requests: list[RequestRecord] = []
        self.tokens: dict[str, float] = {}  # issued access token -> expiry (time.time())
        self._refresh_tokens: dict[str, str] = {}  # refresh token -> its access token
        self._states: dict[str, int] = {}  # login state -> polls so far

    # ---------------------------------------------------------------------------------------------- public API

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (no path)."""
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "[::1]"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base: ``http://HOST:PORT/v2``."""
        return self.url + "/v2"

    def set_fault(self, spec: str | None) -> None:
        """Apply directives (``"code=6004 status=429"``) to every following request; ``None`` clears them."""
        self._fault = parse_fault(spec) if spec else {}

    def issue_token(self, expires_in: int | None = None) -> tuple[str, str]:
        """A new (access token, refresh token) pair, accepted as a key until it expires."""
        access, refresh = "at_" + uuid.uuid4().hex, "rt_" + uuid.uuid4().hex
        life = self.token_expires_in if expires_in is None else expires_in
        self.tokens[access] = time.time() + (86400 if life is None else life)
        self._refresh_tokens[refresh] = access
        return access, refresh

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
        server = await asyncio.start_server(self._on_connection, self.host, self.port, backlog=2048, limit=HEADER_LIMIT)
        self.port = server.sockets[0].getsockname()[1]
        if on_ready is not None:
            on_ready()
        try:
            await self._stop_event.wait()
        finally:
            server.close()
            tasks = list(self._conns)
            for task, writer in list(self._conns.items()):
                writer.transport.abort()
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=1)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 1)

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

    def _record(self, req: Request, body: Any) -> None:
        """Keep a chat request in ``requests`` (at most ``max_requests``; none when it is 0)."""
        if self.max_requests <= 0:
            return
        with self._lock:
            self.requests.append(RequestRecord(req.method, req.path, dict(req.headers), body))
            if len(self.requests) > self.max_requests:
                del self.requests[: max(1, self.max_requests // 10)]

    def _record_account(self, req: Request) -> None:
        with self._lock:
            self.account_requests.append(RequestRecord(req.method, req.target, dict(req.headers), None))

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns[task] = writer
        self.connections_total += 1
        self.open_connections += 1
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
            self.open_connections -= 1
            if task is not None:
                self._conns.pop(task, None)
            if not writer.transport.is_closing():
                writer.close()

    async def _dispatch(self, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        keep = req.keep_alive
        if req.path == "/health" and req.method in ("GET", "HEAD"):
            return await send(writer, 200, b'{"ok":true}', keep_alive=keep, head_only=req.method == "HEAD")
        if req.path == CHAT_PATH and req.method == "POST":
            return await gateway.chat(self, req, reader, writer)
        if req.path in account.PATHS:
            return await account.handle(self, req, writer)
        if req.path in ("/health", CHAT_PATH):
            return await send_json(writer, 405, {"code": 405, "msg": "method not allowed"}, keep_alive=keep)
        return await send_json(writer, 404, {"code": 404, "msg": f"not found: {req.path}"}, keep_alive=keep)
