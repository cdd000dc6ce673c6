"""The real ``litellm`` proxy with the opt-in start-up hook (``LITELLM_WORKER_STARTUP_HOOKS``) and
``CODEBUDDY_CREDIT_COST``, in front of the in-process fake: the account's models in ``/model/info``, a failing
discovery that leaves start-up alone, and credits on plain and streamed answers and as the response cost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fake_codebuddy import FakeCodeBuddy
from litellm_codebuddy.catalog import CONTEXT_WINDOWS, SEED_IDS

from support.proxy import IMAGE_MODELS, Proxy, running_proxy

pytest.importorskip("litellm.proxy.proxy_server", reason="the proxy extra (litellm[proxy]) is not installed")

UPSTREAM_KEY = "ck_acctproxy.UpstreamSecret"
EXTRA = {"id": "kimi-k3-e2e", "maxInputTokens": 256_000, "maxOutputTokens": 32_000, "supportsImages": False}
HOOK = {"LITELLM_WORKER_STARTUP_HOOKS": "litellm_codebuddy:proxy_startup", "CODEBUDDY_DISCOVERY_BUDGET": "5"}


def env_for(fake: FakeCodeBuddy, **extra: str) -> dict[str, str]:
    return {"CODEBUDDY_API_KEY": UPSTREAM_KEY, "CODEBUDDY_API_BASE": fake.base_url, **HOOK, **extra}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCodeBuddy]:
    with FakeCodeBuddy(api_key=UPSTREAM_KEY, models=[str(EXTRA["id"])]) as server:
        server.discovery_fail = "v3"  # the rows with limits come from /console/enterprises/personal/models
        server.models_live = ["gpt-5.5", EXTRA]
        yield server


@pytest.fixture(scope="module")
def proxy(fake: FakeCodeBuddy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    env = env_for(fake, CODEBUDDY_CREDIT_COST="2")
    with running_proxy(tmp_path_factory.mktemp("account-proxy"), env=env) as running:
        yield running


def get(proxy: Proxy, path: str) -> Any:
    resp = httpx.get(proxy.base_url + path, headers={"Authorization": f"Bearer {proxy.master_key}"}, timeout=60)
    resp.raise_for_status()
    return resp.json()


def model_info(proxy: Proxy) -> dict[str, dict[str, Any]]:
    return {row["model_name"]: row["model_info"] for row in get(proxy, "/model/info")["data"]}


def chat(proxy: Proxy, model: str, *, stream: bool) -> httpx.Response:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "hello there"}]}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    resp = httpx.post(
        proxy.base_url + "/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {proxy.master_key}"},
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    return resp


def events(resp: httpx.Response) -> list[dict[str, Any]]:
    datas = [line[6:] for line in resp.text.splitlines() if line.startswith("data: ")]
    return [json.loads(d) for d in datas if d != "[DONE]"]


# ------------------------------------------------------------------------------------------------ models


def test_account_models_in_model_info(proxy: Proxy) -> None:
    info = model_info(proxy)
    extra = info[f"codebuddy/{EXTRA['id']}"]
    assert (extra["max_input_tokens"], extra["max_output_tokens"], extra["supports_vision"]) == (256_000, 32_000, False)
    assert info["codebuddy/gpt-5.5"]["max_input_tokens"] == CONTEXT_WINDOWS["gpt-5.5"]
    listed = {m["id"] for m in get(proxy, "/v1/models")["data"]}
    assert f"codebuddy/{EXTRA['id']}" in listed


def test_account_model_answers(proxy: Proxy, fake: FakeCodeBuddy) -> None:
    answer = chat(proxy, f"codebuddy/{EXTRA['id']}", stream=False).json()
    assert answer["choices"][0]["message"]["content"] == "Echo: hello there"


# ------------------------------------------------------------------------------------------------ credits


def test_plain_answer_carries_credit_and_cost(proxy: Proxy) -> None:
    resp = chat(proxy, "codebuddy/gpt-5.5", stream=False)
    usage = resp.json()["usage"]
    assert usage["credit"] > 0  # what the fake billed (its default usage: total_tokens and credit)
    assert float(resp.headers["x-litellm-response-cost"]) == pytest.approx(2 * usage["credit"])  # 2 per credit


def test_streamed_answer_carries_credit_and_cost(proxy: Proxy) -> None:
    chunks = events(chat(proxy, "codebuddy/gpt-5.5", stream=True))
    credits = [
        c["choices"][0]["delta"]["provider_specific_fields"]["credit"]
        for c in chunks
        if c.get("choices") and (c["choices"][0].get("delta") or {}).get("provider_specific_fields")
    ]
    (credit,) = credits
    assert credit > 0
    final = chunks[-1]["usage"]
    assert final["cost"] == pytest.approx(2 * credit)


# ------------------------------------------------------------------------------------------------ a failing discovery


def test_failing_discovery_leaves_start_up_alone(tmp_path: Any) -> None:
    with FakeCodeBuddy(api_key=UPSTREAM_KEY) as broken:
        broken.discovery_fail = True  # every discovery endpoint answers 500 (or 404)
        with running_proxy(tmp_path, env=env_for(broken), name="broken-discovery") as running:
            info = model_info(running)
            # the shipped config's own deployments (the seed's four and the image model), and no model added from a
            # failed discovery
            expected = [f"codebuddy/{m}" for m in SEED_IDS] + list(IMAGE_MODELS)
            assert sorted(k for k in info if k != "codebuddy/*") == sorted(expected)
            assert "live model discovery failed, using the built-in catalog" in running.log_tail(400)
