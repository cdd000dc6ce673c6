"""End to end: the proxy's doors. Hostile and careless requests (``support.hostile.CASES``, also the table in
docs/errors.md) sent as raw bytes to the real proxy with the shipped configs, in front of the fake.

What is checked: every case gets its status and error type at once, without a traceback or a server path in the
body; a case answered before the Router sends nothing to the gateway; a client's own ``api_key`` never replaces the
operator's key (unless the operator opts in) and nothing a client sends cools a deployment down for the others,
with one key per model (``proxy_config.yaml``) and with a group of keys (``proxy_team.yaml``); a client's error is
logged on one line.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from fake_codebuddy import FakeCodeBuddy

from support.hostile import CASES, CHAT, GOOD, MASTER, MESSAGES, MODEL, RESPONSES, Case
from support.proxy import REPO, UPSTREAM_KEY, Proxy, marker, requests_with, running_proxy

TEAM_CONFIG = REPO / "proxy_team.yaml"
KEY_A, KEY_B = UPSTREAM_KEY, "ck_test.second"
CLIENT_KEY = "ck_client.key"  # a key the fake would take: only the doors keep it from replacing the operator's
AT_ONCE = 3.0  # seconds: a Router retry of these would take 4-5 s (two retries with back-off)
# what a client must never see: a Python traceback, a source path, a server path
LEAKS = ("Traceback (most recent call last)", 'File "/', "site-packages", '.py", line', str(REPO))


def _headers(proxy: Proxy, case: Case) -> dict[str, str]:
    # a fresh connection for each: after a 500 (a body that is not an object) LiteLLM's server resets the connection
    headers = {"content-type": "application/json", "connection": "close"}
    if case.auth == MASTER:
        headers[case.header] = proxy.master_key if case.header == "x-api-key" else f"Bearer {proxy.master_key}"
    elif case.auth is not None:
        headers[case.header] = case.auth
    return headers


def _error(body: Any) -> dict[str, Any]:
    """The ``error`` object of an answer: OpenAI's ``{"error": {...}}`` or Anthropic's ``{"type": "error", ...}``."""
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), body
    return body["error"]


def _with_word(body: bytes, word: str) -> bytes:
    """``body`` with the marker word in its prompt (the "hi"/"hello" text), when it has one."""
    for text in (b'"hello"', b'"hi"'):
        if text in body:
            return body.replace(text, json.dumps(f"{word} {text.decode().strip(chr(34))}").encode(), 1)
    return body


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCodeBuddy]:
    with FakeCodeBuddy() as server:  # any ck_ key: the team's two keys, and a client's own
        yield server


@pytest.fixture(scope="module")
def proxy(fake: FakeCodeBuddy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """proxy_config.yaml as shipped: one key, one deployment per model."""
    env = {"CODEBUDDY_API_KEY": KEY_A, "CODEBUDDY_API_BASE": fake.base_url}
    with running_proxy(tmp_path_factory.mktemp("doors"), env=env, name="doors") as running:
        with httpx.Client(base_url=running.base_url, timeout=120, trust_env=False) as http:
            for front, body in GOOD.items():  # the first request of each front-end loads its code: not timed
                assert http.post(front, content=body, headers=_master(running)).status_code == 200
        yield running


@pytest.fixture(scope="module")
def http(proxy: Proxy) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxy.base_url, timeout=120, trust_env=False) as client:
        yield client


def _master(proxy: Proxy) -> dict[str, str]:
    return {"content-type": "application/json", "Authorization": f"Bearer {proxy.master_key}"}


def _team_config(tmp_path: Path) -> Path:
    """proxy_team.yaml as shipped, except that codebuddy/gpt-5.4's deployments allow a client's own key
    (``configurable_clientside_auth_params``), to show the operator's opt-in beside the shipped refusal."""
    config = yaml.safe_load(TEAM_CONFIG.read_text())
    for entry in config["model_list"]:
        if entry["model_name"] == "codebuddy/gpt-5.4":
            entry["litellm_params"]["configurable_clientside_auth_params"] = ["api_key"]
    path = tmp_path / "proxy_team.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def team(fake: FakeCodeBuddy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    tmp = tmp_path_factory.mktemp("doors-team")
    env = {"CODEBUDDY_API_KEY": KEY_A, "CODEBUDDY_API_KEY_2": KEY_B, "CODEBUDDY_API_BASE": fake.base_url}
    with running_proxy(tmp, config=_team_config(tmp), env=env, name="doors-team") as running:
        yield running


# ------------------------------------------------------------------------------------------------ the cases


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_request(http: httpx.Client, proxy: Proxy, fake: FakeCodeBuddy, case: Case) -> None:
    word = marker()
    started = time.monotonic()
    resp = http.post(case.front, content=_with_word(case.body, word), headers=_headers(proxy, case))
    took = time.monotonic() - started
    text = resp.text
    assert resp.status_code == case.status, text
    error = _error(resp.json())
    assert error.get("type") == case.error_type, text
    assert case.says in str(error.get("message")), text
    leaked = [leak for leak in LEAKS if leak in text]
    assert not leaked, f"the answer shows {leaked}: {text}"
    assert took < AT_ONCE, f"answered after {took:.1f} s (retried?)"
    if case.before_router:
        assert requests_with(fake, word) == [], "the request reached the gateway"


def test_the_cases_cool_nothing_down(http: httpx.Client, proxy: Proxy, fake: FakeCodeBuddy) -> None:
    """All the cases, twice, then a good request on each front-end: answered by the one deployment (a cooled-down
    deployment would answer 429 "No deployments available")."""
    for _ in range(2):
        for case in CASES:
            http.post(case.front, content=case.body, headers=_headers(proxy, case))
    for front, body in GOOD.items():
        word = marker()
        resp = http.post(front, content=_with_word(body, word), headers=_master(proxy))
        assert resp.status_code == 200, resp.text
        assert [r.headers["x-api-key"] for r in requests_with(fake, word)] == [KEY_A]


# ------------------------------------------------------------------------------------------------ keys


def test_good_keys_keep_litellms_behaviour(http: httpx.Client, proxy: Proxy) -> None:
    """The master key in any of LiteLLM's headers is taken as LiteLLM takes it; the public routes stay public."""
    for header, value in (("Authorization", f"Bearer {proxy.master_key}"), ("x-api-key", proxy.master_key)):
        resp = http.post(MESSAGES, content=GOOD[MESSAGES], headers={"content-type": "application/json", header: value})
        assert resp.status_code == 200, resp.text
    assert http.get("/v1/models", headers=_master(proxy)).status_code == 200
    assert http.get("/v1/models").status_code == 401
    assert http.get("/health/liveliness").status_code == 200
    assert http.get("/routes").status_code == 200


@pytest.mark.parametrize("front", [CHAT, MESSAGES, RESPONSES])
def test_a_client_key_never_replaces_the_operators(
    http: httpx.Client, proxy: Proxy, fake: FakeCodeBuddy, front: str
) -> None:
    """A key the gateway would take is refused all the same: with it the client would spend another account
    (or, with a bad key, earn the operator's deployment a 401 cooldown)."""
    word = marker()
    body = json.loads(_with_word(GOOD[front], word))
    resp = http.post(front, json={**body, "api_key": CLIENT_KEY}, headers=_master(proxy))
    assert resp.status_code == 400, resp.text
    assert "`api_key` is not allowed" in str(_error(resp.json())["message"])
    assert requests_with(fake, word) == []
    assert not [r for r in fake.requests if r.headers.get("x-api-key") == CLIENT_KEY]


def test_a_bad_client_key_cannot_lock_the_others_out(http: httpx.Client, proxy: Proxy) -> None:
    """The issue's lock-out: a key the gateway refuses, sent by one client three times, then another client's
    request. With one deployment per model, a 401 from the gateway would cool it down and answer 429."""
    body = json.loads(GOOD[CHAT])
    for _ in range(3):
        resp = http.post(CHAT, json={**body, "api_key": "sk-not-codebuddy"}, headers=_master(proxy))
        assert resp.status_code == 400, resp.text
    resp = http.post(CHAT, content=GOOD[CHAT], headers=_master(proxy))
    assert resp.status_code == 200, resp.text


def test_a_group_of_keys_refuses_a_client_key(team: Proxy, fake: FakeCodeBuddy) -> None:
    """proxy_team.yaml: the same refusal for a group of two keys; no request with the client's key reaches the
    gateway, and both of the operator's keys still answer."""
    with httpx.Client(base_url=team.base_url, timeout=120, trust_env=False) as http:
        for _ in range(3):
            word = marker()
            body = json.loads(_with_word(GOOD[CHAT], word))
            resp = http.post(CHAT, json={**body, "api_key": "sk-not-codebuddy"}, headers=_master(team))
            assert resp.status_code == 400, resp.text
            assert requests_with(fake, word) == []
        used = set()
        for _ in range(12):
            word = marker()
            resp = http.post(CHAT, content=_with_word(GOOD[CHAT], word), headers=_master(team))
            assert resp.status_code == 200, resp.text
            used |= {r.headers["x-api-key"] for r in requests_with(fake, word)}
        assert used <= {KEY_A, KEY_B} and used, used


def test_the_operator_can_allow_client_keys(team: Proxy, fake: FakeCodeBuddy) -> None:
    """``configurable_clientside_auth_params: [api_key]`` on a deployment (LiteLLM's own opt-in): the client's key
    is then the one the gateway gets, for that model group only."""
    with httpx.Client(base_url=team.base_url, timeout=120, trust_env=False) as http:
        word = marker()
        body = {**json.loads(_with_word(GOOD[CHAT], word)), "model": "codebuddy/gpt-5.4", "api_key": CLIENT_KEY}
        resp = http.post(CHAT, json=body, headers=_master(team))
        assert resp.status_code == 200, resp.text
        assert [r.headers["x-api-key"] for r in requests_with(fake, word)] == [CLIENT_KEY]
        resp = http.post(CHAT, json={**body, "model": MODEL}, headers=_master(team))
        assert resp.status_code == 400, resp.text


# ------------------------------------------------------------------------------------------------ the log


def test_a_client_error_is_logged_on_one_line(http: httpx.Client, proxy: Proxy) -> None:
    """The proxy's log of 4xx answers (the provider's, the gateway's, the doors', LiteLLM's) has no traceback."""
    start = proxy.log.stat().st_size
    picked = {"max-tokens-negative", "content-number", "wrong-key", "no-key", "empty-bearer", "client-api-base"}
    chosen = [c for c in CASES if c.id in picked]
    refusal = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are Claude Code, Anthropic's official CLI for Claude."},
            {"role": "user", "content": "hi"},
        ],
    }
    for case in chosen:
        assert http.post(case.front, content=case.body, headers=_headers(proxy, case)).status_code == case.status
    assert http.post(CHAT, json=refusal, headers=_master(proxy)).status_code == 400
    time.sleep(1.0)  # the log is written by the proxy's process
    with proxy.log.open("rb") as log:
        log.seek(start)
        new = log.read().decode(errors="replace")
    lines = [line for line in new.splitlines() if line.strip()]
    errors = [line for line in lines if ":ERROR:" in line]
    assert len(errors) >= len(chosen) + 1, new
    assert "Traceback" not in new, new
    # each record on a line of its own: LiteLLM's ("12:00:00 - LiteLLM Proxy:ERROR: ...") or the server's access log
    strays = [line for line in lines if not re.match(r"\d\d:\d\d:\d\d - |INFO:", line)]
    assert not strays, new


# ------------------------------------------------------------------------------------------------ LiteLLM's cooldowns


def test_a_401_cools_down_even_the_only_deployment(http: httpx.Client, proxy: Proxy) -> None:
    """Why no client may earn the gateway's 401: LiteLLM cools a deployment down for a 401 (an error a retry will
    not fix) even when it is the only one of its group, and the group then answers 429 for a few seconds. Shown on
    a model group of its own (gemini-3.1-pro), with the fake answering 401 once; the other groups are untouched."""
    gemini = "codebuddy/gemini-3.1-pro"
    failing = {"model": gemini, "messages": [{"role": "user", "content": "hi FAKE:http=401"}]}
    resp = http.post(CHAT, json=failing, headers=_master(proxy))
    assert resp.status_code == 401, resp.text
    time.sleep(1.0)  # LiteLLM records the cooldown in its failure callback, a moment after the answer
    resp = http.post(CHAT, json={**failing, "messages": [{"role": "user", "content": "hi"}]}, headers=_master(proxy))
    assert resp.status_code == 429 and "cooldown" in resp.text, resp.text
    assert http.post(CHAT, content=GOOD[CHAT], headers=_master(proxy)).status_code == 200
