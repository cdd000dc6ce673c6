"""Benchmark: token-rate streams, and short requests, through the LiteLLM proxy, as a team's gateway sends them.

    python benchmarks/token_rate.py [--quick] [--rounds 3] [--streams 64] [--events 500] [--pace 0.01]
                                    [--jitter 0.003] [--spread 1] [--plain] [--windows 0,20,auto] [--requests 200]

Many concurrent streams (64 by default, started evenly over ``--spread`` seconds, as a team's requests do not all
arrive in the same millisecond) of events paced ``--pace`` apart (10 ms: about 100 tokens per second each) with
``--jitter``, from the built-in fake over TLS (``--plain``: HTTP), through one LiteLLM proxy started with the
project's ``proxy_config.yaml`` as shipped, plus an ``openai/`` deployment on the same fake. For each deployment:
proxy CPU per event (the proxy process and its children), events per second, time to first token (p50, p99), and
the delay each event picks up on the way (p50, p99: its arrival at the client after its place in the stream's
schedule, the origin being the earliest arrival that schedule allows; and the p99 of the events that arrive while
all streams run, after the last first token and before the first end: the proxy's work at the start and the end
of every request, bunched together here, left out), and how many CPUs the proxy, and the fake with this client,
kept busy meanwhile (on a small machine they share it: a proxy short of CPU falls behind, and delays grow whatever
it merges). ``--windows`` adds ``codebuddy/`` deployments with those ``coalesce_ms`` values, to compare (``0``:
no window). Before the streams,
``--requests`` short requests one at a time through the same proxy: wall and proxy CPU per request, ``codebuddy/``
(a plain answer, and streamed) against ``openai/`` (streamed). Rounds are interleaved; every figure is the median
over rounds. The last lines compare ratios with the goals (PASS/MISS). The machine's load is printed at the start
and the end: other CPU load shifts absolute figures more than ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx
import yaml
from bench import med, pct, proc_cpu  # the proxy's CPU (and its workers') from /proc

from litellm_codebuddy.local.launch import free_port, start_fake, start_proxy, stop, wait_http

ROOT = Path(__file__).resolve().parent.parent
KEY = "ck_bench.secretvalue"
MASTER = "sk-bench-master"
ENDED_IN_ERROR: dict[str, int] = {}  # per model: streams the proxy ended with an error event after the content
BOUND = 0.050  # the delay the shipped default may add to an event (seconds)
SYSTEM = {"role": "system", "content": "You are a helpful assistant."}


# ------------------------------------------------------------------------------------------------ the proxy


def proxy_config(path: Path, base: str, windows: list[str]) -> dict[str, str]:
    """The shipped proxy_config.yaml, plus an ``openai/`` deployment (and ``codebuddy/`` ones with explicit windows)
    on the same fake; returns the model names by label."""
    config = yaml.safe_load((ROOT / "proxy_config.yaml").read_text())
    shipped = next(m for m in config["model_list"] if m["model_name"] == "codebuddy/gpt-5.5")
    names = {"codebuddy/ (shipped config)": "codebuddy/gpt-5.5"}
    for ms in windows:
        params = {**shipped["litellm_params"], "coalesce_ms": ms}
        config["model_list"].append({"model_name": f"cb-window-{ms}", "litellm_params": params})
        names[f"codebuddy/ coalesce_ms={ms}"] = f"cb-window-{ms}"
    config["model_list"].append(
        {
            "model_name": "oa",
            "litellm_params": {
                "model": "openai/gpt-5.5",
                "api_key": KEY,
                "api_base": base,
                "extra_headers": {"X-API-Key": KEY},
            },
        }
    )
    names["openai/"] = "oa"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return names


# ------------------------------------------------------------------------------------------------ the streams


@dataclass
class Round:
    wall: float
    cpu: float
    events: int
    others: float = 0.0  # CPU seconds the fake and this client spent meanwhile (the machine's share not the proxy's)
    ttft: list[float] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    steady: list[float] = field(default_factory=list)  # the delays of events while every stream streams


async def one_stream(
    client: httpx.AsyncClient, url: str, model: str, text: str, pace: float, start: float = 0.0
) -> tuple[float, Any]:
    """(time to first token, [(event index, arrival)]) of one streamed call through the proxy, sent after
    ``start`` seconds."""
    body = {"model": model, "messages": [SYSTEM, {"role": "user", "content": text}], "stream": True}
    await asyncio.sleep(start)
    t0 = time.perf_counter()
    arrivals: list[tuple[int, float]] = []
    done = False
    async with client.stream("POST", url + "/v1/chat/completions", json=body) as resp:
        if resp.status_code != 200:
            raise RuntimeError(f"proxy answered {resp.status_code}: {(await resp.aread())[:300]!r}")
        async for line in resp.aiter_lines():
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                done = True
                continue
            now = time.perf_counter()
            payload = json.loads(line[6:])
            if "error" in payload:
                # LiteLLM's proxy fails at the end of openai/ streams from this gateway (its chunks carry no
                # choices[].index): counted and reported; the content before it is measured
                ENDED_IN_ERROR[model] = ENDED_IN_ERROR.get(model, 0) + 1
                done = True
                continue
            for choice in payload.get("choices") or ():
                content = (choice.get("delta") or {}).get("content") or ""
                arrivals.extend((int(word[1:]), now) for word in content.split())
    if not done:
        raise RuntimeError(f"{model}: stream without [DONE]")
    return (arrivals[0][1] - t0 if arrivals else float("nan")), arrivals


def schedule_delays(arrivals: list[tuple[int, float]], pace: float) -> list[float]:
    """Per event: how late it arrived after its place in the schedule (event k at origin + k * pace, the origin the
    earliest arrival that schedule allows). The fake's jitter moves each event within +-jitter of its place, so
    this figure carries up to 2 x jitter of it, for every deployment alike."""
    if not arrivals:
        return []
    origin = min(t - k * pace for k, t in arrivals)
    return [t - k * pace - origin for k, t in arrivals]


async def batch(
    url: str,
    pid: int,
    model: str,
    streams: int,
    directives: str,
    n: int,
    pace: float,
    fake_pid: int = 0,
    spread: float = 0.0,
) -> Round:
    """``streams`` concurrent streams through the proxy, started evenly over ``spread`` seconds; each asks with its
    own words, so the fake (which seeds its jitter with the request body) gives each stream its own schedule."""
    limits = httpx.Limits(max_connections=streams, max_keepalive_connections=streams)
    async with httpx.AsyncClient(timeout=300, limits=limits, headers={"Authorization": f"Bearer {MASTER}"}) as client:
        await one_stream(client, url, model, "hi FAKE:events=3", pace)
        cpu0, others0 = proc_cpu(pid), proc_cpu(fake_pid) + time.process_time()
        t0 = time.perf_counter()
        out = await asyncio.gather(
            *(
                one_stream(client, url, model, f"stream {i} {directives}", pace, i * spread / streams)
                for i in range(streams)
            )
        )
        wall = time.perf_counter() - t0
        await asyncio.sleep(0.2)  # LiteLLM's background logging of the last streams
        cpu = proc_cpu(pid) - cpu0
        others = proc_cpu(fake_pid) + time.process_time() - others0
    result = Round(wall, cpu, sum(len(a) for _, a in out), others / wall)
    # while every stream streams: after the last first token, before the first stream ends (the proxy's work at the
    # start and the end of 64 requests, and its garbage collections there, left out)
    begun = max(arrivals[0][1] for _, arrivals in out if arrivals)
    ending = min(arrivals[-1][1] for _, arrivals in out if arrivals)
    for ttft, arrivals in out:
        if len(arrivals) != n:
            raise RuntimeError(f"{model}: {len(arrivals)} events in a stream, expected {n}")
        result.ttft.append(ttft)
        delays = schedule_delays(arrivals, pace)
        result.delays.extend(delays)
        result.steady.extend(d for (_, t), d in zip(arrivals, delays, strict=True) if begun < t < ending)
    return result


async def sequential(url: str, pid: int, model: str, stream: bool, count: int) -> tuple[float, float]:
    """(wall, proxy CPU) per request of ``count`` short requests one after another (a plain answer, or streamed)."""
    body = {"model": model, "messages": [SYSTEM, {"role": "user", "content": "hello there, how are you"}]}
    body["stream"] = stream

    async def one(client: httpx.AsyncClient) -> None:
        if stream:
            async with client.stream("POST", url + "/v1/chat/completions", json=body) as resp:
                async for _ in resp.aiter_lines():
                    pass
        else:
            resp = await client.post(url + "/v1/chat/completions", json=body)
        if resp.status_code != 200:
            raise RuntimeError(f"{model}: the proxy answered {resp.status_code}")

    async with httpx.AsyncClient(timeout=60, headers={"Authorization": f"Bearer {MASTER}"}) as client:
        for _ in range(3):
            await one(client)
        cpu0 = proc_cpu(pid)
        t0 = time.perf_counter()
        for _ in range(count):
            await one(client)
        wall = time.perf_counter() - t0
        await asyncio.sleep(0.2)
        cpu = proc_cpu(pid) - cpu0
    return wall / count, cpu / count


def short_requests(url: str, pid: int, names: dict[str, str], count: int, rounds: int) -> None:
    """Short requests one at a time: what the proxy spends per request, codebuddy/ against openai/ (streamed: the
    gateway, and so the fake, only streams, so an openai/ deployment cannot ask for a plain answer)."""
    variants = {
        "codebuddy/ plain answer": (names["codebuddy/ (shipped config)"], False),
        "codebuddy/ streamed": (names["codebuddy/ (shipped config)"], True),
        "openai/ streamed": (names["openai/"], True),
    }
    res: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
    for _ in range(rounds):
        for label, (model, stream) in variants.items():
            res[label].append(asyncio.run(sequential(url, pid, model, stream, count)))
    oa = (med([r[0] for r in res["openai/ streamed"]]), med([r[1] for r in res["openai/ streamed"]]))
    print(f"\n{count} short requests one at a time, {rounds} interleaved rounds:", flush=True)
    for label, rs in res.items():
        wall, cpu = med([r[0] for r in rs]), med([r[1] for r in rs])
        print(
            f"  {label:<26} wall {wall * 1e3:6.2f} ms/request  proxy CPU {cpu * 1e3:6.2f} ms/request  "
            f"(x openai/: wall {wall / oa[0]:.2f}, CPU {cpu / oa[1]:.2f})",
            flush=True,
        )


# ------------------------------------------------------------------------------------------------ main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 100 events (a smoke run)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3, --quick 2)")
    parser.add_argument("--streams", type=int, default=64)
    parser.add_argument("--events", type=int, default=None, help="events per stream (default 500, --quick 100)")
    parser.add_argument("--pace", type=float, default=0.01, help="seconds between events (default 0.01)")
    parser.add_argument("--jitter", type=float, default=0.003, help="the fake's jitter= (seconds, default 0.003)")
    parser.add_argument("--plain", action="store_true", help="plain HTTP to the fake instead of TLS")
    parser.add_argument(
        "--spread", type=float, default=1.0, help="seconds over which the streams start (default 1; 0: all at once)"
    )
    parser.add_argument("--windows", default="", help="also codebuddy/ with these coalesce_ms, e.g. 0,20,auto")
    parser.add_argument("--requests", type=int, default=None, help="short requests per round (default 200, 0: none)")
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 3)
    n = args.events or (100 if args.quick else 500)
    windows = [w.strip() for w in args.windows.split(",") if w.strip()]
    tls = not args.plain

    load = os.getloadavg()
    print(
        f"litellm {version('litellm')}, litellm-codebuddy {version('litellm-codebuddy')}, httpx {version('httpx')}, "
        f"httpcore {version('httpcore')}, h11 {version('h11')}, Python {platform.python_version()}, "
        f"{platform.platform()}, {os.cpu_count()} CPUs, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        flush=True,
    )
    print(
        f"{args.streams} streams x {n} events, {args.pace * 1e3:g} ms apart, jitter {args.jitter * 1e3:g} ms, "
        f"started over {args.spread:g} s, {'TLS' if tls else 'plain HTTP'} to the fake, {rounds} interleaved rounds",
        flush=True,
    )
    tmp = Path(tempfile.mkdtemp(prefix="cb-token-rate-"))
    fake = start_fake(tls=tls)
    base, ca = fake.url, fake.ca_file
    proxy = None
    try:
        names = proxy_config(tmp / "config.yaml", base, windows)
        env = {"CODEBUDDY_API_KEY": KEY, "CODEBUDDY_API_BASE": base, "LITELLM_MASTER_KEY": MASTER}
        if ca is not None:
            env["SSL_CERT_FILE"] = ca  # what both the codebuddy/ and the openai/ clients trust
        port = free_port()
        proxy = start_proxy(tmp / "config.yaml", port, env, log=tmp / "proxy.log")
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/health/liveliness", 180, proxy)
        requests = args.requests if args.requests is not None else (50 if args.quick else 200)
        if requests:
            short_requests(url, proxy.pid, names, requests, rounds)
        directives = f"FAKE:events={n} FAKE:pace={args.pace:g}"
        if args.jitter:
            directives += f" FAKE:jitter={args.jitter:g}"
        results: dict[str, list[Round]] = {label: [] for label in names}
        for r in range(rounds):
            for label, model in names.items():
                results[label].append(asyncio.run(batch(url, proxy.pid, model, args.streams, directives, n, args.pace)))
            print(f"  round {r + 1}/{rounds} done", flush=True)
    finally:
        stop(proxy)
        stop(fake.proc)

    stats: dict[str, dict[str, float]] = {}
    for label, rs in results.items():
        stats[label] = s = {
            "ev/s": med([x.events / x.wall for x in rs]),
            "cpu/ev": med([x.cpu / x.events for x in rs]),
            "ttft50": med([pct(x.ttft, 50) for x in rs]),
            "ttft99": med([pct(x.ttft, 99) for x in rs]),
            "delay50": med([pct(x.delays, 50) for x in rs]),
            "delay99": med([pct(x.delays, 99) for x in rs]),
            "steady99": med([pct(x.steady, 99) for x in rs]),
            "proxy cores": med([x.cpu / x.wall for x in rs]),
            "other cores": med([x.others for x in rs]),
        }
        print(
            f"  {label:<32} {s['ev/s']:7.0f} ev/s  proxy CPU/event {s['cpu/ev'] * 1e3:6.3f} ms  "
            f"TTFT p50 {s['ttft50'] * 1e3:6.1f} p99 {s['ttft99'] * 1e3:6.1f} ms  "
            f"delay p50 {s['delay50'] * 1e3:6.1f} p99 {s['delay99'] * 1e3:7.1f} ms "
            f"(while all run: p99 {s['steady99'] * 1e3:6.1f} ms)  "
            f"(CPUs busy: proxy {s['proxy cores']:.2f}, fake + client {s['other cores']:.2f})",
            flush=True,
        )
    for label, model in names.items():
        if ENDED_IN_ERROR.get(model):
            print(f"  {label}: {ENDED_IN_ERROR[model]} streams ended in a proxy error after their content")
    cb, oa = stats["codebuddy/ (shipped config)"], stats["openai/"]
    for label, s in stats.items():
        if label != "openai/":
            print(
                f"  ratio {label} / openai/: CPU/event {s['cpu/ev'] / oa['cpu/ev']:.3f}  "
                f"ev/s {s['ev/s'] / oa['ev/s']:.2f}  TTFT p50 {s['ttft50'] / oa['ttft50']:.2f} "
                f"p99 {s['ttft99'] / oa['ttft99']:.2f}"
            )
    goals = [
        ("proxy CPU/event vs openai/", cb["cpu/ev"] / oa["cpu/ev"], 0.15),
        # "no worse": a 10 % + 5 ms allowance for run-to-run noise
        ("TTFT p50 vs openai/ (+10 % + 5 ms)", cb["ttft50"] / (oa["ttft50"] * 1.1 + 0.005), 1.0),
        ("TTFT p99 vs openai/ (+10 % + 5 ms)", cb["ttft99"] / (oa["ttft99"] * 1.1 + 0.005), 1.0),
        (f"added delay p99 while all streams run (ms, bound {BOUND * 1e3:g})", cb["steady99"] * 1e3, BOUND * 1e3),
    ]
    print("\ngoals (from this run):")
    for name, value, limit in goals:
        print(f"  {'PASS' if value <= limit else 'MISS'}  {name:<58} {value:8.3f}  (goal <= {limit:g})")
    load = os.getloadavg()
    print(f"load at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
