"""Benchmark: credits per coding-agent session, with and without the provider's derived prompt-cache key.

    python benchmarks/credits.py [--rounds N] [--turns N] [--no-proxy]

The gateway caches a prompt's prefix only for requests that carry ``prompt_cache_key`` and bills a cached token at a
fraction of an uncached one. This drives one coding-agent conversation per session (a long system prompt, a dozen
tools, a history that grows every turn by the answer and a file's content or the user's next request) against the
built-in fake, which bills credits the way the field reports describe (``fake_codebuddy.billing``), and sums the
``credit`` of every answer:

* ``no key``: a client that sends no key, the provider's derived key turned off (``auto_prompt_cache_key=False``);
* ``derived key``: the same client with the provider's default, one key derived per conversation;

through the SDK (``litellm.completion``) and through the real LiteLLM proxy (an ``openai`` client; two deployments
of the same model, one with ``auto_prompt_cache_key: false``). Sessions of the four variants are interleaved round by
round, each with a conversation of its own (so no session reads another's cache); the figures are medians over the
rounds. It prints credits per session and the ratio derived / no key (the goal: 0.2 or less), with the machine's
load, the versions and the command. Credits are the fake's, not CodeBuddy's: the ratio is what the fake's rates
give for this conversation, the rates being set to the one public measurement (an 8k-token prefix: 0.34 credits
without a key, 0.02 with one).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
import openai
import yaml

import litellm_codebuddy  # noqa: F401  (registers the provider)
from fake_codebuddy import FakeCodeBuddy
from litellm_codebuddy.local.launch import free_port, start_proxy, stop, wait_http

KEY = "ck_bench.creditsvalue"
MASTER = "sk-bench-credits"
MODEL = "gpt-5.5"

litellm.suppress_debug_info = True

# ------------------------------------------------------------------------------------------------ the conversation

_RULES = [
    "Read the files you change before you change them, and keep each change as small as the task allows.",
    "Run the project's tests after every change and report the command and its result, failing or not.",
    "Never invent an API: look for the definition in the repository or in the installed packages first.",
    "Prefer the standard library; add a dependency only when the task cannot be done without it.",
    "Write commit messages that say what changed and why, in the imperative mood, under 72 characters a line.",
    "When a test fails, read the whole traceback, find the first frame in the project's code, and start there.",
    "Keep functions short, name them after what they return, and give every public one a docstring.",
    "Do not reformat code you did not change; the diff must show only what the task needs.",
]


def system_prompt() -> str:
    """A coding agent's long system prompt (about 5,200 tokens by the fake's count): rules, conventions and a
    repository map."""
    parts = ["You are a careful software engineer working in a Python repository through tools."]
    for section in range(12):
        parts.append(f"\n## Conventions, part {section + 1}\n")
        parts.extend(f"- ({section}.{i}) {rule}" for i, rule in enumerate(_RULES))
    parts.append("\n## Repository map\n")
    parts.extend(
        f"- src/pkg/module_{i:02d}.py: functions parse_{i}, render_{i}, validate_{i}; tests in "
        f"tests/test_module_{i:02d}.py"
        for i in range(60)
    )
    return "\n".join(parts)


def tools() -> list[dict[str, Any]]:
    """A dozen tool definitions with schemas, like an agent's."""
    names = ["read_file", "write_file", "list_dir", "grep", "run_tests", "run_command"]
    names += ["git_diff", "git_commit", "open_url", "search_docs", "ask_user", "finish"]
    out = []
    for name in names:
        properties = {
            "path": {"type": "string", "description": f"The path {name} works on, relative to the repository root."},
            "pattern": {"type": "string", "description": "A regular expression, when the tool searches."},
            "limit": {"type": "integer", "description": "The most lines or results to return."},
        }
        out.append(
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": f"{name.replace('_', ' ').capitalize()}: one step of the agent's work. " * 3,
                    "parameters": {"type": "object", "properties": properties, "required": ["path"]},
                },
            }
        )
    return out


def file_content(turn: int) -> str:
    """What a tool returns: a source file of about 530 tokens."""
    lines = [f"# src/pkg/module_{turn:02d}.py"]
    for i in range(18):
        lines.append(f"def step_{turn}_{i}(value: int) -> int:\n    return value * {i + 1} + {turn}  # step {i}")
    return "\n".join(lines)


class Session:
    """One conversation: the history as the agent resends it, grown after every answer."""

    def __init__(self, task: str) -> None:
        self.messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": task},
        ]
        self.turn = 0

    def grow(self, answer: Any) -> None:
        """Append the answer (a tool call, then its result; or text, then the user's next request)."""
        self.turn += 1
        message = answer.choices[0].message
        calls = message.tool_calls or []
        if calls:
            call = calls[0]
            self.messages.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.function.name, "arguments": call.function.arguments},
                        }
                    ],
                }
            )
            self.messages.append({"role": "tool", "tool_call_id": call.id, "content": file_content(self.turn)})
        else:
            self.messages.append({"role": "assistant", "content": message.content or ""})
            self.messages.append({"role": "user", "content": f"Good. Now the next step ({self.turn})."})


SYSTEM_PROMPT = system_prompt()
TOOLS = tools()


def credit_of(answer: Any) -> float:
    usage = answer.usage
    credit = getattr(usage, "credit", None)
    if credit is None and isinstance(getattr(usage, "model_extra", None), dict):
        credit = usage.model_extra.get("credit")
    if credit is None:
        raise RuntimeError(f"no credit in the answer's usage: {usage!r}")
    return float(credit)


def cached_of(answer: Any) -> int:
    details = getattr(answer.usage, "prompt_tokens_details", None)
    return int(getattr(details, "cached_tokens", 0) or 0)


def run_session(send: Callable[[list[dict[str, Any]]], Any], turns: int) -> tuple[float, int, int]:
    """(credits, prompt tokens, cached tokens) of one session of ``turns`` requests."""
    session = Session(f"Fix the failing tests of the parser (session {uuid.uuid4().hex[:12]}).")
    credits, prompt, cached = 0.0, 0, 0
    for _ in range(turns):
        answer = send(session.messages)
        credits += credit_of(answer)
        prompt += answer.usage.prompt_tokens
        cached += cached_of(answer)
        session.grow(answer)
    return credits, prompt, cached


# ------------------------------------------------------------------------------------------------ the two paths


def sdk_sender(base_url: str, derived: bool) -> Callable[[list[dict[str, Any]]], Any]:
    def send(messages: list[dict[str, Any]]) -> Any:
        return litellm.completion(
            model=f"codebuddy/{MODEL}",
            messages=messages,
            tools=TOOLS,
            api_key=KEY,
            api_base=base_url,
            auto_prompt_cache_key=derived,
        )

    return send


def proxy_sender(client: openai.OpenAI, model_name: str) -> Callable[[list[dict[str, Any]]], Any]:
    def send(messages: list[dict[str, Any]]) -> Any:
        return client.chat.completions.create(model=model_name, messages=messages, tools=TOOLS)  # type: ignore[arg-type]

    return send


def proxy_config(tmp: Path, base_url: str) -> Path:
    params = {"model": f"codebuddy/{MODEL}", "api_key": KEY, "api_base": base_url}
    config = {
        "model_list": [
            {"model_name": "derived", "litellm_params": params},
            {"model_name": "no-key", "litellm_params": {**params, "auto_prompt_cache_key": False}},
        ],
        "litellm_settings": {
            "custom_provider_map": [{"provider": "codebuddy", "custom_handler": "litellm_codebuddy.codebuddy_llm"}]
        },
        "general_settings": {"master_key": MASTER},
    }
    path = tmp / "credits_proxy.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


# ------------------------------------------------------------------------------------------------ main


def version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version(dist)
    except PackageNotFoundError:
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="sessions per variant (default 3)")
    parser.add_argument("--turns", type=int, default=20, help="requests per session (default 20)")
    parser.add_argument("--no-proxy", action="store_true", help="the SDK only")
    args = parser.parse_args()

    results: dict[str, list[tuple[float, int, int]]] = {}
    with FakeCodeBuddy(api_key=KEY, max_requests=0) as fake, tempfile.TemporaryDirectory() as tmp:
        fake.set_fault("usage=full")  # the fake's own prompt, cached and completion figures on every answer
        variants: dict[str, Callable[[list[dict[str, Any]]], Any]] = {
            "SDK, no key": sdk_sender(fake.base_url, derived=False),
            "SDK, derived key": sdk_sender(fake.base_url, derived=True),
        }
        proc = None
        try:
            if not args.no_proxy:
                port = free_port()
                env = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
                proc = start_proxy(proxy_config(Path(tmp), fake.base_url), port, env, log=Path(tmp) / "proxy.log")
                wait_http(f"http://127.0.0.1:{port}/health/liveliness", timeout=240, proc=proc)
                client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}", api_key=MASTER, max_retries=0, timeout=120)
                variants["proxy, no key"] = proxy_sender(client, "no-key")
                variants["proxy, derived key"] = proxy_sender(client, "derived")
            started = time.monotonic()
            for _ in range(args.rounds):  # interleaved: every variant once per round
                for name, send in variants.items():
                    results.setdefault(name, []).append(run_session(send, args.turns))
            elapsed = time.monotonic() - started
        finally:
            stop(proc)

    print(f"command: python benchmarks/credits.py --rounds {args.rounds} --turns {args.turns}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} "
        f"(1 min, at the end); Python {platform.python_version()}, litellm {version('litellm')}, "
        f"openai {version('openai')}; {elapsed:.0f} s"
    )
    print(f"session: {args.turns} requests, system prompt + tools + a history growing every turn (the fake's tokens)")
    print(f"{'variant':<20} {'credits/session':>16} {'prompt tokens':>14} {'cached tokens':>14}")
    medians: dict[str, float] = {}
    for name, runs in results.items():
        medians[name] = statistics.median(r[0] for r in runs)
        prompt = statistics.median(r[1] for r in runs)
        cached = statistics.median(r[2] for r in runs)
        print(f"{name:<20} {medians[name]:>16.4f} {prompt:>14,.0f} {cached:>14,.0f}")
    for path in ("SDK", "proxy"):
        if f"{path}, no key" in medians:
            ratio = medians[f"{path}, derived key"] / medians[f"{path}, no key"]
            verdict = "PASS" if ratio <= 0.2 else "MISS"
            print(f"{path}: derived key / no key = {ratio:.3f}x (goal <= 0.2x: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
