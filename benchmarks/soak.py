"""Soak: many calls through the SDK and the proxy, then check that nothing was lost and nothing leaked.

    python benchmarks/soak.py [--sequential 2000] [--concurrent 500] [--proxy-streams 200] [--rounds 3]

Not part of the test suite (``tests/faults/test_cancellation.py::test_many_calls_return_to_baseline`` is its small
version). The fake CodeBuddy runs as a subprocess, so this process's descriptors and memory are the SDK's alone.

1. SDK: ``--sequential`` async calls one after the other, then ``--concurrent`` at once (half plain, half
   streamed), each in its own ``asyncio.run`` (a fresh event loop, as a script would do), for ``--rounds`` rounds.
   Every answer is checked. Open descriptors, RSS and tracemalloc are measured after a warm-up round and after
   every round: growth must stay bounded (not grow with the number of calls).
2. Proxy: the LiteLLM proxy (the repo's proxy_config.yaml) in front of the fake; ``--proxy-streams`` concurrent
   streaming requests per round; every stream must end with ``[DONE]`` and the full answer. The proxy's descriptors
   and RSS are read from /proc after each round.

Prints the figures, then PASS or FAIL lines; the exit status is 1 on any FAIL.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.metadata
import json
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx
import litellm

import litellm_codebuddy  # registers the provider
from litellm_codebuddy.local import launch

ROOT = Path(__file__).resolve().parent.parent
MODEL = "codebuddy/gpt-5.5"
KEY = "ck_soak.key"
PROMPT = "soak FAKE:events=20"
ANSWER = "".join(f"w{k} " for k in range(20))

# bounds: growth after the warm-up round, over all measured rounds
FD_SLACK = 10
RSS_BOUND_MB = 64.0
TRACED_BOUND_MB = 16.0


def fds(pid: int | str = "self") -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def rss_mb(pid: int | str = "self") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return -1.0


def tree_fds(pid: int) -> int:
    """Descriptors of ``pid`` and its children (the proxy may run workers)."""
    total = fds(pid)
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return total + sum(tree_fds(int(c)) for c in children)


def traced_mb() -> float:
    return tracemalloc.get_traced_memory()[0] / 2**20


# ------------------------------------------------------------------------------------------------ SDK


async def one_call(base: str, stream: bool) -> str:
    messages = [{"role": "user", "content": PROMPT}]
    if not stream:
        resp = await litellm.acompletion(model=MODEL, messages=messages, api_key=KEY, api_base=base)
        return resp.choices[0].message.content or ""
    chunks = await litellm.acompletion(model=MODEL, messages=messages, api_key=KEY, api_base=base, stream=True)
    return "".join([c.choices[0].delta.content or "" async for c in chunks])


async def sdk_round(base: str, sequential: int, concurrent: int) -> tuple[int, float, float]:
    """(errors, seconds sequential, seconds concurrent)."""
    errors = 0
    start = time.monotonic()
    for _ in range(sequential):
        try:
            errors += (await one_call(base, False)) != ANSWER
        except Exception as exc:  # counted, shown once
            errors += 1
            print(f"  sequential call failed: {type(exc).__name__}: {exc}"[:300])
    mid = time.monotonic()
    results = await asyncio.gather(*(one_call(base, i % 2 == 1) for i in range(concurrent)), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            errors += 1
            print(f"  concurrent call failed: {type(result).__name__}: {result}"[:300])
        elif result != ANSWER:
            errors += 1
    return errors, mid - start, time.monotonic() - mid


def settle(measure: Any, target: int, limit: float = 10.0) -> int:
    """gc and wait (up to ``limit`` s) for ``measure()`` to come back to ``target``; returns the last value."""
    deadline = time.monotonic() + limit
    value = measure()
    while value > target and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.2)
        value = measure()
    return value


def soak_sdk(base: str, sequential: int, concurrent: int, rounds: int) -> list[str]:
    failures: list[str] = []
    print(f"SDK: {sequential} sequential + {concurrent} concurrent async calls per round (half of the concurrent "
          f"ones streamed), {rounds} rounds after a warm-up round; a fresh event loop per round")  # fmt: skip
    tracemalloc.start()
    asyncio.run(sdk_round(base, 50, 50))  # warm-up: imports, caches, LiteLLM's logging worker
    gc.collect()
    fd0, rss0, traced0 = fds(), rss_mb(), traced_mb()
    print(f"  baseline after warm-up: {fd0} fds, RSS {rss0:.1f} MB, traced {traced0:.1f} MB")
    total_calls = total_errors = 0
    for r in range(1, rounds + 1):
        errors, t_seq, t_conc = asyncio.run(sdk_round(base, sequential, concurrent))
        total_calls += sequential + concurrent
        total_errors += errors
        fd = settle(fds, fd0)
        gc.collect()
        rss, traced = rss_mb(), traced_mb()
        print(
            f"  round {r}: {errors} errors; sequential {t_seq:.1f} s ({t_seq / sequential * 1000:.1f} ms/call), "
            f"{concurrent} concurrent {t_conc:.1f} s; fds {fd} ({fd - fd0:+d}), RSS {rss:.1f} MB ({rss - rss0:+.1f}),"
            f" traced {traced:.1f} MB ({traced - traced0:+.1f})"
        )
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    top = [s for s in snapshot.statistics("filename") if s.size > 512 * 1024][:5]
    if top:
        print("  largest traced allocations by file:")
        for stat in top:
            print(f"    {stat.size / 2**20:6.1f} MB  {stat.traceback[0].filename}")
    fd_growth, rss_growth, traced_growth = fds() - fd0, rss_mb() - rss0, traced - traced0
    print(f"  SDK total: {total_calls} calls, {total_errors} errors")
    if total_errors:
        failures.append(f"SDK: {total_errors} of {total_calls} calls failed or came back wrong")
    if fd_growth > FD_SLACK:
        failures.append(f"SDK: {fd_growth} descriptors more than the baseline (slack {FD_SLACK})")
    if rss_growth > RSS_BOUND_MB:
        failures.append(f"SDK: RSS grew {rss_growth:.1f} MB (bound {RSS_BOUND_MB} MB)")
    if traced_growth > TRACED_BOUND_MB:
        failures.append(f"SDK: traced memory grew {traced_growth:.1f} MB (bound {TRACED_BOUND_MB} MB)")
    return failures


# ------------------------------------------------------------------------------------------------ proxy


async def proxy_round(url: str, master: str, streams: int) -> tuple[int, float]:
    errors = 0
    limits = httpx.Limits(max_connections=streams, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def one() -> bool:
            body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": PROMPT}]}
            text, done = [], False
            async with client.stream(
                "POST", "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {master}"}
            ) as resp:
                if resp.status_code != 200:
                    return False
                async for line in resp.aiter_lines():
                    if line == "data: [DONE]":
                        done = True
                    elif line.startswith("data: "):
                        chunk = json.loads(line[6:])
                        for choice in chunk.get("choices") or ():
                            text.append((choice.get("delta") or {}).get("content") or "")
            return done and "".join(text) == ANSWER

        start = time.monotonic()
        results = await asyncio.gather(*(one() for _ in range(streams)), return_exceptions=True)
        elapsed = time.monotonic() - start
    for result in results:
        if result is not True:
            errors += 1
            if isinstance(result, BaseException):
                print(f"  proxy stream failed: {type(result).__name__}: {result}"[:300])
    return errors, elapsed


def soak_proxy(base: str, streams: int, rounds: int) -> list[str]:
    failures: list[str] = []
    master = "sk-soak-" + os.urandom(6).hex()
    port = launch.free_port()
    log = Path(tempfile.mkdtemp(prefix="soak-")) / "proxy.log"
    env = {"LITELLM_MASTER_KEY": master, "CODEBUDDY_API_KEY": KEY, "CODEBUDDY_API_BASE": base}
    print(f"proxy: {streams} concurrent streams per round, {rounds} rounds after a warm-up round (log: {log})")
    proc = launch.start_proxy(ROOT / "proxy_config.yaml", port, env, log=log)
    try:
        launch.wait_http(f"http://127.0.0.1:{port}/health/liveliness", 180, proc)
        url = f"http://127.0.0.1:{port}"
        asyncio.run(proxy_round(url, master, streams))  # warm-up: the provider's pool fills up to its size
        time.sleep(1)
        fd0, rss0 = tree_fds(proc.pid), rss_mb(proc.pid)
        print(f"  baseline after warm-up: proxy {fd0} fds (its keep-alive pool included), RSS {rss0:.1f} MB")
        total_errors = 0
        fd = fd0
        for r in range(1, rounds + 1):
            errors, elapsed = asyncio.run(proxy_round(url, master, streams))
            total_errors += errors
            fd = settle(lambda: tree_fds(proc.pid), fd0)
            rss = rss_mb(proc.pid)
            print(
                f"  round {r}: {errors} errors, {streams} streams in {elapsed:.1f} s; proxy fds {fd} ({fd - fd0:+d}),"
                f" RSS {rss:.1f} MB ({rss - rss0:+.1f})"
            )
        rss_growth = rss_mb(proc.pid) - rss0
        if total_errors:
            failures.append(f"proxy: {total_errors} of {streams * rounds} streams failed or came back incomplete")
        if fd - fd0 > FD_SLACK:
            failures.append(f"proxy: {fd - fd0} descriptors more than after the warm-up (slack {FD_SLACK})")
        if rss_growth > RSS_BOUND_MB * 2:
            failures.append(f"proxy: RSS grew {rss_growth:.1f} MB (bound {RSS_BOUND_MB * 2} MB)")
    finally:
        launch.stop(proc)
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sequential", type=int, default=2000)
    parser.add_argument("--concurrent", type=int, default=500)
    parser.add_argument("--proxy-streams", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-proxy", action="store_true")
    args = parser.parse_args(argv)
    print(f"litellm {importlib.metadata.version('litellm')}, litellm-codebuddy {litellm_codebuddy.__version__}, "
          f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")  # fmt: skip
    fake, base, _ = launch.start_fake(extra_args=("--key", KEY))
    try:
        started = time.monotonic()
        failures = soak_sdk(base, args.sequential, args.concurrent, args.rounds)
        if not args.skip_proxy:
            failures += soak_proxy(base, args.proxy_streams, args.rounds)
        print(f"total time {time.monotonic() - started:.0f} s")
    finally:
        launch.stop(fake)
    for failure in failures:
        print(f"FAIL {failure}")
    if not failures:
        print("PASS no error, descriptors back to baseline, memory growth bounded")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
