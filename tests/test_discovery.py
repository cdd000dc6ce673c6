"""Live model discovery (``/v3/config``, then ``/console/enterprises/personal/models``) and its registration."""

from __future__ import annotations

import logging
import time
import uuid

import httpx
import litellm
import pytest
import respx

from litellm_codebuddy.account import login as auth
from litellm_codebuddy.account.discovery import (
    catalog_models,
    discover,
    fetch_live_models,
    model_cost_entries,
    register_live_models,
    root_url,
)
from litellm_codebuddy.catalog import CONTEXT_WINDOWS
from litellm_codebuddy.fake import FakeCodeBuddy

KEY = "ck_disc123.S3cretDiscoveryKey"

pytestmark = pytest.mark.usefixtures("home")


def unique(prefix: str = "fake-disc") -> str:
    """A model id no other test registers (litellm's model map is process-wide)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize(
    ("base", "root"),
    [
        ("https://gw.example/v2", "https://gw.example"),
        ("https://gw.example/v2/", "https://gw.example"),
        ("https://gw.example/v2/chat/completions", "https://gw.example"),
        ("https://gw.example/api", "https://gw.example/api"),
    ],
)
def test_root_url(base: str, root: str) -> None:
    assert root_url(base) == root


def test_v3_config(fake: FakeCodeBuddy) -> None:
    other = unique()
    fake.models_live = ["gpt-5.5", {"id": other, "name": "Other"}]
    models, endpoint = fetch_live_models(KEY, fake.base_url)
    assert endpoint == "/v3/config"
    assert [m.id for m in models] == ["gpt-5.5", other]
    assert models[0].max_input_tokens == CONTEXT_WINDOWS["gpt-5.5"]  # known from the catalog
    assert models[1].max_input_tokens is None  # unknown
    req = fake.account_requests[-1]
    assert req.method == "GET" and req.path == "/v3/config"
    assert req.headers["authorization"] == f"Bearer {KEY}" and req.headers["x-api-key"] == KEY


def test_falls_back_to_personal_models(fake: FakeCodeBuddy) -> None:
    other = unique()
    fake.discovery_fail = "v3"
    fake.models_live = [{"id": other, "maxInputTokens": 200_000, "maxOutputTokens": 32_000, "supportsImages": False}]
    found = discover(KEY, fake.base_url)
    assert found.source == "live" and found.endpoint == "/console/enterprises/personal/models"
    (model,) = found.models
    assert (model.id, model.max_input_tokens, model.max_output_tokens, model.supports_vision) == (
        other,
        200_000,
        32_000,
        False,
    )


def test_default_list_is_the_fake_account(fake: FakeCodeBuddy) -> None:
    found = discover(KEY, fake.base_url)
    assert sorted(m.id for m in found.models) == sorted(CONTEXT_WINDOWS)


def test_failure_falls_back_to_the_catalog(fake: FakeCodeBuddy) -> None:
    fake.discovery_fail = True
    found = discover(KEY, fake.base_url)
    assert found.source == "catalog" and found.models == catalog_models()
    assert found.note is not None and "HTTP 500" in found.note and "/v3/config" in found.note


def test_refused_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeCodeBuddy(api_key="ck_right.key") as strict:
        found = discover("ck_wrong.key", strict.base_url)
    assert found.source == "catalog" and found.note is not None and "refused" in found.note
    assert "ck_wrong.key" not in found.note


def test_no_key() -> None:
    found = discover(None, "http://127.0.0.1:9/v2")
    assert found.source == "catalog"
    assert found.note is not None and "CODEBUDDY_API_KEY" in found.note and "litellm-codebuddy login" in found.note


def test_network_failure() -> None:
    with FakeCodeBuddy() as gone:
        base = gone.base_url
    found = discover(KEY, base, timeout=2)
    assert found.source == "catalog" and found.note is not None and "could not connect" in found.note
    assert KEY not in found.note


def test_uses_env_key_then_stored_token(fake: FakeCodeBuddy, monkeypatch: pytest.MonkeyPatch) -> None:
    access, refresh = fake.issue_token(3600)
    auth.save_token(auth.StoredToken(access, refresh, time.time() + 3600, fake.base_url, time.time()))
    assert discover(None, fake.base_url).source == "live"
    assert fake.account_requests[-1].headers["x-api-key"] == access
    monkeypatch.setenv("CODEBUDDY_API_KEY", KEY)
    assert discover(None, fake.base_url).source == "live"
    assert fake.account_requests[-1].headers["x-api-key"] == KEY


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (httpx.Response(200, json={"code": 0, "data": {}}), "no model list"),
        (httpx.Response(200, json={"code": 0, "data": {"models": []}}), "empty"),
        (httpx.Response(200, json={"code": 11101, "msg": "nope"}), "code 11101: nope"),
        (httpx.Response(200, text="<html>"), "not JSON"),
        (httpx.Response(302, headers={"location": "https://elsewhere.example"}), "HTTP 302"),
    ],
)
def test_unexpected_answers(upstream: respx.MockRouter, answer: httpx.Response, reason: str) -> None:
    upstream.get("https://gw.example/v3/config").mock(return_value=answer)
    upstream.get("https://gw.example/console/enterprises/personal/models").mock(return_value=answer)
    found = discover(KEY, "https://gw.example/v2")
    assert found.source == "catalog" and found.note is not None and reason in found.note


def test_lenient_shapes(upstream: respx.MockRouter) -> None:
    upstream.get("https://gw.example/v3/config").mock(
        return_value=httpx.Response(
            200, json={"code": 0, "data": {"list": [{"modelId": "m-one", "contextWindow": "64000"}, "m-two", {}]}}
        )
    )
    models, _ = fetch_live_models(KEY, "https://gw.example/v2")
    assert [(m.id, m.max_input_tokens) for m in models] == [("m-one", 64000), ("m-two", None)]


def test_register_live_models(fake: FakeCodeBuddy) -> None:
    big, small = unique(), unique()
    fake.discovery_fail = "v3"
    fake.models_live = [
        "gpt-5.5",
        {"id": big, "maxInputTokens": 400_000, "maxOutputTokens": 64_000, "supportsImages": True},
        {"id": small},
    ]
    ids = register_live_models(api_key=KEY, api_base=fake.base_url)
    assert ids == ["gpt-5.5", big, small]
    info = litellm.get_model_info(f"codebuddy/{big}")
    assert info["max_input_tokens"] == 400_000 and info["max_output_tokens"] == 64_000
    assert info["litellm_provider"] == "codebuddy" and info["mode"] == "chat"
    assert litellm.supports_vision(f"codebuddy/{big}")
    assert litellm.get_model_info("codebuddy/gpt-5.5")["max_input_tokens"] == CONTEXT_WINDOWS["gpt-5.5"]
    assert litellm.get_model_info(f"codebuddy/{small}")["mode"] == "chat"


def test_register_live_models_falls_back(fake: FakeCodeBuddy, caplog: pytest.LogCaptureFixture) -> None:
    fake.discovery_fail = True
    with caplog.at_level(logging.WARNING, logger="litellm_codebuddy.account.discovery"):
        ids = register_live_models(api_key=KEY, api_base=fake.base_url)
    assert ids == list(CONTEXT_WINDOWS)
    assert "live model discovery failed" in caplog.text and "HTTP 500" in caplog.text
    assert KEY not in caplog.text


def test_cost_entries_keep_catalog_capabilities() -> None:
    entries = model_cost_entries(catalog_models())
    assert entries["codebuddy/gpt-5.5"]["supports_function_calling"] is True
    assert entries["codebuddy/gemini-3.1-pro"]["max_input_tokens"] == 1_000_000
