"""What the official client (``tests/official/``) showed the fake must do, checked without the client: a gzipped
chat body, the 404s it keeps, serving on a socket made elsewhere, Retry-After on a business error under 429, and
the last two steps of its device login."""

from __future__ import annotations

import gzip
import json
import socket
from typing import Any

import httpx

from fake_codebuddy import FakeCodeBuddy
from fake_codebuddy.account import ACCOUNT

KEY = "ck_official.fakecheck1234"
HEADERS = {"Authorization": f"Bearer {KEY}", "X-API-Key": KEY}


def body(text: str) -> dict[str, Any]:
    return {
        "model": "gpt-5.5",
        "stream": True,
        "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": text}],
    }


def test_a_gzipped_body_is_read_decoded(fake: FakeCodeBuddy) -> None:
    raw = json.dumps(body("zipped")).encode()
    headers = {**HEADERS, "Content-Encoding": "gzip", "Content-Type": "application/json"}
    with httpx.Client(base_url=fake.base_url, timeout=10) as client:
        answer = client.post("/chat/completions", content=gzip.compress(raw), headers=headers)
        assert answer.status_code == 200 and answer.text.endswith("data: [DONE]\n\n")
        assert fake.requests[-1].body["messages"][-1]["content"] == "zipped"
        broken = client.post("/chat/completions", content=b"\x1f\x8b not gzip", headers=headers)
    assert broken.status_code == 400 and "gzip" in broken.json()["msg"]


def test_a_path_it_does_not_serve_is_kept(fake: FakeCodeBuddy) -> None:
    with httpx.Client(base_url=fake.url, timeout=10) as client:
        assert client.post("/v9/nothing?x=1", headers=HEADERS, content=b"{}").status_code == 404
    assert [(r.method, r.path) for r in fake.unanswered] == [("POST", "/v9/nothing?x=1")]


def test_it_serves_on_a_socket_made_elsewhere() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    with FakeCodeBuddy(sock=listener) as fake:
        assert fake.url == f"http://127.0.0.1:{port}"
        assert httpx.get(f"{fake.url}/health", timeout=10).json() == {"ok": True}
    assert listener.fileno() == -1  # closed with the fake


def test_retry_after_on_a_business_error_under_429(fake: FakeCodeBuddy) -> None:
    with httpx.Client(base_url=fake.base_url, headers=HEADERS, timeout=10) as client:
        limited = client.post("/chat/completions", json=body("hi FAKE:code=6001 FAKE:status=429 FAKE:retry_after=2"))
        plain = client.post("/chat/completions", json=body("hi FAKE:code=6001 FAKE:status=429"))
    assert limited.status_code == 429 and limited.headers["retry-after"] == "2" and limited.json()["code"] == 6001
    assert plain.status_code == 429 and "retry-after" not in plain.headers


def test_the_login_account_and_accounts(fake: FakeCodeBuddy) -> None:
    """After the token poll, the official client reads ``/v2/plugin/login/account`` and ``/v2/plugin/accounts``
    with the new access token alone (no X-API-Key); it needs the account's ``type``."""
    access, _ = fake.issue_token()
    with httpx.Client(base_url=fake.url, timeout=10) as client:
        bearer = {"Authorization": f"Bearer {access}"}
        account = client.get("/v2/plugin/login/account?state=s1", headers=bearer)
        accounts = client.get("/v2/plugin/accounts", headers=bearer)
        refused = client.get("/v2/plugin/accounts", headers={"Authorization": f"Bearer {KEY}"})
    assert account.json() == {"code": 0, "msg": "OK", "data": ACCOUNT} and ACCOUNT["type"] == "personal"
    assert accounts.json()["data"] == {"accounts": [ACCOUNT]}
    assert refused.status_code == 401
