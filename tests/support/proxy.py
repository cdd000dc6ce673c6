"""Helpers for the end-to-end tests: the real LiteLLM proxy (a subprocess) in front of the fake CodeBuddy.

Everything here is parallel-safe: ports are chosen at run time, files go to the caller's tmp dir, and every
process started is stopped (its whole process group) and checked to be gone, also when a test fails.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import yaml

from fake_codebuddy.tokens import prompt_tokens
from litellm_codebuddy.local.launch import free_port, start_proxy, stop, wait_http

REPO = Path(__file__).resolve().parents[2]
PROJECT_CONFIG = REPO / "proxy_config.yaml"
UPSTREAM_KEY = "ck_test.key"
CATALOG = ("codebuddy/gpt-5.5", "codebuddy/gpt-5.4", "codebuddy/claude-sonnet-4.6", "codebuddy/gemini-3.1-pro")
#: proxy_config.yaml's image deployments (listed by /v1/models beside the chat models)
IMAGE_MODELS = ("codebuddy/hunyuan-image-v3.0",)
START_TIMEOUT = 240.0  # the proxy starts in ~6 s on an idle machine; the machine is shared, so be generous
CLIENT_TIMEOUT = 120.0
# proxy settings in the outer environment would route the proxy's calls to the local fake elsewhere
NO_PROXY_ENV = {
    name: "" for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
} | {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


# ------------------------------------------------------------------------------------------------ processes


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state first), or None when the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rsplit(")", 1)[1].split()


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def group_pids(pgid: int) -> set[int]:
    """Live processes of process group ``pgid`` (the proxy and its workers share the proxy's group)."""
    found = set()
    for pid in _all_pids():
        fields = _stat(pid)
        if fields is not None and fields[0] != "Z" and int(fields[2]) == pgid:
            found.add(pid)
    return found


def pids_with_env(name: str, value: str) -> set[int]:
    """Live processes whose environment holds ``name=value`` (children inherit it, whatever their session)."""
    needle = f"{name}={value}".encode()
    found = set()
    for pid in _all_pids():
        if pid == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0") and alive(pid):
            found.add(pid)
    return found


def wait_gone(pids: Iterable[int], timeout: float = 30.0) -> set[int]:
    """Wait until none of ``pids`` is alive; returns those still alive after ``timeout``."""
    left = set(pids)
    deadline = time.monotonic() + timeout
    while left and time.monotonic() < deadline:
        left = {pid for pid in left if alive(pid)}
        if left:
            time.sleep(0.1)
    return {pid for pid in left if alive(pid)}


def kill_pids(pids: Iterable[int]) -> None:
    """Last resort after a failed check: SIGKILL these processes (by id, nothing else)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


# ------------------------------------------------------------------------------------------------ the proxy


@dataclass
class Proxy:
    base_url: str
    master_key: str
    log: Path
    pid: int
    pids: set[int] = field(default_factory=set)

    def client(self, **kw: Any) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=self.base_url,
            api_key=self.master_key,
            max_retries=0,
            timeout=CLIENT_TIMEOUT,
            http_client=openai.DefaultHttpxClient(trust_env=False),
            **kw,
        )

    def async_client(self, **kw: Any) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=self.master_key,
            max_retries=0,
            timeout=CLIENT_TIMEOUT,
            http_client=openai.DefaultAsyncHttpxClient(
                trust_env=False, limits=httpx.Limits(max_connections=200, max_keepalive_connections=200)
            ),
            **kw,
        )

    def log_tail(self, lines: int = 60) -> str:
        return _tail(self.log, lines)


def overlay_config(tmp_dir: Path, overlay: dict[str, Any], name: str = "proxy_config.yaml") -> Path:
    """The project's proxy_config.yaml with ``overlay`` merged into its top-level sections, written to tmp_dir."""
    config = yaml.safe_load(PROJECT_CONFIG.read_text())
    for section, values in overlay.items():
        if isinstance(values, dict):
            config[section] = {**(config.get(section) or {}), **values}
        else:
            config[section] = values
    path = tmp_dir / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@contextlib.contextmanager
def running_proxy(
    tmp_dir: Path,
    *,
    config: Path = PROJECT_CONFIG,
    env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
    name: str = "proxy",
) -> Iterator[Proxy]:
    """Start ``litellm --config config`` on a free port, wait until it answers, yield it, then stop it and check
    that every process of its group is gone. ``env`` is added to the proxy's environment (after os.environ)."""
    master_key = "sk-e2e-" + secrets.token_hex(16)
    full_env = {**NO_PROXY_ENV, "LITELLM_MASTER_KEY": master_key, **(env or {})}
    log = tmp_dir / f"{name}.log"
    proc = None
    for _attempt in range(3):  # a free port can be taken by someone else before the proxy binds it: try another
        port = free_port()
        proc = start_proxy(config, port, full_env, log=log, extra_args=extra_args)
        try:
            wait_http(f"http://127.0.0.1:{port}/health/liveliness", timeout=START_TIMEOUT, proc=proc)
            break
        except RuntimeError:
            stop(proc)
            if "address already in use" not in _tail(log).lower():
                raise RuntimeError(f"the proxy did not start; log {log}:\n{_tail(log)}") from None
    else:
        raise RuntimeError(f"the proxy could not bind a port; log {log}:\n{_tail(log)}")
    assert proc is not None
    proxy = Proxy(f"http://127.0.0.1:{port}", master_key, log, proc.pid)
    proxy.pids = group_pids(proc.pid) | {proc.pid}
    try:
        yield proxy
    finally:
        proxy.pids |= group_pids(proc.pid)
        stop(proc)
        left = wait_gone(proxy.pids)
        kill_pids(left)
        assert not left, f"processes of the proxy {proc.pid} still running after stop: {sorted(left)}"


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ------------------------------------------------------------------------------------------------ the fake


def marker() -> str:
    """A unique word to put in a prompt, to find that request among the fake's records."""
    return "m" + secrets.token_hex(6)


def request_with(fake: Any, word: str) -> Any:
    """The fake's record of the (last) chat request whose last user message contains ``word``."""
    for rec in reversed(list(fake.requests)):
        body = rec.body if isinstance(rec.body, dict) else {}
        if word in str(body.get("messages", [])[-1:]):
            return rec
    raise AssertionError(f"no request with {word!r} reached the fake ({len(fake.requests)} recorded)")


def requests_with(fake: Any, word: str) -> list[Any]:
    return [
        rec
        for rec in list(fake.requests)
        if isinstance(rec.body, dict) and word in str(rec.body.get("messages", [])[-1:])
    ]


def fake_prompt_tokens(body: dict[str, Any]) -> int:
    """The fake's prompt-token count for a request body it received."""
    return prompt_tokens(body["messages"], body.get("tools"))


class ConnectRecorder:
    """A local stand-in for an HTTPS proxy: records the first line of every request (``CONNECT host:443 ...``)
    and answers 502, so a process pointed at it (``HTTPS_PROXY``) shows where it tried to go, offline."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, name="connect-recorder", daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                data = b""
                with contextlib.suppress(OSError):
                    while b"\r\n\r\n" not in data and len(data) < 65536:
                        piece = conn.recv(4096)
                        if not piece:
                            break
                        data += piece
                    self.lines.append(data.split(b"\r\n", 1)[0].decode("latin-1"))
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def __enter__(self) -> ConnectRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(5)
