"""The shipped proxy configs tell LiteLLM what the catalog tells it: a config cannot drift from ``catalog.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import litellm
import litellm.utils
import pytest
import yaml

from litellm_codebuddy.catalog import CATALOG, SEED_IDS, image_model_info, is_image_model, model_info

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ["proxy_config.yaml", "proxy_replicas.yaml", "proxy_team.yaml"]


def deployments(name: str) -> list[dict[str, Any]]:
    config: dict[str, Any] = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    return list(config["model_list"])


@pytest.mark.parametrize("name", CONFIGS)
def test_proxy_configs_carry_the_catalogs_model_info(name: str) -> None:
    seen = set()
    for entry in deployments(name):
        model_id = entry["litellm_params"]["model"].removeprefix("codebuddy/")
        info = entry.get("model_info") or {}
        if is_image_model(model_id):
            assert info.get("mode", "image_generation") == "image_generation", f"{name}: {model_id} is no chat model"
            continue
        if model_id not in CATALOG:
            continue
        seen.add(model_id)
        expected = model_info(model_id)
        assert {"max_input_tokens", "max_output_tokens"} <= set(info), f"{name}: {model_id} has no limits"
        wrong = {key: (value, expected.get(key)) for key, value in info.items() if expected.get(key) != value}
        assert not wrong, f"{name}: {model_id}'s model_info differs from the catalog's (config, catalog): {wrong}"
    assert set(SEED_IDS) <= seen, f"{name}: no deployment for {sorted(set(SEED_IDS) - seen)}"


@pytest.mark.parametrize("name", CONFIGS)
def test_what_litellm_answers_for_a_configs_models(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loaded into a Router as the proxy loads it, each deployed model answers LiteLLM's questions from the
    catalog: its limits, and no capability borrowed from OpenAI's model of the same name."""
    monkeypatch.setenv("CODEBUDDY_API_KEY", "ck_cfg123.S3cretConfigKey")
    monkeypatch.setenv("CODEBUDDY_API_KEY_2", "ck_cfg456.S3cretConfigKey")
    monkeypatch.setenv("CODEBUDDY_API_BASE", "http://127.0.0.1:9/v2")
    listed = [d for d in deployments(name) if not d["litellm_params"]["model"].endswith("/*")]
    litellm.Router(model_list=listed)
    for entry in listed:
        model = entry["litellm_params"]["model"]
        model_id = model.removeprefix("codebuddy/")
        if is_image_model(model_id):
            assert litellm.get_model_info(model)["mode"] == image_model_info()["mode"]
            continue
        info = litellm.get_model_info(model)
        expected = model_info(model_id)
        assert (info["max_input_tokens"], info["max_output_tokens"]) == (
            expected["max_input_tokens"],
            expected["max_output_tokens"],
        )
        assert litellm.utils.supports_pdf_input(model, None) is False
        assert litellm.utils.supports_web_search(model, None) is False
        assert litellm.supports_vision(model) is expected["supports_vision"]


def test_the_codex_aliases_in_the_docs() -> None:
    """docs/agents.md's aliases for Codex: names without ``gpt-5.6``, each calling a catalog model that has it."""
    text = (ROOT / "docs" / "agents.md").read_text(encoding="utf-8")
    block = next(b for b in text.split("```yaml")[1:] if "gpt-5.6" in b.split("```")[0]).split("```")[0]
    aliases = yaml.safe_load(block.replace("<<: *codebuddy", "api_key: os.environ/CODEBUDDY_API_KEY"))
    called = {a["litellm_params"]["model"].removeprefix("codebuddy/") for a in aliases}
    assert called == {"gpt-5.6-sol", "gpt-5.6-terra", "gpt-5.6-luna"} and called <= set(CATALOG)
    assert not any("gpt-5.6" in a["model_name"] for a in aliases)
