"""Benchmark: agent-sized turns (a long system prompt, 24 tools, a 300-message history) through ``codebuddy/``.

    python benchmarks/agent_turns.py [--quick] [--rounds N] [--only sdk,proxy,count]

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
        ``codebuddy/`` deployment against an ``openai/`` one

Every "first turn" is a new conversation (its system prompt names a new session), so no round profits from
another's counting; a follow-up turn extends the first turn of its own round. Variants are interleaved round by
round and medians are reported, with the targets of issue 20 as PASS/MISS lines at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx
import litellm

import litellm_codebuddy
from litellm_codebuddy.local.launch import free_port, start_fake, start_proxy, stop, wait_http

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
        description = _prose(rng, rng.randint(60, 300))
        tools.append({"type": "function", "function": {"name": name, "description": description, "parameters": schema}})
    return tools


def agent_turn(session: str, *, follow_up: bool = False, usage: str = "basic") -> dict[str, Any]:
    """The body of one coding-agent turn (``model`` aside): messages and tools, deterministic for a ``session``.

    The first turn is 322 messages; the follow-up turn is the same 322 plus an assistant tool call, its result and a
    user message. ``usage`` goes to the fake as a directive in the last user message (``basic``: total tokens and
    credit only; ``full``: every figure).
    """
    rng = random.Random(20)
    system = f"You are a coding agent. Session {session}.\n\n" + "\n\n".join(
        _prose(rng, 180) for _ in range(16)
    )  # about 15 KB
    tools = agent_tools(rng)
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
        result = _code(rng, rng.randint(4, 14)) if tool in ("Read", "Edit") else _prose(rng, rng.randint(10, 70))
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
                "content": "Running the suite.",
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
        messages.append({"role": "user", "content": "Fix the two failures you found." + directive})
    return {"messages": messages, "tools": tools}
