"""The shipped proxy configs tell LiteLLM what the catalog tells it: a config cannot drift from ``catalog.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from litellm_codebuddy.catalog import CONTEXT_WINDOWS, model_info

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["proxy_config.yaml", "proxy_replicas.yaml", "proxy_team.yaml"])
def test_proxy_configs_carry_the_catalogs_model_info(name: str) -> None:
    config: dict[str, Any] = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    seen = set()
    for entry in config["model_list"]:
        model_id = entry["litellm_params"]["model"].removeprefix("codebuddy/")
        if model_id not in CONTEXT_WINDOWS:
            continue
        seen.add(model_id)
        info = entry.get("model_info") or {}
        expected = model_info(model_id)
        assert {"max_input_tokens", "max_output_tokens"} <= set(info), f"{name}: {model_id} has no limits"
        wrong = {key: (value, expected.get(key)) for key, value in info.items() if expected.get(key) != value}
        assert not wrong, f"{name}: {model_id}'s model_info differs from the catalog's (config, catalog): {wrong}"
    assert seen == set(CONTEXT_WINDOWS), f"{name}: no deployment for {sorted(set(CONTEXT_WINDOWS) - seen)}"
