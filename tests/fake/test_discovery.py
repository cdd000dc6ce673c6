"""Live model discovery (``/v3/config`` as the official client reads it, then ``/v2/enterprises/personal/models``,
then ``/console/enterprises/personal/models``) and its registration."""

from __future__ import annotations

import logging
import time
import uuid

import httpx
import litellm
import pytest
import respx

from fake_codebuddy import FakeCodeBuddy
from litellm_codebuddy.account import discovery
from litellm_codebuddy.account import login as auth
from litellm_codebuddy.account.discovery import (
    CONFIG_PATH,
    ENDPOINTS,
    ENTERPRISE_MODELS_PATH,
    LiveModel,
    catalog_models,
    discover,
    fetch_live_models,
    model_cost_entries,
    model_list,
    register_live_models,
)
from litellm_codebuddy.account.http import key_headers, roots
from litellm_codebuddy.catalog import (
    CONTEXT_WINDOWS,
    MAX_OUTPUT_TOKENS,
    OFFICIAL_IDS,
    default_effort,
    supported_efforts,
)

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
    assert roots(base).site == root


def test_the_official_clients_endpoint_is_asked_first() -> None:
    assert ENDPOINTS[0] == CONFIG_PATH == "/v3/config"


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
    fake.personal_models_fail = 1_000  # the international endpoint is down: the older ones answer
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
    assert found.endpoint == CONFIG_PATH
    assert [m.id for m in found.models] == list(CONTEXT_WINDOWS)  # the catalog, in the official picker order


def test_the_fakes_v3_config_is_the_catalog(fake: FakeCodeBuddy) -> None:
    """The fake's /v3/config, read as the official client reads it, gives the catalog's models exactly: every
    limit, flag, effort, default effort and context budget (the fake's copy cannot drift from catalog.py)."""
    models, endpoint = fetch_live_models(KEY, fake.base_url)
    assert endpoint == CONFIG_PATH and models == catalog_models()


def test_the_fakes_v3_config_has_the_real_shape(fake: FakeCodeBuddy) -> None:
    data = httpx.get(fake.url + CONFIG_PATH, headers=key_headers(KEY)).json()["data"]
    (cli,) = [a for a in data["agents"] if a["name"] == "cli"]
    assert cli["models"][: len(OFFICIAL_IDS)] == list(OFFICIAL_IDS) and all(isinstance(m, str) for m in cli["models"])
    rows = {r["id"]: r for r in data["models"]}
    assert rows["gpt-5.5"]["maxInputTokens"] == 1_000_000 and rows["gpt-5.5"]["maxOutputTokens"] == 128_000
    assert rows["gpt-6-astra"]["contextWindow"] == {"supportedLengths": [400_000, 1_000_000], "defaultLength": 400_000}
    assert rows["gpt-5.4"]["reasoning"]["supportedEfforts"] == ["low", "medium", "high", "xhigh"]
    assert rows["kimi-k3"]["reasoning"] == {"effort": "medium", "summary": "auto"}
    assert rows["hunyuan-image-v3.0"]["tags"] == ["text-to-image"] and "hunyuan-image-v3.0" not in cli["models"]
    assert any(r.get("disabled") is True for r in data["models"])


def test_unparsed_user_agent_is_said_and_the_catalog_used(fake: FakeCodeBuddy) -> None:
    fake.discovery_fail = "12403"
    fake.personal_models_fail = 1_000
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(discovery, "RETRY_DELAYS", (0.0, 0.0))
        mp.setattr(discovery, "ENDPOINTS", (CONFIG_PATH, ENTERPRISE_MODELS_PATH))
        found = discover(KEY, fake.base_url)
    assert found.source == "catalog" and found.models == catalog_models()
    assert (
        found.note is not None
        and "code 12403" in found.note
        and "could not parse this client's User-Agent" in found.note
    )
    assert "litellm-codebuddy/" in found.note


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


def test_an_unusable_base_is_reported_once() -> None:
    found = discover(KEY, "http://[::1/v2")  # http(s), but not a URL httpx can use
    assert found.source == "catalog" and found.note is not None and found.note.count("not a usable URL") == 1


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
    for path in ENDPOINTS:
        upstream.get(f"https://gw.example{path}").mock(return_value=answer)
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


# ---------------------------------------------------------------- /v2/enterprises/personal/models (first, retried)

GW = "https://gw.example"
ENTERPRISE = f"{GW}{ENTERPRISE_MODELS_PATH}"


def enterprise_rows(*rows: dict[str, object]) -> httpx.Response:
    return httpx.Response(200, json={"code": 0, "data": {"models": list(rows)}})


@pytest.fixture
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discovery, "RETRY_DELAYS", (0.0, 0.0))


@pytest.fixture
def v3_down(upstream: respx.MockRouter) -> respx.Route:
    """/v3/config fails: the enterprise endpoint is asked next."""
    return upstream.get(f"{GW}/v3/config").mock(return_value=httpx.Response(500))


def test_enterprise_endpoint_after_v3_with_flags(upstream: respx.MockRouter, v3_down: respx.Route) -> None:
    mid = unique("hy3")
    route = upstream.get(ENTERPRISE).mock(
        return_value=enterprise_rows(
            {
                "id": mid,
                "maxInputTokens": 1_050_000,
                "maxOutputTokens": 128_000,
                "supportsToolCall": False,
                "supportsReasoning": True,
                "supportsImages": False,
            },
            {"id": "gpt-5.5"},  # only the id: the catalog's figures
            {"id": "gone", "disabled": True},
        )
    )
    models, endpoint = fetch_live_models(KEY, f"{GW}/v2")
    assert endpoint == ENTERPRISE_MODELS_PATH and route.call_count == 1 and v3_down.call_count == 1
    assert all(m.efforts is None for m in models)  # these rows list none
    assert route.calls[0].request.headers["x-api-key"] == KEY
    first, known = models
    assert (first.id, first.max_input_tokens, first.max_output_tokens) == (mid, 1_050_000, 128_000)
    assert (first.supports_tools, first.supports_reasoning, first.supports_vision) == (False, True, False)
    assert (known.max_input_tokens, known.max_output_tokens) == (
        CONTEXT_WINDOWS["gpt-5.5"],
        MAX_OUTPUT_TOKENS["gpt-5.5"],
    )
    assert [m.id for m in models] == [mid, "gpt-5.5"]  # the disabled one is dropped
    litellm.register_model(model_cost_entries(models))
    info = litellm.get_model_info(f"codebuddy/{mid}")
    assert info["max_input_tokens"] == 1_050_000 and info["max_output_tokens"] == 128_000
    assert info["supports_function_calling"] is False and info["supports_reasoning"] is True
    assert not litellm.supports_function_calling(f"codebuddy/{mid}")
    assert litellm.supports_reasoning(f"codebuddy/{mid}")


@pytest.mark.usefixtures("v3_down")
def test_enterprise_agents_shape(upstream: respx.MockRouter) -> None:
    body = {
        "code": 0,
        "data": {
            "agents": [
                {"name": "ide", "models": [{"id": "ide-only"}]},
                {"name": "cli", "models": [{"id": "cli-one", "supportsToolCall": True}, {"id": "x", "disabled": True}]},
            ]
        },
    }
    upstream.get(ENTERPRISE).mock(return_value=httpx.Response(200, json=body))
    models, _ = fetch_live_models(KEY, f"{GW}/v2")
    assert [(m.id, m.supports_tools) for m in models] == [("cli-one", True)]


def test_registering_remembers_the_account_efforts(upstream: respx.MockRouter) -> None:
    mid = unique("kimi")
    rows = {
        "agents": [{"name": "cli", "models": [mid]}],
        "models": [{"id": mid, "reasoning": {"supportedEfforts": ["low", "high", "max"], "defaultEffort": "low"}}],
    }
    upstream.get(f"{GW}/v3/config").mock(return_value=httpx.Response(200, json={"code": 0, "data": rows}))
    assert register_live_models(KEY, f"{GW}/v2") == [mid]
    assert supported_efforts(mid) == ("low", "high", "max")
    assert default_effort(mid) == "low"
    assert litellm.get_model_info(f"codebuddy/{mid}")["reasoning_effort_levels"] == ["low", "high", "max"]


@pytest.mark.usefixtures("no_pause")
@pytest.mark.parametrize(
    "failure",
    [httpx.Response(500), httpx.Response(502), httpx.Response(429), httpx.ConnectError("reset")],
    ids=["500", "502", "429", "connect"],
)
@pytest.mark.usefixtures("v3_down")
def test_enterprise_endpoint_is_retried(upstream: respx.MockRouter, failure: object) -> None:
    ok = enterprise_rows({"id": "glm-5.2", "maxInputTokens": 200_000})
    route = upstream.get(ENTERPRISE).mock(side_effect=[failure, failure, ok])
    found = discover(KEY, f"{GW}/v2")
    assert found.source == "live" and found.endpoint == ENTERPRISE_MODELS_PATH
    assert route.call_count == 3 and [m.id for m in found.models] == ["glm-5.2"]


@pytest.mark.usefixtures("no_pause")
@pytest.mark.usefixtures("v3_down")
def test_enterprise_endpoint_gives_up_after_three_tries(upstream: respx.MockRouter) -> None:
    route = upstream.get(ENTERPRISE).mock(return_value=httpx.Response(500))
    console = f"{GW}{discovery.PERSONAL_MODELS_PATH}"
    upstream.get(console).mock(return_value=httpx.Response(200, json={"code": 0, "data": ["a"]}))
    found = discover(KEY, f"{GW}/v2")
    assert route.call_count == 3 and found.endpoint == discovery.PERSONAL_MODELS_PATH


@pytest.mark.usefixtures("no_pause")
@pytest.mark.parametrize("status", [401, 404])
def test_permanent_failures_are_not_retried(upstream: respx.MockRouter, status: int) -> None:
    route = upstream.get(ENTERPRISE).mock(return_value=httpx.Response(status))
    v3 = upstream.get(f"{GW}/v3/config").mock(return_value=httpx.Response(500))
    upstream.get(f"{GW}/console/enterprises/personal/models").mock(return_value=httpx.Response(500))
    found = discover(KEY, f"{GW}/v2")
    assert route.call_count == 1 and v3.call_count == 1  # only the flaky endpoint is retried, and only when transient
    assert found.source == "catalog" and found.note is not None and f"HTTP {status}" in found.note


def test_budget_bounds_the_whole_discovery(upstream: respx.MockRouter) -> None:
    route = upstream.get(f"{GW}/v3/config").mock(return_value=enterprise_rows({"id": "never"}))
    found = discover(KEY, f"{GW}/v2", budget=0.01)
    assert found.source == "catalog" and not route.called
    assert found.note is not None and "ran out" in found.note


def test_model_list_is_a_proxy_model_list() -> None:
    entries = model_list([LiveModel("kimi-k9", 256_000, 32_000, False, True, None), *catalog_models()[:1]])
    first, catalog = entries
    assert first == {
        "model_name": "codebuddy/kimi-k9",
        "litellm_params": {"model": "codebuddy/kimi-k9", "api_key": "os.environ/CODEBUDDY_API_KEY"},
        "model_info": {
            "max_input_tokens": 256_000,
            "max_output_tokens": 32_000,
            "supports_vision": False,
            "supports_function_calling": True,
        },
    }
    assert catalog["model_info"]["supports_reasoning"] is False  # the catalog's own facts (default-model: none)
    assert catalog["model_info"]["max_output_tokens"] == MAX_OUTPUT_TOKENS["default-model"]
