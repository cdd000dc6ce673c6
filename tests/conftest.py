"""Fixtures for every test, and the kinds of tests.

Each test lives in a folder that names its kind, and carries that kind as a pytest marker, so each pass of
``./test.sh`` selects tests by marker (``-m "unit or fake or faults"``), never by a list of files:

========  ==========================================================================================
unit      pure functions, and the four LiteLLM call paths against a mocked upstream (respx); no socket
fake      the built-in fake CodeBuddy, in-process, over real local sockets
faults    raw socket and TLS servers that misbehave in ways the fake cannot (resets, stalls, relays)
proxy     the real ``litellm`` proxy process in front of the fake (openai and anthropic clients)
agents    real coding agents from the npm registry through the proxy
replicas  two proxy processes sharing a real Redis
official  the official CodeBuddy client (CodeBuddy Code) against the fake, in a loopback-only network namespace
========  ==========================================================================================

Shared helpers live in ``tests/support/`` (no test imports this file). No test reaches the network: an autouse
guard refuses any connection or name lookup that is not local.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import litellm
import pytest
import respx

from fake_codebuddy import FakeCodeBuddy

from support.upstream import MODES, URL, ok_response

#: the kinds of tests, each a folder under tests/ and a marker (declared in pyproject.toml)
KINDS = ("unit", "fake", "faults", "proxy", "agents", "replicas", "official")
_TESTS = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with the kind its folder names, unless the test names its kind itself (a proxy test kept
    beside the fault tests it extends); a test outside the kind folders, or with two kinds, is an error."""
    for item in items:
        try:
            folder = Path(str(item.path)).resolve().relative_to(_TESTS).parts[0]
        except ValueError:
            continue  # not under tests/ (e.g. a file given on the command line from elsewhere)
        if folder not in KINDS:
            raise pytest.UsageError(f"{item.nodeid}: tests live in one of tests/{{{','.join(KINDS)}}}/")
        named = {mark.name for mark in item.iter_markers() if mark.name in KINDS}
        if len(named) > 1:
            raise pytest.UsageError(f"{item.nodeid}: one kind per test, got {sorted(named)}")
        if not named:
            item.add_marker(getattr(pytest.mark, folder))


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.delenv("CODEBUDDY_API_KEY", raising=False)
    monkeypatch.delenv("CODEBUDDY_API_BASE", raising=False)
    # no stored login from the developer's own home may stand in for a missing key
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))


def _local(host: Any) -> bool:
    return host in (None, "", "localhost", "127.0.0.1", "::1") or (isinstance(host, str) and host.startswith("/"))


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse any connection or lookup that is not local (respx never opens a socket)."""
    real_connect, real_connect_ex, real_getaddrinfo = (
        socket.socket.connect,
        socket.socket.connect_ex,
        socket.getaddrinfo,
    )

    def check(address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if not _local(host):
            raise AssertionError(f"unit test tried to reach the network: {address!r}")

    def connect(self: socket.socket, address: Any) -> Any:
        check(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        check((host.decode() if isinstance(host, bytes) else host, 0))
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[respx.MockRouter]:
    """respx router; every request must match a route (assert_all_mocked). respx mocks httpx's own transports, not
    LiteLLM's aiohttp one, so async calls go through httpx here, as they do with LiteLLM's
    ``disable_aiohttp_transport`` (the aiohttp path is tested against real servers: tests/faults, tests/fake)."""
    monkeypatch.setattr(litellm, "disable_aiohttp_transport", True)
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


@pytest.fixture
def ok_route(upstream: respx.MockRouter) -> respx.Route:
    """The default endpoint answering a short, complete stream."""
    return upstream.post(URL).mock(return_value=ok_response())


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh config dir and HOME, so no stored login (and no real user file) is ever touched."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


@pytest.fixture
def fake() -> Iterator[FakeCodeBuddy]:
    """The built-in fake CodeBuddy, in-process."""
    with FakeCodeBuddy() as server:
        yield server


@pytest.fixture
def issued(fake: FakeCodeBuddy) -> list[str]:
    """Every access and refresh token the fake hands out, in order (to check none of them is ever shown)."""
    return fake.issued
