"""The account wing's one request helper (``account/http.py``): the roots, the client it uses, the headers and
timeout it sends, and its one classification of failures, with keys and tokens kept out of every message."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
import pytest
import respx

from litellm_codebuddy.account import http as account_http
from litellm_codebuddy.account.http import (
    KINDS,
    LOGIN_HEADERS,
    TIMEOUT,
    AccountError,
    code_error,
    json_object,
    key_headers,
    request_json,
    roots,
)
from litellm_codebuddy.endpoint import USER_AGENT

KEY = "ck_http123.S3cretHelperKey"
TOKEN = "at_S3cretAccessToken"
REFRESH = "rt_S3cretRefreshToken"
GW = "https://gw.example"
URL = f"{GW}/v3/config"


def failure(**kwargs: Any) -> AccountError:
    with pytest.raises(AccountError) as info:
        request_json("GET", URL, key_headers(KEY), what="/v3/config", **kwargs)
    return info.value


# ---------------------------------------------------------------- the roots


@pytest.mark.parametrize(
    ("base", "api", "site"),
    [
        ("https://gw.example/v2", "https://gw.example/v2", "https://gw.example"),
        ("https://gw.example/v2/", "https://gw.example/v2", "https://gw.example"),
        ("https://gw.example/v2/chat/completions", "https://gw.example/v2", "https://gw.example"),
        ("https://gw.example/api", "https://gw.example/api", "https://gw.example/api"),
    ],
)
def test_roots(base: str, api: str, site: str) -> None:
    assert roots(base) == (api, site)


def test_roots_default_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert roots() == ("https://www.codebuddy.ai/v2", "https://www.codebuddy.ai")
    monkeypatch.setenv("CODEBUDDY_API_BASE", "http://127.0.0.1:8080/v2")
    assert roots().site == "http://127.0.0.1:8080"


@pytest.mark.parametrize("base", ["ftp://gw.example/v2", "gw.example/v2", "https://"])
def test_a_bad_base_is_a_config_error(base: str) -> None:
    with pytest.raises(AccountError) as info:
        roots(base)
    assert info.value.kind == "config" and not info.value.transient and "http(s)" in str(info.value)


# ---------------------------------------------------------------- the request


def test_a_json_answer(upstream: respx.MockRouter) -> None:
    route = upstream.post(URL).mock(return_value=httpx.Response(200, json={"code": 0, "data": [1]}))
    assert request_json("POST", URL, key_headers(KEY), body={"a": 1}) == {"code": 0, "data": [1]}
    request = route.calls[0].request
    assert request.content == b'{"a":1}' and request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == f"Bearer {KEY}" and request.headers["x-api-key"] == KEY
    assert request.headers["user-agent"] == USER_AGENT and request.headers["accept"] == "application/json"


def test_the_login_headers_carry_no_key(upstream: respx.MockRouter) -> None:
    route = upstream.get(URL).mock(return_value=httpx.Response(200, json={}))
    request_json("GET", URL, LOGIN_HEADERS)
    headers = route.calls[0].request.headers
    assert headers["x-no-authorization"] == "true" and headers["x-product"] == "SaaS"
    assert "authorization" not in headers and "x-api-key" not in headers
    assert route.calls[0].request.content == b""  # no body for a GET


def test_timeout_default_and_override(upstream: respx.MockRouter) -> None:
    route = upstream.get(URL).mock(return_value=httpx.Response(200, json={}))
    request_json("GET", URL, LOGIN_HEADERS)
    request_json("GET", URL, LOGIN_HEADERS, timeout=2.5)
    first, second = (call.request.extensions["timeout"] for call in route.calls)
    assert set(first.values()) == {TIMEOUT} and set(second.values()) == {2.5}


def test_redirects_are_not_followed(upstream: respx.MockRouter) -> None:
    route = upstream.get(URL).mock(return_value=httpx.Response(302, headers={"location": f"{GW}/elsewhere"}))
    elsewhere = upstream.get(f"{GW}/elsewhere").mock(return_value=httpx.Response(200, json={}))
    exc = failure()
    assert exc.kind == "protocol" and "HTTP 302" in str(exc)
    assert route.call_count == 1 and not elsewhere.called


def test_a_callers_client_redirects_are_not_followed_either(upstream: respx.MockRouter) -> None:
    upstream.get(URL).mock(return_value=httpx.Response(302, headers={"location": f"{GW}/elsewhere"}))
    elsewhere = upstream.get(f"{GW}/elsewhere").mock(return_value=httpx.Response(200, json={}))
    with httpx.Client(follow_redirects=True) as client:
        assert failure(client=client).kind == "protocol"
    assert not elsewhere.called


# ---------------------------------------------------------------- the client


class Recorded(httpx.Client):
    made: ClassVar[list[Recorded]] = []

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kwargs = kwargs
        Recorded.made.append(self)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[Recorded]:
    Recorded.made = []
    monkeypatch.setattr(account_http.httpx, "Client", Recorded)
    return Recorded.made


@pytest.mark.parametrize(
    "answer", [httpx.Response(200, json={}), httpx.Response(500), httpx.ConnectError("down")], ids=str
)
def test_a_short_lived_client_is_always_closed(
    upstream: respx.MockRouter, recorded: list[Recorded], answer: Any
) -> None:
    upstream.get(URL).mock(side_effect=[answer])
    try:
        request_json("GET", URL, LOGIN_HEADERS)
    except AccountError:
        pass
    (made,) = recorded
    assert made.is_closed
    assert made.kwargs == {"timeout": TIMEOUT, "follow_redirects": False, "trust_env": True}


@pytest.mark.parametrize("answer", [httpx.Response(200, json={}), httpx.ConnectError("down")], ids=["ok", "connect"])
def test_a_callers_client_is_used_and_left_open(
    upstream: respx.MockRouter, recorded: list[Recorded], answer: Any
) -> None:
    route = upstream.get(URL).mock(side_effect=[answer])
    client = httpx.Client(headers={"X-Caller": "mine"})
    try:
        request_json("GET", URL, LOGIN_HEADERS, client=client)
    except AccountError:
        pass
    assert recorded == [client] and not client.is_closed  # no client of its own
    assert route.calls[0].request.headers["x-caller"] == "mine"
    client.close()


# ---------------------------------------------------------------- the classification


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [
        (401, "refused", "refused (HTTP 401"),
        (403, "refused", "refused (HTTP 403"),
        (429, "limited", "rate limited (HTTP 429"),
        (500, "network", "server error (HTTP 500"),
        (502, "network", "server error (HTTP 502"),
        (503, "network", "server error (HTTP 503"),
        (400, "protocol", "unexpected answer (HTTP 400"),
        (404, "protocol", "unexpected answer (HTTP 404"),
    ],
)
def test_statuses(upstream: respx.MockRouter, status: int, kind: str, words: str) -> None:
    upstream.get(URL).mock(return_value=httpx.Response(status, json={"code": 11101, "msg": "the gateway's words"}))
    exc = failure()
    assert exc.kind == kind and exc.transient == (kind in ("limited", "network"))
    assert str(exc).startswith(f"/v3/config: {words}, code 11101: the gateway's words)")


def test_a_status_without_a_json_body(upstream: respx.MockRouter) -> None:
    upstream.get(URL).mock(return_value=httpx.Response(502, text="<html>Bad Gateway</html>"))
    exc = failure()
    assert exc.kind == "network" and str(exc) == "/v3/config: server error (HTTP 502)"


@pytest.mark.parametrize("answer", [httpx.Response(200, text="<html>"), httpx.Response(204)], ids=["html", "empty"])
def test_an_answer_that_is_not_json(upstream: respx.MockRouter, answer: httpx.Response) -> None:
    upstream.get(URL).mock(return_value=answer)
    exc = failure()
    assert exc.kind == "protocol" and not exc.transient and str(exc) == "/v3/config: the answer is not JSON"


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (httpx.ReadTimeout("slow"), "no answer within 0.5 s"),
        (httpx.ConnectTimeout("slow"), "no answer within 0.5 s"),
        (httpx.ConnectError("[Errno 111] Connection refused"), "could not reach https://gw.example: could not connect"),
        (httpx.ReadError("reset"), "could not reach https://gw.example: the connection failed (ReadError: reset)"),
        (httpx.RemoteProtocolError("bad"), "the connection failed (RemoteProtocolError: bad)"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else None,
)
def test_transport_failures(upstream: respx.MockRouter, error: Exception, words: str) -> None:
    upstream.get(URL).mock(side_effect=error)
    exc = failure(timeout=0.5)
    assert exc.kind == "network" and exc.transient and words in str(exc)


def test_a_url_httpx_cannot_use_is_a_config_error() -> None:
    with pytest.raises(AccountError) as info:
        request_json("GET", "http://[::1/v2/x", key_headers(KEY))
    assert info.value.kind == "config" and "not a usable URL" in str(info.value)


def test_a_key_a_header_cannot_carry_is_a_config_error_that_does_not_quote_it(upstream: respx.MockRouter) -> None:
    odd = "ck_héllo.S3cret"
    with pytest.raises(AccountError) as info:
        request_json("GET", URL, key_headers(odd))
    assert info.value.kind == "config" and "é" not in str(info.value) and "\\xe9" not in str(info.value)


# ---------------------------------------------------------------- secrets


def test_credential_headers_and_secrets_never_reach_a_message(upstream: respx.MockRouter) -> None:
    echo = f"denied {KEY} {TOKEN} {REFRESH} state-S3cret"
    upstream.get(url__startswith=URL).mock(
        side_effect=[httpx.Response(403, json={"code": 1, "msg": echo}), httpx.ConnectError(echo)]
    )
    headers = {**LOGIN_HEADERS, "Authorization": f"Bearer {TOKEN}", "X-Refresh-Token": REFRESH, "X-API-Key": KEY}
    messages = []
    for _ in range(2):
        with pytest.raises(AccountError) as info:
            request_json("GET", f"{URL}?state=state-S3cret", headers, secrets=("state-S3cret",))
        messages.append(str(info.value))
    for message in messages:
        assert "denied" in message and "***" in message
        for secret in (KEY, TOKEN, REFRESH, "state-S3cret", "S3cret"):
            assert secret not in message


def test_a_message_names_the_origin_never_the_path_query_or_user(upstream: respx.MockRouter) -> None:
    url = "https://user:pw@gw.example:8443/v2/plugin/auth/token?state=abc"
    upstream.get(url__startswith="https://gw.example:8443/").mock(side_effect=httpx.ConnectError("down"))
    with pytest.raises(AccountError) as info:
        request_json("GET", url, LOGIN_HEADERS, what="waiting for the login")
    text = str(info.value)
    assert text.startswith("waiting for the login: could not reach https://gw.example:8443: could not connect")
    assert "state=abc" not in text and "pw" not in text and "/plugin" not in text


# ---------------------------------------------------------------- the error and the business codes


def test_the_error_type() -> None:
    assert KINDS == {"config", "refused", "expired", "limited", "network", "timeout", "protocol"}
    assert [k for k in sorted(KINDS) if AccountError("x", k).transient] == ["limited", "network"]
    assert AccountError("x").kind == "protocol"
    with pytest.raises(ValueError, match="unknown kind"):
        AccountError("x", "nope")


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"code": 11101, "msg": "nope"}, "/v3/config: CodeBuddy answered code 11101: nope"),
        ({"code": "14015", "message": "login expired"}, "/v3/config: CodeBuddy answered code 14015: login expired"),
        ({"code": 7}, "/v3/config: CodeBuddy answered code 7"),
        ({"data": {}}, "/v3/config: the answer has no code"),
        ([], "/v3/config: the answer has no code"),
    ],
)
def test_code_error(body: Any, text: str) -> None:
    exc = code_error("/v3/config", body)
    assert (str(exc), exc.kind) == (text, "protocol")
    assert code_error("", {"code": 1, "msg": f"x {KEY}"}, "refused", secrets=(KEY,)).args == (
        "CodeBuddy answered code 1: x ***",
    )


@pytest.mark.parametrize("body", [{"data": 1}, {"code": 0, "data": 1}, {"code": "0", "data": 1}])
def test_json_object_passes_an_answer_without_an_error_code(body: dict[str, Any]) -> None:
    assert json_object("/v3/config", body) is body


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ([], "/v3/config: the answer is not a JSON object"),
        ("ok", "/v3/config: the answer is not a JSON object"),
        ({"code": 11101, "msg": "nope"}, "/v3/config: CodeBuddy answered code 11101: nope"),
    ],
)
def test_json_object_refuses_another_shape_or_an_error_code(body: Any, text: str) -> None:
    with pytest.raises(AccountError) as info:
        json_object("/v3/config", body)
    assert (str(info.value), info.value.kind) == (text, "protocol")
