"""The one-command demo: the LiteLLM proxy in front of CodeBuddy (or the built-in fake), and a real exchange.

``python -m litellm_codebuddy.local.demo`` starts the proxy with ``proxy_config.yaml``. With ``CODEBUDDY_API_KEY``
set it talks to CodeBuddy; without, it first starts the built-in fake and points the proxy at it. It then
uses the official ``openai`` client through the proxy: the model list, a streamed answer, a plain answer and
a tool call. It stops every process it started, unless ``--serve`` is given: then it prints the URL and key
for your own clients and keeps the proxy up until Ctrl-C. The logs of the fake and the proxy go to a temporary
folder, removed at the end unless the demo failed (it then names the folder).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .launch import free_port, start_fake, start_proxy, stop, wait_http

DEMO_MODEL = "codebuddy/gpt-5.5"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def _say(text: str = "", end: str = "\n") -> None:
    sys.stdout.write(text + end)
    sys.stdout.flush()


def exchange(base_url: str, key: str, model: str = DEMO_MODEL) -> dict[str, Any]:
    """Talk to the proxy with the openai client; returns what it saw (the demo's test checks it)."""
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=120)
    seen: dict[str, Any] = {}
    models = sorted(m.id for m in client.models.list().data)
    seen["models"] = models
    _say(f"models: {', '.join(models)}")

    _say(f"\n[streamed answer from {model}]")
    parts: list[str] = []
    usage = None
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Say hello to the LiteLLM proxy in a few words."}],
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
            _say(chunk.choices[0].delta.content, end="")
        if chunk.usage:
            usage = chunk.usage
    _say(f"\nusage: {usage.model_dump() if usage else None}")
    seen["streamed"] = "".join(parts)

    _say(f"\n[plain answer from {model}]")
    plain = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "What is 2 + 2? Answer briefly."}]
    )
    seen["plain"] = plain.choices[0].message.content
    _say(f"{seen['plain']}\nusage: {plain.usage.model_dump() if plain.usage else None}")

    _say(f"\n[tool call from {model}]")
    tool = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "What is the weather in Paris? Use the tool."}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    calls = tool.choices[0].message.tool_calls or []
    seen["tool_calls"] = [(c.function.name, json.loads(c.function.arguments or "{}")) for c in calls]  # type: ignore[union-attr]
    for name, args in seen["tool_calls"]:
        _say(f"tool call: {name}({json.dumps(args)})  finish_reason={tool.choices[0].finish_reason}")
    return seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m litellm_codebuddy.local.demo", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--config", default="proxy_config.yaml", help="proxy config (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="proxy port (default: a free one)")
    parser.add_argument("--serve", action="store_true", help="keep the proxy running after the demo exchange")
    parser.add_argument("--no-exchange", action="store_true", help="with --serve: start and serve only")
    args = parser.parse_args(argv)

    config = Path(args.config).resolve()
    if not config.exists():
        _say(f"no proxy config at {config}: run from the repository root or pass --config")
        return 2
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    workdir = Path(tempfile.mkdtemp(prefix="codebuddy-demo-"))
    env: dict[str, str] = {}
    procs: list[subprocess.Popen[bytes]] = []
    failed = False

    def _stop_all() -> None:
        for proc in reversed(procs):
            stop(proc)

    def _on_sigterm(*_: object) -> None:
        _stop_all()
        sys.exit(143)

    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if os.environ.get("CODEBUDDY_API_KEY"):
            _say("CODEBUDDY_API_KEY is set: the proxy talks to CodeBuddy itself")
        else:
            fake, fake_url, _ = start_fake(log=workdir / "fake.log")
            procs.append(fake)
            env["CODEBUDDY_API_BASE"] = fake_url
            env["CODEBUDDY_API_KEY"] = "ck_demo.fake-key"
            _say(f"CODEBUDDY_API_KEY is not set: using the built-in fake CodeBuddy at {fake_url}")
        master_key = os.environ.get("LITELLM_MASTER_KEY") or "sk-demo-" + secrets.token_hex(8)
        env["LITELLM_MASTER_KEY"] = master_key
        port = args.port or free_port()
        started = time.monotonic()
        proxy = start_proxy(config, port, env, log=workdir / "proxy.log")
        procs.append(proxy)
        base_url = f"http://127.0.0.1:{port}"
        _say(f"starting the LiteLLM proxy on {base_url} (log: {workdir / 'proxy.log'}) ...")
        wait_http(f"{base_url}/health/liveliness", timeout=180, proc=proxy)
        _say(f"proxy ready in {time.monotonic() - started:.1f}s\n")
        if not args.no_exchange:
            exchange(base_url, master_key)
        if args.serve:
            _say(f"\nThe proxy is running.\n  OPENAI_BASE_URL={base_url}\n  OPENAI_API_KEY={master_key}")
            _say("Ctrl-C stops it.")
            while proxy.poll() is None:
                time.sleep(0.5)
        _say("\ndemo finished; stopping the processes it started")
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a demo reports, it does not dump tracebacks
        failed = True
        _say(f"\ndemo failed: {type(exc).__name__}: {exc}\nlogs: {workdir}")
        return 1
    finally:
        _stop_all()
        if not failed:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
