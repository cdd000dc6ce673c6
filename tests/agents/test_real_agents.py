"""The real coding agents from the npm registry, pointed at the real proxy in front of the fake: Claude Code
(``claude -p``, on ``/v1/messages``) and Codex CLI (``codex exec``, on ``/v1/responses``), one short task each.

The packages are installed once into ``.agents/`` at the repository root (gitignored, reused by later runs). The
tests are skipped, with the reason printed, only when node/npm is missing or the install fails; an agent that
installs and then misbehaves is a failure. Each agent runs with a temporary HOME (and CODEX_HOME), offline
(loopback only), with a timeout.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_codebuddy import FakeCodeBuddy

from support.proxy import NO_PROXY_ENV, REPO, UPSTREAM_KEY, Proxy, marker, requests_with, running_proxy

AGENTS_DIR = REPO / ".agents"
PACKAGES = ("@anthropic-ai/claude-code", "@openai/codex")
INSTALL_TIMEOUT = 600
RUN_TIMEOUT = 240


@pytest.fixture(scope="module")
def agents_bin() -> Path:
    AGENTS_DIR.mkdir(exist_ok=True)
    with (AGENTS_DIR / ".install.lock").open("w") as lock:  # pytest-xdist workers install one at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _install()


def _install() -> Path:
    bin_dir = AGENTS_DIR / "node_modules" / ".bin"
    if (bin_dir / "claude").exists() and (bin_dir / "codex").exists():
        return bin_dir
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        reason = "node/npm is not installed: the real agents cannot run"
        print(reason)
        pytest.skip(reason)
    try:
        done = subprocess.run(
            [npm, "install", "--prefix", str(AGENTS_DIR), "--no-audit", "--no-fund", *PACKAGES],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        done = None
    if done is None or done.returncode != 0 or not (bin_dir / "claude").exists() or not (bin_dir / "codex").exists():
        tail = "timed out" if done is None else (done.stderr or done.stdout)[-800:]
        reason = f"npm install {' '.join(PACKAGES)} failed: {tail}"
        print(reason)
        pytest.skip(reason)
    return bin_dir


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCodeBuddy]:
    with FakeCodeBuddy(api_key=UPSTREAM_KEY) as server:
        yield server


@pytest.fixture(scope="module")
def proxy(fake: FakeCodeBuddy, tmp_path_factory: pytest.TempPathFactory, agents_bin: Path) -> Iterator[Proxy]:
    env = {"CODEBUDDY_API_KEY": UPSTREAM_KEY, "CODEBUDDY_API_BASE": fake.base_url}
    with running_proxy(tmp_path_factory.mktemp("e2e-real-agents"), env=env) as running:
        yield running


def agent_env(home: Path, **extra: str) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **NO_PROXY_ENV, **extra}


def run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL
    )


def claude(agents_bin: Path, proxy: Proxy, tmp_path: Path, prompt: str) -> subprocess.CompletedProcess[str]:
    env = agent_env(
        tmp_path / "home",
        ANTHROPIC_BASE_URL=proxy.base_url,
        ANTHROPIC_AUTH_TOKEN=proxy.master_key,
        ANTHROPIC_MODEL="codebuddy/claude-sonnet-4.6",
        ANTHROPIC_SMALL_FAST_MODEL="codebuddy/gpt-5.4",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
    )
    return run([str(agents_bin / "claude"), "-p", prompt, "--tools", ""], env, tmp_path)


def codex(agents_bin: Path, proxy: Proxy, tmp_path: Path, prompt: str) -> subprocess.CompletedProcess[str]:
    codex_home = tmp_path / "codex"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text(
        'model = "codebuddy/gpt-5.5"\n'
        'model_provider = "litellm"\n'
        "[model_providers.litellm]\n"
        'name = "LiteLLM proxy (CodeBuddy)"\n'
        f'base_url = "{proxy.base_url}/v1"\n'
        'env_key = "LITELLM_API_KEY"\n'
        'wire_api = "responses"\n'
    )
    env = agent_env(tmp_path / "home", CODEX_HOME=str(codex_home), LITELLM_API_KEY=proxy.master_key)
    argv = [str(agents_bin / "codex"), "exec", "--skip-git-repo-check", "--sandbox", "read-only", prompt]
    return run(argv, env, tmp_path)


def test_claude_code(agents_bin: Path, proxy: Proxy, fake: FakeCodeBuddy, tmp_path: Path) -> None:
    word = marker()
    done = claude(agents_bin, proxy, tmp_path, f"say {word}")
    (request,) = requests_with(fake, word)
    system = request.body["messages"][0]
    assert system["role"] == "system"
    assert request.body["model"] == "claude-sonnet-4.6"
    # Claude Code's system prompt carries its billing-header line ("x-anthropic-billing-header: cc_version=...") and,
    # interactively, opens with "You are Claude Code, Anthropic's official CLI for Claude."; the gateway (and the
    # fake, after it) fingerprints both and refuses them as an unapproved channel (11128, HTTP 400). The prompt
    # reaches it unchanged, and Claude Code shows the refusal as a clear error ("API Error: 400 ... 11128 ...").
    assert str(system["content"]).startswith("x-anthropic-billing-header: cc_version=")
    assert done.returncode != 0, done.stdout
    out = done.stdout + done.stderr
    assert "API Error: 400" in out and "11128" in out and "unapproved channel" in out, out[-2000:]


def test_claude_code_reads_a_context_overflow_as_its_own(
    agents_bin: Path, proxy: Proxy, fake: FakeCodeBuddy, tmp_path: Path
) -> None:
    """11115 reaches Claude Code through LiteLLM's /v1/messages bridge as Anthropic's "prompt is too long: N tokens
    > M maximum": Claude Code reads its figures and handles it as its own context overflow (it compacts a longer
    conversation; a single exchange it cannot compact, and says so)."""
    word = marker()
    done = claude(agents_bin, proxy, tmp_path, f"say {word} FAKE:refuse=toolong")
    assert len(requests_with(fake, word)) == 1
    out = done.stdout + done.stderr
    assert done.returncode != 0 and "Prompt is too long" in out and "(limit 200000)" in out, out[-2000:]


def test_codex_exec(agents_bin: Path, proxy: Proxy, fake: FakeCodeBuddy, tmp_path: Path) -> None:
    word = marker()
    done = codex(agents_bin, proxy, tmp_path, f"say {word}")
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    first = requests_with(fake, word)[0].body
    assert first["model"] == "gpt-5.5"
    assert first["messages"][0]["role"] == "system"
    assert "thinking" not in first
    # the fake answers an agent that sends tools with a call of its first tool, then with "Tool results: ...";
    # either way Codex printed the fake's final answer
    assert "Tool results:" in done.stdout or f"Echo: say {word}" in done.stdout, done.stdout[-2000:]


@pytest.mark.parametrize(
    ("refusal", "words"),
    [
        ("toolong", "Codex ran out of room in the model's context window"),  # OpenAI's context_length_exceeded
        ("softblock", "content-safety check refused the input"),
    ],
)
def test_codex_exec_on_a_refusal(
    agents_bin: Path, proxy: Proxy, fake: FakeCodeBuddy, tmp_path: Path, refusal: str, words: str
) -> None:
    """Through LiteLLM's Responses bridge Codex gets a streamed response.failed carrying OpenAI's error code:
    context_length_exceeded, which Codex reports as its own context overflow, and content_policy_violation with
    the refusal's words; it does not retry either (one request reached the gateway), and prints no answer."""
    word = marker()
    done = codex(agents_bin, proxy, tmp_path, f"say {word} FAKE:refuse={refusal}")
    out = done.stdout + done.stderr
    assert done.returncode != 0 and words in out, out[-2000:]
    assert f"Echo: say {word}" not in done.stdout
    assert len(requests_with(fake, word)) == 1
