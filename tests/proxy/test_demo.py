"""The one-command demo (``python -m litellm_codebuddy.local.demo``, what ``./demo.sh`` runs) as a user runs it,
without CODEBUDDY_API_KEY: it starts the built-in fake and the LiteLLM proxy, talks to them, and leaves no
process behind.

Every process the demo starts inherits a marker variable from the environment the test gives it, so the test
finds them in /proc whatever their session or parent.
"""

from __future__ import annotations

import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import openai

from support.proxy import NO_PROXY_ENV, PROJECT_CONFIG, kill_pids, pids_with_env, wait_gone

MARKER = "LITELLM_CODEBUDDY_E2E_DEMO"
RUN_TIMEOUT = 300.0


def demo_env(tmp: Path) -> tuple[dict[str, str], str]:
    """The demo's environment: no key, a marker, and ``tmp`` as its temporary folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("CODEBUDDY_API_KEY", "CODEBUDDY_API_BASE")}
    env.pop("LITELLM_MASTER_KEY", None)
    value = secrets.token_hex(8)
    tmp.mkdir()
    env.update(
        NO_PROXY_ENV, LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONUNBUFFERED="1", TMPDIR=str(tmp), **{MARKER: value}
    )
    return env, value


def assert_no_leftovers(value: str) -> None:
    left = wait_gone(pids_with_env(MARKER, value))
    kill_pids(left)
    assert not left, f"processes started by the demo are still running: {sorted(left)}"


def test_demo_exchange(tmp_path: Path) -> None:
    env, value = demo_env(tmp_path / "tmp")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "litellm_codebuddy.local.demo", "--config", str(PROJECT_CONFIG)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
        out = done.stdout
        assert done.returncode == 0, f"demo failed ({done.returncode}):\n{out}\n{done.stderr}"
        assert "CODEBUDDY_API_KEY is not set: using the built-in fake CodeBuddy" in out
        assert "codebuddy/gpt-5.5" in out.split("models:", 1)[1].splitlines()[0]
        # the streamed answer, the plain answer and the tool call, as the fake answers them
        assert "Echo: Say hello to the LiteLLM proxy in a few words." in out
        assert "Echo: What is 2 + 2? Answer briefly." in out
        assert 'tool call: get_weather({"city": "test"})  finish_reason=tool_calls' in out
        assert "demo finished" in out
        assert not list((tmp_path / "tmp").glob("codebuddy-demo-*")), "the demo left its log folder behind"
    finally:
        assert_no_leftovers(value)


def _reader(stream: object, lines: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)
    lines.put(None)


def test_demo_serve_then_sigterm(tmp_path: Path) -> None:
    env, value = demo_env(tmp_path / "tmp")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "litellm_codebuddy.local.demo",
            "--config",
            str(PROJECT_CONFIG),
            "--serve",
            "--no-exchange",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        settings: dict[str, str] = {}
        deadline = time.monotonic() + RUN_TIMEOUT
        while "OPENAI_API_KEY" not in settings and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            seen.append(line)
            name, sep, rest = line.strip().partition("=")
            if sep and name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
                settings[name] = rest
        assert "OPENAI_API_KEY" in settings, "the demo did not print its URL and key:\n" + "".join(seen)
        assert "OPENAI_BASE_URL" in settings, "".join(seen)

        with openai.OpenAI(
            base_url=settings["OPENAI_BASE_URL"],
            api_key=settings["OPENAI_API_KEY"],
            max_retries=0,
            timeout=120,
            http_client=openai.DefaultHttpxClient(trust_env=False),
        ) as client:
            resp = client.chat.completions.create(
                model="codebuddy/gpt-5.5", messages=[{"role": "user", "content": "served"}]
            )
        assert resp.choices[0].message.content == "Echo: served"
        children = pids_with_env(MARKER, value) - {proc.pid}
        assert children, "found none of the demo's processes"

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 143  # the demo's SIGTERM handler: stop everything, exit 128 + 15
        assert not wait_gone(children), "the demo's children outlived it"
        assert not list((tmp_path / "tmp").glob("codebuddy-demo-*")), "the demo left its log folder behind"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        assert_no_leftovers(value)
