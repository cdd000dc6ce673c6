"""The device-flow login, the token store and the provider's stored-token fallback, against the in-process fake.

Every test points XDG_CONFIG_HOME and HOME at a temporary directory: no real user configuration is read or written.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import litellm
import pytest
import respx

from fake_codebuddy import FakeCodeBuddy
from litellm_codebuddy.account import login as auth

MODEL = "codebuddy/gpt-5.5"
USER = [{"role": "user", "content": "hi"}]


pytestmark = pytest.mark.usefixtures("home")


def store(fake: FakeCodeBuddy, expires_in: float, life: int = 3600) -> tuple[str, str]:
    """A token pair issued by the fake and stored as if by `login`, expiring (in the file) in expires_in s."""
    access, refresh = fake.issue_token(life)
    now = time.time()
    auth.save_token(auth.StoredToken(access, refresh, now + expires_in, fake.base_url, now))
    return access, refresh


def paths(fake: FakeCodeBuddy, path: str) -> list[Any]:
    return [r for r in fake.account_requests if r.path.split("?")[0] == path]


# ---------------------------------------------------------------- where the token lives


def test_token_path_follows_xdg(home: Path) -> None:
    assert auth.token_path() == home / "xdg" / "litellm-codebuddy" / "token.json"


@pytest.mark.parametrize("xdg", ["", "relative/dir"])
def test_token_path_falls_back_to_home_config(home: Path, monkeypatch: pytest.MonkeyPatch, xdg: str) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
    assert auth.token_path() == home / "home" / ".config" / "litellm-codebuddy" / "token.json"


def test_save_is_private_and_valid_json(home: Path) -> None:
    tok = auth.StoredToken("at_secret", "rt_secret", time.time() + 100, "http://x/v2", time.time())
    path = auth.save_token(tok)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text())["access_token"] == "at_secret"
    assert auth.load_token() == tok
    assert "at_secret" not in repr(tok) and "rt_secret" not in repr(tok)


def test_save_is_atomic(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = auth.StoredToken("at_old", "rt_old", time.time() + 100, "http://x/v2", time.time())
    path = auth.save_token(old)
    before = path.read_text()

    def boom(src: Any, dst: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(auth.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        auth.save_token(auth.StoredToken("at_new", "rt_new", time.time() + 100, "http://x/v2", time.time()))
    assert path.read_text() == before  # the old file is untouched ...
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []  # ... and no debris is left


def test_save_goes_through_a_temporary_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str]] = []
    real = os.replace

    def spy(src: Any, dst: Any) -> None:
        seen.append((str(src), str(dst)))
        assert stat.S_IMODE(os.stat(src).st_mode) == 0o600  # private before it gets its name
        real(src, dst)

    monkeypatch.setattr(auth.os, "replace", spy)
    path = auth.save_token(auth.StoredToken("a", "r", time.time() + 100, "http://x/v2", time.time()))
    assert len(seen) == 1 and seen[0][1] == str(path) and Path(seen[0][0]).parent == path.parent


def test_corrupt_file(home: Path) -> None:
    path = auth.token_path()
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not a valid token file"):
        auth.load_token()
    with pytest.raises(litellm.AuthenticationError) as info:
        auth.stored_token()
    assert "litellm-codebuddy login" in str(info.value)


def test_delete(home: Path) -> None:
    assert auth.delete_token() is False
    auth.save_token(auth.StoredToken("a", "r", time.time() + 100, "http://x/v2", time.time()))
    assert auth.delete_token() is True
    assert not auth.token_path().exists()


# ---------------------------------------------------------------- the device flow


def test_login_polls_until_approved(fake: FakeCodeBuddy, issued: list[str]) -> None:
    fake.login_pending_polls = 2
    urls: list[str] = []
    sleeps: list[float] = []
    tok = auth.login(fake.base_url, interval=0.01, timeout=10, on_url=urls.append, sleep=sleeps.append)
    assert urls and urls[0].startswith(fake.url + "/login?state=")
    assert len(paths(fake, "/v2/plugin/auth/token")) == 3  # two pending answers (11217), then the token
    assert sleeps == [0.01, 0.01, 0.01]
    start = paths(fake, "/v2/plugin/auth/state")[0]
    assert start.method == "POST" and start.path.endswith("?platform=CLI")
    assert start.headers["x-product"] == "SaaS"
    assert start.headers["x-no-authorization"] == "true" and start.headers["x-no-user-id"] == "true"
    assert "authorization" not in start.headers
    assert tok.access_token == issued[0] and tok.refresh_token == issued[1]
    assert 86390 < tok.expires_in() <= 86400
    assert auth.load_token() == tok
    assert tok.api_base == fake.base_url


def test_login_honours_the_server_interval(fake: FakeCodeBuddy) -> None:
    fake.login_pending_polls = 1
    fake.login_interval = 0.02
    sleeps: list[float] = []
    auth.login(fake.base_url, interval=5, timeout=10, sleep=sleeps.append)
    assert sleeps == [0.02, 0.02]


def test_login_default_expiry(fake: FakeCodeBuddy) -> None:
    fake.token_expires_in = None  # no expiresIn in the answer
    tok = auth.login(fake.base_url, interval=0.01, timeout=10)
    assert 86390 < tok.expires_in() <= 86400


def test_login_times_out(fake: FakeCodeBuddy) -> None:
    fake.login_pending_polls = 10**9
    start = time.monotonic()
    with pytest.raises(auth.LoginError) as info:
        auth.login(fake.base_url, interval=0.02, timeout=0.3)
    assert info.value.kind == "timeout"
    assert time.monotonic() - start < 3
    assert not auth.token_path().exists()


@pytest.mark.parametrize(("attr", "kind"), [("login_refuse", "refused"), ("login_expire", "expired")])
def test_login_refused_or_expired(fake: FakeCodeBuddy, attr: str, kind: str) -> None:
    setattr(fake, attr, True)
    with pytest.raises(auth.LoginError) as info:
        auth.login(fake.base_url, interval=0.01, timeout=10)
    assert info.value.kind == kind
    assert not auth.token_path().exists()


def test_login_network_error() -> None:
    with FakeCodeBuddy() as gone:
        base = gone.base_url
    with pytest.raises(auth.LoginError) as info:
        auth.start_login(base)
    assert info.value.kind == "network"


GW = "https://gw.example/v2"


def mocked_login(upstream: respx.MockRouter, *polls: Any) -> respx.Route:
    """A gateway whose login starts, then answers the polls in turn; the poll route."""
    started = {"code": 0, "data": {"state": "st_1", "authUrl": "https://gw.example/login?state=st_1"}}
    upstream.post(f"{GW}/plugin/auth/state").mock(return_value=httpx.Response(200, json=started))
    return upstream.get(f"{GW}/plugin/auth/token").mock(side_effect=list(polls))


def test_login_keeps_polling_through_transient_failures(upstream: respx.MockRouter) -> None:
    token = httpx.Response(200, json={"code": 0, "data": {"accessToken": "at_x", "refreshToken": "rt_x"}})
    poll = mocked_login(upstream, httpx.Response(429), httpx.Response(503), httpx.ConnectError("reset"), token)
    tok = auth.login(GW, interval=0.01, timeout=10, sleep=lambda _: None)
    assert poll.call_count == 4 and tok.access_token == "at_x"
    assert poll.calls[0].request.url.params["state"] == "st_1"


@pytest.mark.parametrize(("status", "kind"), [(400, "protocol"), (401, "refused")])
def test_login_stops_at_a_permanent_poll_failure(upstream: respx.MockRouter, status: int, kind: str) -> None:
    poll = mocked_login(upstream, httpx.Response(status, json={"code": 5, "msg": "no"}))
    with pytest.raises(auth.LoginError) as info:
        auth.login(GW, interval=0.01, timeout=10, sleep=lambda _: None)
    assert poll.call_count == 1 and info.value.kind == kind and "st_1" not in str(info.value)


# ---------------------------------------------------------------- the provider's fallback


def test_provider_uses_the_stored_token(fake: FakeCodeBuddy) -> None:
    access, _ = store(fake, expires_in=3600)
    resp = litellm.completion(model=MODEL, messages=USER, api_base=fake.base_url)
    assert resp.choices[0].message.content == "Echo: hi"
    headers = fake.requests[-1].headers
    assert headers["authorization"] == f"Bearer {access}" and headers["x-api-key"] == access
    assert paths(fake, "/v2/plugin/auth/token/refresh") == []


def test_env_key_wins_over_the_stored_token(fake: FakeCodeBuddy, monkeypatch: pytest.MonkeyPatch) -> None:
    store(fake, expires_in=3600)
    monkeypatch.setenv("CODEBUDDY_API_KEY", "ck_env.key")
    litellm.completion(model=MODEL, messages=USER, api_base=fake.base_url)
    assert fake.requests[-1].headers["x-api-key"] == "ck_env.key"


def test_refresh_ahead_of_expiry(fake: FakeCodeBuddy, issued: list[str]) -> None:
    old_access, old_refresh = store(fake, expires_in=60)  # less than REFRESH_MARGIN left
    resp = litellm.completion(model=MODEL, messages=USER, api_base=fake.base_url)
    assert resp.choices[0].message.content == "Echo: hi"
    refreshes = paths(fake, "/v2/plugin/auth/token/refresh")
    assert len(refreshes) == 1 and refreshes[0].method == "POST"
    assert refreshes[0].headers["x-refresh-token"] == old_refresh
    new = auth.load_token()
    assert new is not None and new.access_token not in (old_access, "") and new.expires_in() > 86000
    assert fake.requests[-1].headers["x-api-key"] == new.access_token  # the new token was used
    assert stat.S_IMODE(auth.token_path().stat().st_mode) == 0o600


def test_refresh_failure_keeps_a_still_valid_token(
    fake: FakeCodeBuddy, caplog: pytest.LogCaptureFixture, issued: list[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.refresh_fail = True
    access, refresh = store(fake, expires_in=60)
    litellm.completion(model=MODEL, messages=USER, api_base=fake.base_url)
    assert fake.requests[-1].headers["x-api-key"] == access
    assert "could not refresh" in caplog.text
    for secret in (access, refresh, *issued):
        assert secret not in caplog.text


def test_expired_token_that_cannot_refresh(fake: FakeCodeBuddy) -> None:
    fake.refresh_fail = True
    store(fake, expires_in=-10)
    with pytest.raises(litellm.AuthenticationError) as info:
        litellm.completion(model=MODEL, messages=USER, api_base=fake.base_url)
    assert "litellm-codebuddy login" in str(info.value) and "CODEBUDDY_API_KEY" in str(info.value)
    assert fake.requests == []


def test_two_refreshers_refresh_once(fake: FakeCodeBuddy) -> None:
    store(fake, expires_in=60)
    results: list[str] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        results.append(auth.stored_token())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(paths(fake, "/v2/plugin/auth/token/refresh")) == 1
    assert len(set(results)) == 1 and len(results) == 4
    tok = auth.load_token()
    assert tok is not None and results[0] == tok.access_token


def test_no_key_no_token_sync(fake: FakeCodeBuddy) -> None:
    with pytest.raises(litellm.AuthenticationError) as info:
        litellm.completion(model=MODEL, messages=USER, api_base=fake.base_url)
    text = str(info.value)
    assert "litellm-codebuddy login" in text and "CODEBUDDY_API_KEY" in text
    assert "https://www.codebuddy.ai/console/api-keys" in text
    assert fake.requests == [] and fake.account_requests == []


@pytest.mark.parametrize("stream", [False, True])
async def test_no_interactive_login_in_an_event_loop(fake: FakeCodeBuddy, stream: bool) -> None:
    with pytest.raises(litellm.AuthenticationError) as info:
        resp = await litellm.acompletion(model=MODEL, messages=USER, api_base=fake.base_url, stream=stream)
        if stream:
            async for _ in resp:  # type: ignore[union-attr]
                pass
    assert "litellm-codebuddy login" in str(info.value)
    assert fake.account_requests == []  # no login was started
    assert fake.requests == []


@pytest.mark.parametrize("stream", [False, True])
async def test_async_refresh_runs_off_the_event_loop(
    fake: FakeCodeBuddy, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    store(fake, expires_in=60)
    loop_thread = threading.get_ident()
    threads: list[int] = []
    real_refresh = auth.refresh

    def spy(tok: auth.StoredToken, client: httpx.Client | None = None) -> auth.StoredToken:
        threads.append(threading.get_ident())
        return real_refresh(tok, client)

    monkeypatch.setattr(auth, "refresh", spy)
    if stream:
        chunks = await litellm.acompletion(model=MODEL, messages=USER, api_base=fake.base_url, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in chunks])  # type: ignore[union-attr]
    else:
        resp = await litellm.acompletion(model=MODEL, messages=USER, api_base=fake.base_url)
        text = resp.choices[0].message.content  # type: ignore[union-attr]
    assert text == "Echo: hi"
    assert threads and loop_thread not in threads
    tok = auth.load_token()
    assert tok is not None and fake.requests[-1].headers["x-api-key"] == tok.access_token


async def test_async_reads_the_token_off_the_event_loop(fake: FakeCodeBuddy, monkeypatch: pytest.MonkeyPatch) -> None:
    store(fake, expires_in=3600)
    loop_thread = threading.get_ident()
    threads: list[int] = []
    real_load = auth.load_token

    def spy(path: Path | None = None) -> auth.StoredToken | None:
        threads.append(threading.get_ident())
        return real_load(path)

    monkeypatch.setattr(auth, "load_token", spy)
    await asyncio.gather(*(litellm.acompletion(model=MODEL, messages=USER, api_base=fake.base_url) for _ in range(3)))
    assert len(threads) == 3 and loop_thread not in threads


def test_tokens_never_logged(
    fake: FakeCodeBuddy, issued: list[str], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.login_pending_polls = 1
    tok = auth.login(fake.base_url, interval=0.01, timeout=10)
    auth.save_token(auth.StoredToken(tok.access_token, tok.refresh_token, time.time() + 30, tok.api_base, time.time()))
    litellm.completion(model=MODEL, messages=USER, api_base=fake.base_url)  # refreshes
    fake.refresh_fail = True
    auth.save_token(auth.StoredToken("at_gone", "rt_gone", time.time() - 1, fake.base_url, time.time()))
    with pytest.raises(litellm.AuthenticationError) as info:
        litellm.completion(model=MODEL, messages=USER, api_base=fake.base_url)
    captured = capsys.readouterr()
    assert len(issued) == 4
    for secret in (*issued, "at_gone", "rt_gone"):
        assert secret not in caplog.text
        assert secret not in captured.out + captured.err
        assert secret not in str(info.value)
