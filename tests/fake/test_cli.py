"""The ``litellm-codebuddy`` command, in process (``main([...])``) and as a real process, against the fake."""

from __future__ import annotations

import io
import json
import logging
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from fake_codebuddy import FakeCodeBuddy
from litellm_codebuddy.account import login as auth
from litellm_codebuddy.catalog import CONTEXT_WINDOWS
from litellm_codebuddy.cli import main
from litellm_codebuddy.cli.explain import (
    EXIT_AUTH,
    EXIT_FAILURE,
    EXIT_LOGIN,
    EXIT_NETWORK,
    EXIT_NOT_CONFIGURED,
    EXIT_OK,
    EXIT_RATE_LIMIT,
    EXIT_USAGE,
)
from litellm_codebuddy.cli.output import Progress

KEY = "ck_cli123.S3cretCliValue"
COMMANDS = ("doctor", "chat", "models", "login", "logout", "status")


@pytest.fixture(autouse=True)
def _terminal(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh home (conftest) and no browser or display."""
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CODEBUDDY_API_KEY", KEY)
    return KEY


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url, *a, **k: opened.append(url) or True)
    return opened


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def closed_base() -> str:
    with FakeCodeBuddy() as gone:
        return gone.base_url


def login(fake: FakeCodeBuddy, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    return run(capsys, "login", "--api-base", fake.base_url, "--interval", "0.01", "--no-browser", *extra)


# ---------------------------------------------------------------- the parser


@pytest.mark.parametrize("command", COMMANDS)
def test_help(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == EXIT_OK
    assert f"litellm-codebuddy {command}" in out and "exit codes" in out


@pytest.mark.parametrize(
    "argv", [[], ["bogus"], ["chat", "--bogus", "x"], ["models", "--timeout", "-1"], ["login", "--interval", "x"]]
)
def test_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _, err = run(capsys, *argv)
    assert code == EXIT_USAGE and "usage:" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == EXIT_OK and out.startswith("litellm-codebuddy ")


def test_bad_api_base_is_a_usage_error(capsys: pytest.CaptureFixture[str], key: str) -> None:
    code, _, err = run(capsys, "chat", "hi", "--api-base", "ftp://nope")
    assert code == EXIT_USAGE and "http(s) URL" in err


def test_bad_api_base_from_env_is_not_configured(
    capsys: pytest.CaptureFixture[str], key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEBUDDY_API_BASE", "nope")
    assert run(capsys, "doctor")[0] == EXIT_NOT_CONFIGURED


# ---------------------------------------------------------------- doctor


def test_doctor_ok(capsys: pytest.CaptureFixture[str], fake: FakeCodeBuddy, key: str) -> None:
    code, out, err = run(capsys, "doctor", "--api-base", fake.base_url)
    assert code == EXIT_OK, err
    assert f"ck_… ({len(KEY)} characters), well formed" in out and "OK" in out
    assert KEY not in out + err and "S3cret" not in out + err
    body = fake.requests[-1].body
    assert body["messages"][-1] == {"role": "user", "content": "ping"} and body["max_tokens"] == 16


def test_doctor_honours_env_api_base(
    capsys: pytest.CaptureFixture[str], fake: FakeCodeBuddy, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEBUDDY_API_BASE", fake.base_url)
    code, out, _ = run(capsys, "doctor", "--model", "codebuddy/gpt-5.4")
    assert code == EXIT_OK and "(CODEBUDDY_API_BASE)" in out
    assert fake.requests[-1].body["model"] == "gpt-5.4"


def test_doctor_without_key(capsys: pytest.CaptureFixture[str], fake: FakeCodeBuddy) -> None:
    code, out, err = run(capsys, "doctor", "--api-base", fake.base_url)
    assert code == EXIT_NOT_CONFIGURED and "Key: not configured" in out
    assert "CODEBUDDY_API_KEY" in err and "litellm-codebuddy login" in err
    assert fake.requests == []


@pytest.mark.parametrize("bad", ["sk-abcdef", "ck_nodot", "ck_a.b c", "ck_abc.def\n"])
def test_doctor_malformed_key(
    capsys: pytest.CaptureFixture[str], fake: FakeCodeBuddy, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.setenv("CODEBUDDY_API_KEY", bad)
    code, out, err = run(capsys, "doctor", "--api-base", fake.base_url)
    assert code == EXIT_NOT_CONFIGURED
    assert f"({len(bad)} characters)" in out
    assert bad.strip() not in out + err
    assert fake.requests == []


@pytest.mark.parametrize(
    ("fault", "exit_code", "words"),
    [
        ("code=11101", EXIT_FAILURE, "rejected the request as invalid"),
        ("code=11128", EXIT_FAILURE, "system prompt"),
        ("code=11140", EXIT_FAILURE, "risk control"),
        ("code=14015", EXIT_AUTH, "licence has expired"),
        ("code=6004", EXIT_RATE_LIMIT, "frequency limit"),
        ("code=14018", EXIT_RATE_LIMIT, "out of credits"),
        ("http=401", EXIT_AUTH, "the key was refused"),
        ("http=429", EXIT_RATE_LIMIT, "rate limited"),
        ("http=503", EXIT_NETWORK, "temporarily unavailable"),
        ("code=11102", EXIT_FAILURE, "models --live"),
    ],
)
def test_doctor_explains_failures(
    capsys: pytest.CaptureFixture[str], fake: FakeCodeBuddy, key: str, fault: str, exit_code: int, words: str
) -> None:
    fake.set_fault(fault)
    code, out, err = run(capsys, "doctor", "--api-base", fake.base_url)
    assert code == exit_code, err
    assert "FAILED" in out and words in err and "What to do:" in err
    assert KEY not in out + err


def test_doctor_refused_key(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEBUDDY_API_KEY", "ck_wrong.key")
    with FakeCodeBuddy(api_key="ck_right.key") as strict:
        code, _, err = run(capsys, "doctor", "--api-base", strict.base_url)
    assert code == EXIT_AUTH and "401" in err and "console/api-keys" in err
    assert "ck_wrong.key" not in err


def test_doctor_network_error(capsys: pytest.CaptureFixture[str], key: str) -> None:
    code, _, err = run(capsys, "doctor", "--api-base", closed_base())
    assert code == EXIT_NETWORK and "connection failed" in err


def test_doctor_timeout(capsys: pytest.CaptureFixture[str], fake: FakeCodeBuddy, key: str) -> None:
    fake.set_fault("slow=3")
    start = time.monotonic()
    code, _, err = run(capsys, "doctor", "--api-base", fake.base_url, "--timeout", "0.3")
    assert code == EXIT_NETWORK and "did not answer in time" in err
    assert time.monotonic() - start < 2.5


def test_doctor_with_login(capsys: pytest.CaptureFixture[str], fake: FakeCodeBuddy, issued: list[str]) -> None:
    assert login(fake, capsys)[0] == EXIT_OK
    code, out, err = run(capsys, "doctor", "--api-base", fake.base_url)
    assert code == EXIT_OK, err
    assert "stored login" in out and "expires in" in out
    for token in issued:
        assert token not in out + err


# ---------------------------------------------------------------- chat


def test_chat_streams(capsys: pytest.CaptureFixture[str], fake: FakeCodeBuddy, key: str) -> None:
    code, out, err = run(capsys, "chat", "hello there", "--api-base", fake.base_url)
    assert code == EXIT_OK
    assert out == "Echo: hello there\n"
    assert "[codebuddy/gpt-5.5" in err and "tokens:" in err
    assert "\r" not in err  # no progress indicator when stderr is not a terminal
    assert fake.requests[-1].body["stream"] is True


def test_chat_no_stream_system_model(capsys: pytest.CaptureFixture[str], fake: FakeCodeBuddy, key: str) -> None:
    code, out, err = run(
        capsys,
        "chat",
        "hi",
        "--api-base",
        fake.base_url,
        "--no-stream",
        "--system",
        "Be brief.",
        "-m",
        "claude-sonnet-4.6",
        "--quiet",
    )
    assert code == EXIT_OK and out == "Echo: hi\n" and err == ""
    body = fake.requests[-1].body
    assert body["model"] == "claude-sonnet-4.6"
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}


def test_chat_reads_stdin(
    capsys: pytest.CaptureFixture[str], fake: FakeCodeBuddy, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("from a pipe\n"))
    code, out, _ = run(capsys, "chat", "-", "--api-base", fake.base_url)
    assert code == EXIT_OK and out == "Echo: from a pipe\n"


def test_chat_without_prompt_on_a_terminal(
    capsys: pytest.CaptureFixture[str], key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Tty())
    code, _, err = run(capsys, "chat")
    assert code == EXIT_USAGE and "no prompt" in err


def test_chat_without_key(capsys: pytest.CaptureFixture[str], fake: FakeCodeBuddy) -> None:
    code, out, err = run(capsys, "chat", "hi", "--api-base", fake.base_url)
    assert code == EXIT_NOT_CONFIGURED and out == ""
    assert "litellm-codebuddy login" in err and "CODEBUDDY_API_KEY" in err


@pytest.mark.parametrize(
    ("fault", "exit_code"),
    [("code=6004", EXIT_RATE_LIMIT), ("code=14015", EXIT_AUTH), ("http=500", EXIT_FAILURE)],
)
def test_chat_errors(
    capsys: pytest.CaptureFixture[str], fake: FakeCodeBuddy, key: str, fault: str, exit_code: int
) -> None:
    fake.set_fault(fault)
    code, out, err = run(capsys, "chat", "hi", "--api-base", fake.base_url)
    assert code == exit_code and out == "" and err.startswith("error: ")


def test_chat_error_mid_stream(capsys: pytest.CaptureFixture[str], fake: FakeCodeBuddy, key: str) -> None:
    code, out, err = run(
        capsys, "chat", "one two three four five FAKE:midstream=14018 FAKE:pace=0.05", "--api-base", fake.base_url
    )
    assert code == EXIT_RATE_LIMIT
    assert out.startswith("Echo: one") and out.endswith("\n")
    assert "out of credits" in err


def test_chat_cut_stream_is_a_network_error(capsys: pytest.CaptureFixture[str], fake: FakeCodeBuddy, key: str) -> None:
    code, _, err = run(capsys, "chat", "a b c d e f FAKE:cut", "--api-base", fake.base_url)
    assert code == EXIT_NETWORK, err


# ---------------------------------------------------------------- models


def test_models_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "models")
    assert code == EXIT_OK
    assert out.splitlines()[0].split() == [
        "MODEL",
        "CONTEXT",
        "MAX",
        "OUTPUT",
        "VISION",
        "TOOLS",
        "REASONING",
        "EFFORTS",
        "DEFAULT",
    ]
    assert "codebuddy/gemini-3.1-pro" in out and "1M" in out and "128k" in out
    assert "built-in catalog" in err
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    assert rows["codebuddy/gpt-5.5"] == ["1M", "128k", "yes", "yes", "yes", "low,medium,high,xhigh", "high"]
    assert rows["codebuddy/default-model"][2:] == ["yes", "yes", "no", "none", "-"]
    assert rows["codebuddy/claude-sonnet-4.6"][2:] == ["yes", "yes", "yes", "?", "?"]  # no report of its efforts
    assert not any("?" in cells[:5] for cells in rows.values())  # tools and reasoning known for every catalog model


def test_models_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "models", "--json")
    data = json.loads(out)
    assert code == EXIT_OK and data["source"] == "catalog"
    assert {m["id"]: m["max_input_tokens"] for m in data["models"]} == CONTEXT_WINDOWS


def test_models_live(capsys: pytest.CaptureFixture[str], fake: FakeCodeBuddy, key: str) -> None:
    fake.personal_models_fail = 1_000  # the international endpoint is down: the older ones answer
    fake.models_live = ["gpt-5.5", {"id": "fake-glm", "maxInputTokens": 200_000}]
    code, out, err = run(capsys, "models", "--live", "--json", "--api-base", fake.base_url)
    data = json.loads(out)
    assert code == EXIT_OK and data["source"] == "live" and data["endpoint"] == "/v3/config"
    assert [m["model"] for m in data["models"]] == ["codebuddy/gpt-5.5", "codebuddy/fake-glm"]
    fake.discovery_fail = "v3"
    code, out, err = run(capsys, "models", "--live", "--api-base", fake.base_url)
    assert code == EXIT_OK and "codebuddy/fake-glm" in out and "200k" in out
    assert "personal/models" in err


def test_models_live_failure_is_a_note(capsys: pytest.CaptureFixture[str], fake: FakeCodeBuddy, key: str) -> None:
    fake.discovery_fail = True
    code, out, err = run(capsys, "models", "--live", "--api-base", fake.base_url)
    assert code == EXIT_OK and "codebuddy/gpt-5.5" in out
    assert "note: live model discovery failed" in err and "HTTP 500" in err
    code, out, err = run(capsys, "models", "--live", "--json", "--api-base", fake.base_url)
    assert code == EXIT_OK and json.loads(out)["source"] == "catalog" and "HTTP 500" in json.loads(out)["note"]


def test_models_live_without_key(capsys: pytest.CaptureFixture[str], fake: FakeCodeBuddy) -> None:
    code, out, err = run(capsys, "models", "--live", "--api-base", fake.base_url)
    assert code == EXIT_OK and "codebuddy/gpt-5.5" in out and "litellm-codebuddy login" in err


# ---------------------------------------------------------------- login, logout, status


def test_login_status_logout(
    capsys: pytest.CaptureFixture[str],
    fake: FakeCodeBuddy,
    issued: list[str],
    browser: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="litellm_codebuddy")  # (root DEBUG would make LiteLLM print to stdout)
    fake.login_pending_polls = 2
    code, out, err = login(fake, capsys)
    assert code == EXIT_OK, err
    assert "Open this URL" in out and f"{fake.url}/login?state=" in out and "Logged in" in out
    assert "experimental" in err
    assert browser == []  # --no-browser
    path = auth.token_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["access_token"] == issued[0]

    code, out2, err2 = run(capsys, "status")
    assert code == EXIT_OK and "Logged in" in out2 and "expires" in out2 and str(path) in out2

    code, out3, err3 = run(capsys, "chat", "with the token", "--api-base", fake.base_url)
    assert code == EXIT_OK and out3 == "Echo: with the token\n"
    assert fake.requests[-1].headers["x-api-key"] == issued[0]

    code, out4, _ = run(capsys, "logout")
    assert code == EXIT_OK and "Logged out" in out4 and not path.exists()
    code, out5, _ = run(capsys, "logout")
    assert code == EXIT_OK and "Not logged in" in out5
    code, out6, _ = run(capsys, "status")
    assert code == EXIT_NOT_CONFIGURED and "Not logged in" in out6

    everything = out + err + out2 + err2 + out3 + err3 + out4 + out5 + out6 + caplog.text
    for token in issued:
        assert token not in everything


def test_login_opens_a_browser_when_there_is_one(
    capsys: pytest.CaptureFixture[str], fake: FakeCodeBuddy, browser: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, _ = run(capsys, "login", "--api-base", fake.base_url, "--interval", "0.01")
    assert code == EXIT_OK and browser == []  # no DISPLAY, no BROWSER
    monkeypatch.setenv("DISPLAY", ":0")
    code, out, _ = run(capsys, "login", "--api-base", fake.base_url, "--interval", "0.01")
    assert code == EXIT_OK and len(browser) == 1 and browser[0] in out


@pytest.mark.parametrize(
    ("attr", "exit_code", "words"), [("login_refuse", EXIT_AUTH, "refused"), ("login_expire", EXIT_LOGIN, "expired")]
)
def test_login_failures(
    capsys: pytest.CaptureFixture[str], fake: FakeCodeBuddy, attr: str, exit_code: int, words: str
) -> None:
    setattr(fake, attr, True)
    code, _, err = login(fake, capsys)
    assert code == exit_code and words in err
    assert not auth.token_path().exists()


def test_login_timeout(capsys: pytest.CaptureFixture[str], fake: FakeCodeBuddy) -> None:
    fake.login_pending_polls = 10**9
    code, _, err = login(fake, capsys, "--timeout", "0.2")
    assert code == EXIT_LOGIN and "not completed within 0.2 s" in err


def test_login_network_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "login", "--api-base", closed_base(), "--no-browser")
    assert code == EXIT_NETWORK and "could not reach" in err


def test_login_rate_limited(capsys: pytest.CaptureFixture[str], upstream: respx.MockRouter) -> None:
    upstream.post("https://gw.example/v2/plugin/auth/state").mock(return_value=httpx.Response(429))
    code, _, err = run(capsys, "login", "--api-base", "https://gw.example/v2", "--no-browser")
    assert code == EXIT_RATE_LIMIT and "rate limited (HTTP 429)" in err


def test_status_expired_and_corrupt(capsys: pytest.CaptureFixture[str]) -> None:
    auth.save_token(auth.StoredToken("at_x", "rt_x", time.time() - 60, "http://x/v2", time.time() - 100))
    code, out, err = run(capsys, "status")
    assert code == EXIT_NOT_CONFIGURED and "expired" in out and "at_x" not in out + err
    auth.token_path().write_text("garbage")
    code, out, err = run(capsys, "status")
    assert code == EXIT_NOT_CONFIGURED and "unreadable" in out


def test_chat_with_an_expired_unrefreshable_login(capsys: pytest.CaptureFixture[str], fake: FakeCodeBuddy) -> None:
    fake.refresh_fail = True
    auth.save_token(auth.StoredToken("at_x", "rt_x", time.time() - 60, fake.base_url, time.time() - 100))
    code, _, err = run(capsys, "chat", "hi", "--api-base", fake.base_url)
    assert code == EXIT_NOT_CONFIGURED and "litellm-codebuddy login" in err and "rt_x" not in err


def test_interrupted_and_unexpected(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(path: Any = None) -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr(auth, "delete_token", interrupt)
    code, _, err = run(capsys, "logout")
    assert code == 130 and "interrupted" in err

    def bug(path: Any = None) -> bool:
        raise RuntimeError("boom")

    monkeypatch.setattr(auth, "delete_token", bug)
    code, _, err = run(capsys, "logout")
    assert code == EXIT_FAILURE and "unexpected RuntimeError: boom" in err


# ---------------------------------------------------------------- progress indicator


def test_progress_only_on_a_terminal() -> None:
    class Term(io.StringIO):
        def isatty(self) -> bool:
            return True

    term, pipe = Term(), io.StringIO()
    with Progress("waiting", term):
        time.sleep(0.35)
    with Progress("waiting", pipe):
        time.sleep(0.15)
    assert "waiting" in term.getvalue() and term.getvalue().endswith("\r\x1b[K")
    assert pipe.getvalue() == ""


# ---------------------------------------------------------------- real processes


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEBUDDY_")}
    env.update(XDG_CONFIG_HOME=str(home / "xdg"), HOME=str(home / "home"), LITELLM_LOCAL_MODEL_COST_MAP="True", **extra)
    return env


def test_two_processes_log_in_at_once(home: Path, fake: FakeCodeBuddy, issued: list[str]) -> None:
    """One through the installed console script, one through ``python -m``; their logins finish together."""
    fake.login_pending_polls = 10**9  # both wait until both have started
    common = ["login", "--no-browser", "--interval", "0.02", "--api-base", fake.base_url]
    script = Path(sys.executable).with_name("litellm-codebuddy")
    argvs = [
        [str(script), *common] if script.exists() else [sys.executable, "-m", "litellm_codebuddy.cli", *common],
        [sys.executable, "-m", "litellm_codebuddy.cli", *common],
    ]
    procs = [
        subprocess.Popen(argv, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for argv in argvs
    ]
    try:
        deadline = time.monotonic() + 60
        while sum(r.path.startswith("/v2/plugin/auth/state") for r in fake.account_requests) < 2:
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "logins did not start"
            time.sleep(0.02)
        fake.login_pending_polls = 0  # approve both: they poll, get their tokens and write at about the same time
        results: list[Any] = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert len(issued) == 4
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == EXIT_OK, err
        assert "Logged in" in out and "\r" not in err  # no progress indicator: stderr is a pipe
        for token in issued:
            assert token not in out + err
    path = home / "xdg" / "litellm-codebuddy" / "token.json"
    data = json.loads(path.read_text())  # valid JSON, one whole login, never a mix of the two
    assert (data["access_token"], data["refresh_token"]) in [(issued[0], issued[1]), (issued[2], issued[3])]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
