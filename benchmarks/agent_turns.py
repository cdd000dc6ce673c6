"""Benchmark: agent-sized turns (a long system prompt, 24 tools, a 300-message history) through ``codebuddy/``.

    python benchmarks/agent_turns.py [--quick] [--rounds N] [--proxy-turns N] [--only sdk,count,proxy] [--profile]

A coding agent sends, on every turn, its system prompt, its tools and the whole conversation so far, with a few new
messages at the end. This benchmark builds such a turn deterministically (about 195 KB of JSON: a 15 KB system
prompt, 24 tools with nested JSON schemas, 322 messages with tool calls and tool results) and a follow-up turn (the
same history plus an assistant tool call, its result and a user message), and measures CPU per call for
``codebuddy/``, LiteLLM's own ``openai/`` pointed at the same server, and raw httpx + json (POST the body, read the
stream), against the built-in fake CodeBuddy in its default mode (one HTTP chunk per SSE event; it only streams, so
``openai/`` "plain" is a streamed call). The answer is short (12 content events).

Sections:
 sdk    the SDK: plain, stream (sync) and stream (async), first turn and follow-up turn, with the fake's default
        usage (``total_tokens`` and ``credit`` only: the provider counts the prompt itself) and with ``usage=full``
 count  the prompt count alone: a first turn (nothing counted before) against a follow-up turn
 proxy  the LiteLLM proxy: proxy process CPU per agent turn on ``/v1/chat/completions`` and ``/v1/messages``, a
        ``codebuddy/`` deployment against an ``openai/`` one (proxy process and workers, read from /proc)
 profile (with ``--profile``) where a follow-up turn's CPU goes, by package, sampled with py-spy (``pip install
        py-spy``; not a dependency of the package): the SDK calls, then the proxy process

Every "first turn" is a new conversation (its system prompt names a new session), so no round profits from
another's counting; a follow-up turn extends the first turn of its own round. Variants are interleaved round by
round and medians are reported, with the targets as PASS/MISS lines at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import functools
import gc
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx
import litellm
from bench import proc_cpu  # the proxy's CPU (and its workers') from /proc

import litellm_codebuddy
from litellm_codebuddy.local.launch import free_port, start_fake, start_proxy, stop, wait_http
from litellm_codebuddy.provider.promptcount import PromptCounter
from litellm_codebuddy.provider.request import inline_schema, prepare_request

KEY = "ck_bench.secretvalue"
MASTER = "sk-bench-master"
SETTLE = 0.05  # seconds slept before reading CPU time, so LiteLLM's background logging work is counted
ANSWER_EVENTS = 12

litellm.suppress_debug_info = True

# ------------------------------------------------------------------------------------------------- the turn

_WORDS = (
    "the a of to and in is for that with on as be this it by are or not from at an if when use file "
    "function return value error test import class path line code change tool call result user model "
    "request response string list object type name read write edit run command output project module "
    "package config build check should must never always only each every before after then also new old"
).split()
_IDENTS = (
    "handler request response config client session stream chunk usage model token tools schema "
    "message content result error status headers body params state buffer reader writer index count"
).split()


def _prose(rng: random.Random, words: int) -> str:
    out: list[str] = []
    sentence: list[str] = []
    for _ in range(words):
        sentence.append(rng.choice(_WORDS))
        if len(sentence) >= rng.randint(8, 18):
            out.append(" ".join(sentence).capitalize() + ".")
            sentence = []
    if sentence:
        out.append(" ".join(sentence).capitalize() + ".")
    return " ".join(out)


def _code(rng: random.Random, lines: int) -> str:
    """Python-looking source, numbered like an agent's file-read tool shows it."""
    out = []
    indent = 0
    for n in range(1, lines + 1):
        a, b, c = rng.choice(_IDENTS), rng.choice(_IDENTS), rng.choice(_IDENTS)
        kind = rng.random()
        if kind < 0.12:
            line, indent = f"def {a}_{b}(self, {c}: dict[str, Any]) -> {b.capitalize()}:", 1
        elif kind < 0.2:
            line = f'{"    " * indent}"""{_prose(rng, 9)}"""'
        elif kind < 0.45:
            line = f"{'    ' * indent}{a} = self.{b}.get({c!r}, {rng.randint(0, 99)})"
        elif kind < 0.6:
            line = f"{'    ' * indent}if {a} is None or not {b}.{c}:"
            indent = min(indent + 1, 3)
        elif kind < 0.7:
            line = f"{'    ' * indent}return {a}.{b}({c}=True)"
            indent = max(indent - 1, 1)
        elif kind < 0.8:
            line = f"{'    ' * indent}# {_prose(rng, 7)}"
        else:
            line = f"{'    ' * indent}{a}.{b}.append({c}[{rng.randint(0, 9)}])"
        out.append(f"{n:>6}\t{line}")
    return "\n".join(out)


def _prop(rng: random.Random, depth: int) -> dict[str, Any]:
    kind = rng.random()
    desc = _prose(rng, rng.randint(8, 30))
    if depth < 2 and kind < 0.15:
        return {
            "type": "object",
            "description": desc,
            "properties": {f"{rng.choice(_IDENTS)}_{i}": _prop(rng, depth + 1) for i in range(rng.randint(2, 4))},
            "required": [],
            "additionalProperties": False,
        }
    if depth < 2 and kind < 0.3:
        return {"type": "array", "description": desc, "items": _prop(rng, depth + 1)}
    if kind < 0.45:
        return {"type": "string", "enum": rng.sample(_IDENTS, 4), "description": desc}
    if kind < 0.6:
        return {"type": "integer", "description": desc, "minimum": 0}
    if kind < 0.7:
        return {"type": "boolean", "description": desc}
    return {"type": "string", "description": desc}


_TOOL_NAMES = (
    "Task Bash Glob Grep LS ExitPlanMode Read Edit MultiEdit Write NotebookEdit WebFetch TodoWrite WebSearch "
    "BashOutput KillShell SlashCommand mcp__git__status mcp__git__diff mcp__git__log mcp__tests__run "
    "mcp__tests__list mcp__docs__search mcp__docs__fetch"
).split()


def agent_tools(rng: random.Random) -> list[dict[str, Any]]:
    """24 tools as a coding agent sends them: long descriptions, nested schemas; two MCP tools (written with
    pydantic) use ``$defs``/``$ref`` like such servers do, the rest are plain."""
    tools = []
    for i, name in enumerate(_TOOL_NAMES):
        props = {f"{rng.choice(_IDENTS)}_{k}": _prop(rng, 0) for k in range(rng.randint(2, 7))}
        schema: dict[str, Any] = {
            "type": "object",
            "properties": props,
            "required": sorted(props)[: rng.randint(1, len(props))],
            "additionalProperties": False,
            "$schema": "http://json-schema.org/draft-07/schema#",
        }
        if i in (19, 22):  # pydantic-style
            schema["$defs"] = {"Filter": {"type": "object", "properties": {"glob": {"type": "string"}}}}
            schema["properties"]["filter"] = {"$ref": "#/$defs/Filter", "description": "which files"}
        description = _prose(rng, rng.randint(55, 280))
        tools.append({"type": "function", "function": {"name": name, "description": description, "parameters": schema}})
    return tools


def agent_turn(session: str, *, follow_up: bool = False, usage: str = "basic") -> dict[str, Any]:
    """The body of one coding-agent turn (``model`` aside): messages and tools, deterministic for a ``session``.

    The first turn is 322 messages; the follow-up turn is the same 322 plus an assistant tool call, its result and a
    user message. The tools are the same in every session, the conversation differs (nothing of one session's
    history is in another's). ``usage`` goes to the fake as a directive in the last user message (``basic``: total
    tokens and credit only; ``full``: every figure).
    """
    tools = agent_tools(random.Random(20))  # the agent's tools: the same in every session
    rng = random.Random(session)  # the conversation: its own in each session
    system = f"You are a coding agent. Session {session}.\n\n" + "\n\n".join(
        _prose(rng, 180) for _ in range(16)
    )  # about 15 KB
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
    messages.append({"role": "user", "content": "Fix the failing tests in the stream module, then run them."})
    n = 0
    while len(messages) < 318:
        n += 1
        call_id = f"toolu_{n:04d}"
        tool = rng.choice(("Read", "Grep", "Bash", "Edit"))
        args = {"file_path": f"/repo/src/{rng.choice(_IDENTS)}/{rng.choice(_IDENTS)}.py", "limit": rng.randint(20, 80)}
        messages.append(
            {
                "role": "assistant",
                "content": _prose(rng, rng.randint(6, 40)),
                "tool_calls": [
                    {"id": call_id, "type": "function", "function": {"name": tool, "arguments": json.dumps(args)}}
                ],
            }
        )
        result = _code(rng, rng.randint(4, 15)) if tool in ("Read", "Edit") else _prose(rng, rng.randint(10, 70))
        messages.append({"role": "tool", "tool_call_id": call_id, "content": result})
        if n % 12 == 0:
            messages.append({"role": "user", "content": _prose(rng, rng.randint(8, 40))})
    while len(messages) < 321:
        messages.append({"role": "user", "content": _prose(rng, rng.randint(8, 40))})
    directive = f" FAKE:events={ANSWER_EVENTS} FAKE:usage={usage}"
    messages.append({"role": "user", "content": "Now run the whole suite and tell me what fails." + directive})
    if follow_up:
        messages.append(
            {
                "role": "assistant",
                "content": "Running the suite. " + _prose(rng, 12),
                "tool_calls": [
                    {
                        "id": "toolu_next",
                        "type": "function",
                        "function": {"name": "Bash", "arguments": '{"command": "pytest -q"}'},
                    }
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": "toolu_next", "content": _prose(rng, 60)})
        messages.append({"role": "user", "content": "Fix the failures. " + _prose(rng, 12) + directive})
    return {"messages": messages, "tools": tools}


def as_a_client_sends_it(turn: dict[str, Any]) -> dict[str, Any]:
    """The turn as ``openai/`` and raw httpx send it: the gateway (and the fake) reject ``$ref``/``$defs`` in tool
    schemas, so a client of the gateway must inline them itself (done here, before any timing)."""
    tools = [
        {**t, "function": {**t["function"], "parameters": inline_schema(t["function"]["parameters"])}}
        for t in turn["tools"]
    ]
    return {**turn, "tools": tools}


def anthropic_turn(turn: dict[str, Any]) -> dict[str, Any]:
    """The same turn in the Anthropic Messages format (``/v1/messages``, what Claude Code sends): system apart, tool
    calls as ``tool_use`` blocks, results as ``tool_result`` blocks in user messages, tools with ``input_schema``."""
    system = ""
    messages: list[dict[str, Any]] = []

    def user_blocks() -> list[dict[str, Any]]:
        if not messages or messages[-1]["role"] != "user":
            messages.append({"role": "user", "content": []})
        blocks: list[dict[str, Any]] = messages[-1]["content"]
        return blocks

    for m in turn["messages"]:
        if m["role"] == "system":
            system = m["content"]
        elif m["role"] == "user":
            user_blocks().append({"type": "text", "text": m["content"]})
        elif m["role"] == "tool":
            user_blocks().append({"type": "tool_result", "tool_use_id": m["tool_call_id"], "content": m["content"]})
        else:
            blocks = [{"type": "text", "text": m["content"]}] if m.get("content") else []
            for call in m.get("tool_calls") or ():
                fn = call["function"]
                blocks.append(
                    {"type": "tool_use", "id": call["id"], "name": fn["name"], "input": json.loads(fn["arguments"])}
                )
            messages.append({"role": "assistant", "content": blocks})
    tools = [
        {
            "name": t["function"]["name"],
            "description": t["function"]["description"],
            "input_schema": t["function"]["parameters"],
        }
        for t in turn["tools"]
    ]
    return {"system": system, "messages": messages, "tools": tools, "max_tokens": 4096}


# ------------------------------------------------------------------------------------------------- measuring


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Timer:
    """Process CPU time of a block (all threads), read after a short settle (LiteLLM's background logging)."""

    def __enter__(self) -> Timer:
        gc.collect()
        self.c0 = time.process_time()
        return self

    def __exit__(self, *exc: Any) -> None:
        time.sleep(SETTLE)
        self.cpu = time.process_time() - self.c0


def consume(stream: Any) -> int:
    n = 0
    for chunk in stream:
        if chunk.choices:
            n += len(chunk.choices[0].delta.content or "")
    return n


async def aconsume(stream: Any) -> int:
    n = 0
    async for chunk in stream:
        if chunk.choices:
            n += len(chunk.choices[0].delta.content or "")
    return n


def read_sse(lines: Any) -> int:
    n = 0
    for line in lines:
        if line.startswith("data: ") and line != "data: [DONE]":
            for choice in json.loads(line[6:]).get("choices") or ():
                n += len((choice.get("delta") or {}).get("content") or "")
    return n


class Paths:
    """The ways to send one turn: ``codebuddy/``, ``openai/`` (same fake) and raw httpx + json."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.loop = asyncio.new_event_loop()
        self.http = httpx.Client(timeout=120)
        self.ahttp: httpx.AsyncClient | None = None
        self.raw_headers = {"Authorization": f"Bearer {KEY}", "X-API-Key": KEY}

    def close(self) -> None:
        self.http.close()
        if self.ahttp is not None:
            self.loop.run_until_complete(self.ahttp.aclose())
        self.loop.close()

    def cb(self, **extra: Any) -> dict[str, Any]:
        return {"model": "codebuddy/gpt-5.5", "api_key": KEY, "api_base": self.base, **extra}

    def oa(self, **extra: Any) -> dict[str, Any]:
        return {
            "model": "openai/gpt-5.5",
            "api_key": KEY,
            "api_base": self.base,
            "extra_headers": {"X-API-Key": KEY},
            **extra,
        }

    def cb_plain(self, turn: dict[str, Any]) -> int:
        return len(litellm.completion(**self.cb(), **turn).choices[0].message.content or "")

    def cb_stream(self, turn: dict[str, Any]) -> int:
        return consume(litellm.completion(**self.cb(stream=True), **turn))

    def cb_astream(self, turn: dict[str, Any]) -> int:
        async def go() -> int:
            return await aconsume(await litellm.acompletion(**self.cb(stream=True), **turn))

        return self.loop.run_until_complete(go())

    def oa_stream(self, turn: dict[str, Any]) -> int:
        return consume(litellm.completion(**self.oa(stream=True), **turn))

    def oa_astream(self, turn: dict[str, Any]) -> int:
        async def go() -> int:
            return await aconsume(await litellm.acompletion(**self.oa(stream=True), **turn))

        return self.loop.run_until_complete(go())

    def raw(self, turn: dict[str, Any]) -> int:
        body = {"model": "gpt-5.5", **turn, "stream": True}
        with self.http.stream("POST", self.base + "/chat/completions", json=body, headers=self.raw_headers) as resp:
            return read_sse(resp.iter_lines())

    def araw(self, turn: dict[str, Any]) -> int:
        async def go() -> int:
            if self.ahttp is None:
                self.ahttp = httpx.AsyncClient(timeout=120)
            body = {"model": "gpt-5.5", **turn, "stream": True}
            url = self.base + "/chat/completions"
            async with self.ahttp.stream("POST", url, json=body, headers=self.raw_headers) as resp:
                return read_sse([line async for line in resp.aiter_lines()])

        return self.loop.run_until_complete(go())


def proxy_body(endpoint: str, model: str, session: str, follow_up: bool, usage: str) -> dict[str, Any]:
    """A turn's request to the proxy: OpenAI format on ``/v1/chat/completions``, Anthropic's on ``/v1/messages``."""
    t = agent_turn(session, follow_up=follow_up, usage=usage)
    if model == "oa":
        t = as_a_client_sends_it(t)
    if endpoint == "/v1/messages":
        t = anthropic_turn(t)
    return {"model": model, **t, "stream": True}


def send_turn(client: httpx.Client, url: str, name: str, payload: dict[str, Any]) -> bool:
    """POST one turn and read the whole stream; False when the stream ended in a proxy error."""
    with client.stream("POST", url, json=payload) as resp:
        text = resp.read().decode()
    if resp.status_code != 200:
        raise RuntimeError(f"{name}: the proxy answered {resp.status_code}: {text[:300]}")
    if '"error"' in text or "event: error" in text:
        # openai/ streams of this gateway end in a proxy error (its chunks have no choices[].index): the CPU up to
        # there is still measured, and the count is reported
        return False
    if "w0" not in text:
        raise RuntimeError(f"{name}: no answer in {text[:300]}")
    return True


Row = tuple[str, str, str]


class Bench:
    def __init__(self, rounds: int, proxy_turns: int) -> None:
        self.rounds = rounds
        self.proxy_turns = proxy_turns
        self.targets: list[tuple[str, float, float]] = []  # (what, value, limit): PASS when value <= limit
        self.fake_proc, self.base, _ = start_fake()
        self.sdk_first_cpu: float | None = None

    def close(self) -> None:
        stop(self.fake_proc)

    def row(self, section: str, name: str, value: str) -> None:
        print(f"  {section:<30} {name:<44} {value}", flush=True)

    def target(self, what: str, value: float, limit: float) -> None:
        self.targets.append((what, value, limit))

    # sdk ----------------------------------------------------------------------------------------------------
    def sdk(self) -> None:
        paths = Paths(self.base)
        # name -> (call, turn maker): codebuddy/ gets the agent's tools as they are ($defs and all), the others
        # the inlined tools a client of this gateway must send
        variants: dict[str, tuple[Callable[[dict[str, Any]], int], bool]] = {
            "codebuddy/ plain": (paths.cb_plain, False),
            "codebuddy/ stream": (paths.cb_stream, False),
            "codebuddy/ async stream": (paths.cb_astream, False),
            "openai/ stream (= plain)": (paths.oa_stream, True),
            "openai/ async stream": (paths.oa_astream, True),
            "raw httpx + json": (paths.raw, True),
            "async raw httpx + json": (paths.araw, True),
        }
        try:
            for usage in ("basic", "full"):
                self._sdk_usage(usage, variants)
        finally:
            paths.close()

    def _sdk_usage(self, usage: str, variants: dict[str, tuple[Callable[[dict[str, Any]], int], bool]]) -> None:
        def turn(session: str, follow_up: bool, client: bool) -> dict[str, Any]:
            t = agent_turn(session, follow_up=follow_up, usage=usage)
            return as_a_client_sends_it(t) if client else t

        expected = len("".join(f"w{k} " for k in range(ANSWER_EVENTS)))
        for name, (fn, client) in variants.items():  # warm-up: imports, pools, tokenizer, caches of LiteLLM's
            got = fn(turn(f"warm-{usage}-{name}", False, client))
            if got != expected:
                raise RuntimeError(f"{name}: {got} characters of answer, expected {expected}")
        res: dict[str, dict[str, list[float]]] = {name: {"first": [], "follow-up": []} for name in variants}
        for r in range(self.rounds):
            for name, (fn, client) in variants.items():
                session = f"{usage}-{r}-{name}"
                first, follow = turn(session, False, client), turn(session, True, client)
                with Timer() as t:
                    fn(first)
                res[name]["first"].append(t.cpu)
                with Timer() as t:
                    fn(follow)
                res[name]["follow-up"].append(t.cpu)
        sec = f"SDK, usage={usage}"
        cpu = {(name, kind): med(v) * 1e3 for name, kinds in res.items() for kind, v in kinds.items()}
        for name in variants:
            self.row(sec, name, f"CPU first {cpu[name, 'first']:6.1f} ms   follow-up {cpu[name, 'follow-up']:6.1f} ms")
        if usage == "basic":
            self.sdk_first_cpu = cpu["codebuddy/ plain", "first"]
        for kind in ("first", "follow-up"):
            pairs = (
                ("plain", "codebuddy/ plain", "openai/ stream (= plain)", "raw httpx + json", 0.6),
                ("stream", "codebuddy/ stream", "openai/ stream (= plain)", "raw httpx + json", 0.6),
                ("async stream", "codebuddy/ async stream", "openai/ async stream", "async raw httpx + json", 1.0),
            )
            for label, cb, oa, raw, limit in pairs:
                vs_oa, vs_raw = cpu[cb, kind] / cpu[oa, kind], cpu[cb, kind] / cpu[raw, kind]
                self.row(sec, f"ratio {label}, {kind}: /openai, /raw", f"{vs_oa:5.2f}  {vs_raw:5.2f}")
                self.target(f"SDK {usage} {kind}: {label} vs openai/", vs_oa, limit)
                self.target(f"SDK {usage} {kind}: {label} vs raw", vs_raw, 4.0)

    # count --------------------------------------------------------------------------------------------------
    def count(self) -> None:
        """The prompt count alone, as the handler runs it (keys from the body's bytes): a first turn against a
        follow-up turn, each round a new conversation on the same counter."""
        counter = PromptCounter()
        first_cpu: list[float] = []
        follow_cpu: list[float] = []
        counted: list[int] = []

        def prepared(session: str, follow_up: bool) -> Any:
            t = agent_turn(session, follow_up=follow_up)
            return prepare_request("gpt-5.5", t["messages"], {"tools": t["tools"]}, KEY, None)

        def run(prep: Any) -> int:
            body, enc = prep.body, prep.encoded
            return counter.count(
                body["messages"], body.get("tools"), None, message_keys=enc.message_json(), tools_key=enc.tools_json()
            )

        run(prepared("count-warm", False))  # picks LiteLLM's shares and loads the tokenizer
        for r in range(max(self.rounds, 9)):
            first, follow = prepared(f"count-{r}", False), prepared(f"count-{r}", True)
            gc.collect()
            c0 = time.process_time()
            n_first = run(first)
            c1 = time.process_time()
            before = counter.counted
            n_follow = run(follow)
            c2 = time.process_time()
            first_cpu.append(c1 - c0)
            follow_cpu.append(c2 - c1)
            counted.append(counter.counted - before)
            full = litellm.token_counter(messages=follow.body["messages"], tools=follow.body["tools"])
            if n_follow != full or n_first >= n_follow:
                raise RuntimeError(f"count {n_follow} differs from token_counter's {full}")
        sec = "prompt count (only total_tokens)"
        f, g = med(first_cpu) * 1e3, med(follow_cpu) * 1e3
        self.row(sec, "first turn (322 messages, 24 tools)", f"CPU {f:7.2f} ms")
        self.row(
            sec, "follow-up turn (3 new messages)", f"CPU {g:7.2f} ms  ({med([float(c) for c in counted]):.0f} counted)"
        )
        self.row(sec, "ratio follow-up / first turn's count", f"{g / f:.3f}")
        self.target("prompt count: follow-up vs first turn's count", g / f, 0.10)
        if self.sdk_first_cpu:
            self.row(sec, "ratio follow-up count / first turn's call", f"{g / self.sdk_first_cpu:.3f}")
            self.target("prompt count: follow-up vs first turn's call CPU", g / self.sdk_first_cpu, 0.10)

    # proxy --------------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def running_proxy(self) -> Iterator[tuple[str, int]]:
        """The real LiteLLM proxy with a ``codebuddy/`` deployment (``cb``) and an ``openai/`` one (``oa``) on the
        fake: yields its URL and process id."""
        tmp = Path(tempfile.mkdtemp(prefix="cb-agent-bench-"))
        config = tmp / "config.yaml"
        common = f'api_key: "{KEY}"\n      api_base: "{self.base}"'
        config.write_text(
            "model_list:\n"
            f"  - model_name: cb\n    litellm_params:\n      model: codebuddy/gpt-5.5\n      {common}\n"
            f"  - model_name: oa\n    litellm_params:\n      model: openai/gpt-5.5\n      {common}\n"
            f'      extra_headers: {{"X-API-Key": "{KEY}"}}\n'
            # /v1/messages: openai/ through LiteLLM's chat-completions bridge, the one codebuddy/ goes through
            # (by default LiteLLM sends openai/ models to the Responses API, which the gateway does not serve)
            "litellm_settings:\n  use_chat_completions_url_for_anthropic_messages: true\n  custom_provider_map:\n"
            "    - provider: codebuddy\n      custom_handler: litellm_codebuddy.codebuddy_llm\n"
            f"general_settings:\n  master_key: {MASTER}\n"
        )
        port = free_port()
        proc = start_proxy(config, port, {}, log=tmp / "proxy.log")
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(url + "/health/liveliness", 180, proc)
            yield url, proc.pid
        finally:
            stop(proc)

    def proxy(self) -> None:
        with (
            self.running_proxy() as (url, pid),
            httpx.Client(timeout=300, headers={"Authorization": f"Bearer {MASTER}"}) as client,
        ):
            for usage in ("basic", "full"):
                self._proxy_usage(client, url, pid, usage)

    def _proxy_usage(self, client: httpx.Client, url: str, pid: int, usage: str) -> None:
        errors: dict[str, int] = {}

        def body(endpoint: str, model: str, session: str, follow_up: bool) -> dict[str, Any]:
            return proxy_body(endpoint, model, session, follow_up, usage)

        def send(endpoint: str, name: str, payload: dict[str, Any]) -> None:
            if not send_turn(client, url + endpoint, name, payload):
                errors[name] = errors.get(name, 0) + 1

        variants = {
            (endpoint, model): f"{endpoint} {label}"
            for endpoint in ("/v1/chat/completions", "/v1/messages")
            for model, label in (("cb", "codebuddy/"), ("oa", "openai/"))
        }
        for (endpoint, model), name in variants.items():  # warm-up
            send(endpoint, name, body(endpoint, model, f"warm-{usage}-{name}", False))
        n = self.proxy_turns
        res: dict[tuple[str, str], dict[str, list[float]]] = {v: {"first": [], "follow-up": []} for v in variants}
        for r in range(self.rounds):
            for (endpoint, model), name in variants.items():
                sessions = [f"proxy-{usage}-{r}-{name}-{i}" for i in range(n)]
                for kind, follow_up in (("first", False), ("follow-up", True)):
                    payloads = [body(endpoint, model, s, follow_up) for s in sessions]
                    time.sleep(SETTLE)
                    cpu0 = proc_cpu(pid)
                    for payload in payloads:
                        send(endpoint, name, payload)
                    time.sleep(0.2)  # the proxy's logging after the last answer
                    res[endpoint, model][kind].append((proc_cpu(pid) - cpu0) / n)
        sec = f"proxy, usage={usage}"
        cpu = {(v, kind): med(times) * 1e3 for v, kinds in res.items() for kind, times in kinds.items()}
        for v, name in variants.items():
            self.row(
                sec, name, f"proxy CPU/turn first {cpu[v, 'first']:6.1f} ms   follow-up {cpu[v, 'follow-up']:6.1f} ms"
            )
        for endpoint in ("/v1/chat/completions", "/v1/messages"):
            for kind in ("first", "follow-up"):
                ratio = cpu[(endpoint, "cb"), kind] / cpu[(endpoint, "oa"), kind]
                self.row(sec, f"ratio {endpoint} {kind}: codebuddy/openai", f"{ratio:5.2f}")
                self.target(f"proxy {usage} {endpoint} {kind} vs openai/", ratio, 1.0)
        for name, count in errors.items():
            self.row(sec, f"  {name}: streams ending in a proxy error", str(count))

    # profile ----------------------------------------------------------------------------------------------
    def profile(self) -> None:
        """Where the CPU of a follow-up turn (usage=basic) goes, by package, sampled with py-spy (only threads
        holding the GIL: Python work, not waiting): the SDK calls in this process, then the proxy process."""
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(spy).exists():
            self.row("profile", "py-spy not installed", "(pip install py-spy, then run with --profile again)")
            return
        n = max(self.proxy_turns, 10)
        paths = Paths(self.base)
        try:  # three times the proxy's turns: an SDK call is short, and enough samples are wanted
            for name, fn, client in (
                ("codebuddy/ plain", paths.cb_plain, False),
                ("codebuddy/ stream", paths.cb_stream, False),
                ("codebuddy/ async stream", paths.cb_astream, False),
                ("openai/ stream", paths.oa_stream, True),
                ("openai/ async stream", paths.oa_astream, True),
            ):
                follow_ups = []
                for i in range(3 * n):
                    first, follow = agent_turn(f"spy-{i}-{name}"), agent_turn(f"spy-{i}-{name}", follow_up=True)
                    if client:
                        first, follow = as_a_client_sends_it(first), as_a_client_sends_it(follow)
                    fn(first)
                    follow_ups.append(follow)
                self._spy(spy, os.getpid(), fn, follow_ups, "SDK", name)
        finally:
            paths.close()
        with (
            self.running_proxy() as (url, pid),
            httpx.Client(timeout=300, headers={"Authorization": f"Bearer {MASTER}"}) as client,
        ):
            for endpoint in ("/v1/chat/completions", "/v1/messages"):
                for model, label in (("cb", "codebuddy/"), ("oa", "openai/")):
                    name = f"{endpoint} {label}"
                    sessions = [f"spy-{name}-{i}" for i in range(n)]
                    send_turn(client, url + endpoint, name, proxy_body(endpoint, model, "spy-warm", False, "basic"))
                    for session in sessions:
                        send_turn(client, url + endpoint, name, proxy_body(endpoint, model, session, False, "basic"))
                    bodies = [proxy_body(endpoint, model, session, True, "basic") for session in sessions]
                    send = functools.partial(send_turn, client, url + endpoint, name)
                    self._spy(spy, pid, send, bodies, "proxy", name)

    def _spy(self, spy: str, pid: int, call: Callable[[Any], Any], turns: list[Any], where: str, name: str) -> None:
        """``call`` on each of ``turns`` while py-spy samples process ``pid``; one row of shares by package."""
        out = Path(tempfile.mkdtemp(prefix="cb-agent-spy-")) / "stacks.txt"
        # the proxy's workers are its subprocesses; this process's subprocess is the fake, whose CPU is not counted
        command = [spy, "record", "--pid", str(pid), "--gil", "--rate", "400", "--full-filenames"]
        if pid != os.getpid():
            command.append("--subprocesses")
        recorder = subprocess.Popen(
            [*command, "--nonblocking", "--format", "raw", "-o", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(1.5)  # py-spy attaches
            for turn in turns:
                call(turn)
            time.sleep(0.3)
        finally:
            recorder.send_signal(signal.SIGINT)
            recorder.wait(timeout=60)
        packages: collections.Counter[str] = collections.Counter()
        ours: collections.Counter[str] = collections.Counter()  # by the provider's innermost function
        under_ours = counting = 0
        for line in out.read_text().splitlines():
            stack, _, number = line.rpartition(" ")
            frames, count = stack.split(";"), int(number)
            packages[_package(frames[-1].rpartition("(")[2])] += count
            mine = [f for f in frames if "litellm_codebuddy" in f]
            if mine:
                function, _, location = mine[-1].rpartition(" (")
                ours[f"{function} ({location.rsplit('/', 1)[-1].split(':')[0]})"] += count
            under_ours += count * bool(mine)
            counting += count * any("promptcount.py" in f for f in frames)
        total = sum(packages.values()) or 1
        top = ", ".join(f"{pkg} {100 * c / total:.0f}%" for pkg, c in packages.most_common(6))
        sec = f"profile {where}, follow-up turns"
        self.row(sec, name, f"{total} samples, by the code running: {top}")
        if under_ours:
            shown = f"{100 * under_ours / total:.0f}% (the prompt count {100 * counting / total:.0f}%)"
            self.row(sec, f"  {name}: in or under the provider's code", shown)
            inner = ", ".join(f"{fn} {100 * c / total:.0f}%" for fn, c in ours.most_common(5))
            self.row(sec, f"  {name}: by the provider's innermost function", inner)


def _package(filename: str) -> str:
    """The package a source file belongs to, for the profiles."""
    if "litellm_codebuddy" in filename:
        return "litellm_codebuddy"
    if "/litellm/" in filename or "/litellm_enterprise/" in filename:
        return "LiteLLM"
    if any(f"/{pkg}/" in filename for pkg in ("httpx", "httpcore", "h11", "anyio", "openai")) or filename.endswith(
        ("/ssl.py", "/socket.py", "/selectors.py")
    ):
        return "httpx and transport"
    if any(f"/{pkg}/" in filename for pkg in ("fastapi", "starlette", "uvicorn")):
        return "proxy server"
    if "/json/" in filename:
        return "json"
    if "tiktoken" in filename or "tokenizer" in filename:
        return "tokenizer"
    if "pydantic" in filename:
        return "pydantic"
    if any(f"/{pkg}" in filename for pkg in ("asyncio/", "threading.py", "concurrent/", "queue.py")):
        return "asyncio and threads"
    return "other"


SECTIONS: dict[str, Callable[[Bench], None]] = {
    "sdk": Bench.sdk,
    "count": Bench.count,
    "proxy": Bench.proxy,
    "profile": Bench.profile,
}
DEFAULT_SECTIONS = ("sdk", "count", "proxy")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per section (default 7, --quick 2)")
    parser.add_argument("--proxy-turns", type=int, default=None, help="turns per proxy batch (default 10, --quick 4)")
    parser.add_argument("--only", default="", help="comma-separated sections: sdk, count, proxy, profile")
    parser.add_argument("--profile", action="store_true", help="also the profile section (py-spy for the proxy)")
    args = parser.parse_args()
    chosen = [s.strip() for s in args.only.split(",") if s.strip()] or list(DEFAULT_SECTIONS)
    if args.profile and "profile" not in chosen:
        chosen.append("profile")
    rounds = args.rounds or (2 if args.quick else 7)
    proxy_turns = args.proxy_turns or (4 if args.quick else 10)

    sample, follow = agent_turn("sample"), agent_turn("sample", follow_up=True)
    load = os.getloadavg()
    print(
        f"litellm {version('litellm')}, litellm-codebuddy {litellm_codebuddy.__version__}, httpx {httpx.__version__}, "
        f"Python {platform.python_version()}, {platform.platform()}, {os.cpu_count()} CPUs, "
        f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        flush=True,
    )
    print(
        f"turn: {len(json.dumps(sample)) / 1e3:.0f} KB of JSON, system prompt "
        f"{len(sample['messages'][0]['content']) / 1e3:.0f} KB, {len(sample['tools'])} tools "
        f"({len(json.dumps(sample['tools'])) / 1e3:.0f} KB), {len(sample['messages'])} messages; "
        f"follow-up {len(follow['messages'])} messages; answer {ANSWER_EVENTS} content events; "
        f"{rounds} rounds, {proxy_turns} turns per proxy batch",
        flush=True,
    )
    bench = Bench(rounds, proxy_turns)
    failed = []
    try:
        for key in chosen:
            try:
                SECTIONS[key](bench)
            except Exception as exc:  # report and go on with the other sections
                failed.append(key)
                print(f"  section {key} failed: {type(exc).__name__}: {exc}", flush=True)
    finally:
        bench.close()
    print("\ntargets (ratios from this run):")
    for what, value, limit in bench.targets:
        print(f"  {'PASS' if value <= limit else 'MISS'}  {what:<58} {value:7.3f}  (target <= {limit:g})")
    load = os.getloadavg()
    print(f"load at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if failed:
        print(f"sections that failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
