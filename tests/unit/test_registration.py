"""Importing the package registers the provider and its catalog, idempotently and without any network."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import litellm
import pytest
import respx

import litellm_codebuddy
from litellm_codebuddy import CodeBuddyLLM, codebuddy_llm
from litellm_codebuddy.catalog import CATALOG, CONTEXT_WINDOWS, LIMITS, MAX_OUTPUT_TOKENS

from support.upstream import call

MODELS = sorted(CONTEXT_WINDOWS)


def entries() -> list[dict]:
    return [e for e in litellm.custom_provider_map if e.get("provider") == "codebuddy"]


def test_registered_once() -> None:
    assert len(entries()) == 1
    assert entries()[0]["custom_handler"] is codebuddy_llm
    assert isinstance(codebuddy_llm, CodeBuddyLLM)
    assert "codebuddy" in litellm.provider_list
    assert "codebuddy" in litellm._custom_providers


def test_register_is_idempotent() -> None:
    importlib.import_module("litellm_codebuddy")
    import litellm_codebuddy as again  # noqa: F401

    litellm_codebuddy.register()
    litellm_codebuddy.register()
    assert len(entries()) == 1
    assert entries()[0]["custom_handler"] is litellm_codebuddy.codebuddy_llm
    assert litellm._custom_providers.count("codebuddy") == 1
    assert litellm.provider_list.count("codebuddy") == 1


def test_handler_exported_for_the_proxy() -> None:
    """Every shipped proxy config names the handler by a path that resolves to the one registered instance."""
    import yaml

    root = Path(__file__).resolve().parents[2]
    for config in sorted(root.glob("proxy*.yaml")):
        entries_ = yaml.safe_load(config.read_text(encoding="utf-8"))["litellm_settings"]["custom_provider_map"]
        (entry,) = [e for e in entries_ if e["provider"] == "codebuddy"]
        module, _, name = entry["custom_handler"].rpartition(".")
        assert getattr(importlib.import_module(module), name) is entries()[0]["custom_handler"], config.name
        assert name in litellm_codebuddy.__all__


def test_provider_resolved() -> None:
    model, provider, _, _ = litellm.get_llm_provider("codebuddy/gpt-5.5")
    assert (model, provider) == ("gpt-5.5", "codebuddy")


def test_catalog_in_models_by_provider() -> None:
    # where LiteLLM picks a model to health-check the proxy's codebuddy/* wildcard deployment
    from litellm.litellm_core_utils.llm_request_utils import pick_cheapest_chat_models_from_llm_provider

    known = litellm.models_by_provider["codebuddy"]
    assert isinstance(known, set)
    assert {f"codebuddy/{m}" for m in MODELS} <= known
    assert pick_cheapest_chat_models_from_llm_provider("codebuddy", n=3)
    litellm_codebuddy.register()
    assert litellm.models_by_provider["codebuddy"] is known  # idempotent, same set


@pytest.mark.parametrize("model_id", MODELS)
def test_model_info(model_id: str) -> None:
    info = litellm.get_model_info(f"codebuddy/{model_id}")
    assert info["litellm_provider"] == "codebuddy"
    assert info["mode"] == "chat"
    assert info["max_input_tokens"] == CONTEXT_WINDOWS[model_id]
    assert info["max_output_tokens"] == info["max_tokens"] == MAX_OUTPUT_TOKENS[model_id]
    assert info["input_cost_per_token"] == 0.0
    assert info["output_cost_per_token"] == 0.0


@pytest.mark.parametrize("model_id", MODELS)
def test_catalog_limits_agree(model_id: str) -> None:
    """An answer always fits in the context window, and each figure says where it comes from."""
    limits = LIMITS[model_id]
    assert limits.output.tokens < limits.window.tokens
    assert limits.window.source.strip() and limits.output.source.strip()


@pytest.mark.parametrize("model_id", MODELS)
def test_capabilities(model_id: str) -> None:
    model = f"codebuddy/{model_id}"
    assert litellm.supports_function_calling(model=model) is True
    assert litellm.supports_vision(model=model) is True
    assert litellm.supports_reasoning(model=model) is CATALOG[model_id].reasoning  # the picker ids default/deep: no


def test_completion_cost_is_a_number(ok_route: respx.Route) -> None:
    resp = call("sync").response
    cost = litellm.completion_cost(completion_response=resp)
    assert cost is not None
    assert cost == 0.0
    assert litellm.completion_cost(model="codebuddy/gpt-5.5", prompt="hello", completion="world") == 0.0


IMPORT_PROBE = textwrap.dedent(
    """
    import json, socket

    attempts = []

    def deny(name):
        def blocked(*args, **kwargs):
            attempts.append([name, repr(args)[:200]])
            raise OSError("network use at import time")
        return blocked

    socket.socket.connect = deny("connect")
    socket.socket.connect_ex = deny("connect_ex")
    socket.create_connection = deny("create_connection")
    socket.getaddrinfo = deny("getaddrinfo")

    import litellm
    import litellm_codebuddy
    import litellm_codebuddy as again
    litellm_codebuddy.register()
    litellm_codebuddy.register()

    entries = [e for e in litellm.custom_provider_map if e.get("provider") == "codebuddy"]
    print(json.dumps({
        "attempts": attempts,
        "entries": len(entries),
        "handler_is_instance": entries[0]["custom_handler"] is litellm_codebuddy.codebuddy_llm,
        "sync_clients": len(litellm_codebuddy.codebuddy_llm.clients._sync_clients),
        "async_loops": len(litellm_codebuddy.codebuddy_llm.clients._async_clients),
        "reasoning": litellm.supports_reasoning(model="codebuddy/gpt-5.5"),
    }))
    """
)


def test_import_uses_no_network_in_a_fresh_process() -> None:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    env.pop("CODEBUDDY_API_KEY", None)
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {
        "attempts": [],
        "entries": 1,
        "handler_is_instance": True,
        "sync_clients": 0,
        "async_loops": 0,
        "reasoning": True,
    }
