"""The catalog (``catalog.py``): the official client's models with their limits and efforts, every capability flag
LiteLLM asks about stated for each (nothing answered from another provider's entry of the same bare name), and the
image models kept apart from the chat models."""

from __future__ import annotations

import typing

import litellm
import litellm.utils
import pytest
from litellm.types.utils import ModelInfoBase

from litellm_codebuddy import catalog
from litellm_codebuddy.catalog import (
    CATALOG,
    EFFORT_LADDER,
    IMAGE_MODELS,
    OFFICIAL_IDS,
    SEED_IDS,
    capability_flags,
    cost_map,
    default_effort,
    effort_words,
    is_image_model,
    max_output_tokens,
    model_info,
    supported_efforts,
)

#: the official client 2.163.0's model list for the CLI, in picker order (its built-in configuration)
PICKER_ORDER = (
    "default-model, fast-model, balanced-model, primary-model, deep-model, hy4-preview, hy3, deepseek-v4.1-flash, "
    "gpt-6-astra, gpt-5.6-sol, gpt-5.6-terra, gpt-5.6-luna, gpt-5.5, gpt-5.4, gemini-3.5-flash, glm-5.3-flash, "
    "glm-5.3, glm-5.2, kimi-k3, kimi-k2.6, kimi-k2.8-preview"
).split(", ")

#: every ``supports_*`` key of LiteLLM's model info: what ``get_model_info`` hands on and its helpers read
LITELLM_FLAGS = sorted(k for k in typing.get_type_hints(ModelInfoBase) if k.startswith("supports_"))
#: LiteLLM's ``supports_*(model)`` helpers (``supports_factory`` and ``supports_httpx_timeout`` take no model)
HELPERS = sorted(
    name
    for name, fn in vars(litellm.utils).items()
    if name.startswith("supports_") and callable(fn) and name not in ("supports_factory", "supports_httpx_timeout")
)


def test_the_official_list_in_picker_order() -> None:
    assert list(OFFICIAL_IDS) == PICKER_ORDER
    assert [mid for mid in CATALOG if not CATALOG[mid].official] == ["claude-sonnet-4.6", "gemini-3.1-pro"]
    assert set(SEED_IDS) <= set(CATALOG)  # the seed's four stay registered


@pytest.mark.parametrize(
    ("model_id", "window", "output", "efforts", "default"),
    [
        ("gpt-5.5", 1_000_000, 128_000, ("low", "medium", "high", "xhigh"), "high"),
        ("gpt-5.4", 272_000, 72_000, ("low", "medium", "high", "xhigh"), "high"),
        ("gpt-6-astra", 1_000_000, 128_000, ("low", "medium", "high", "xhigh", "max"), "high"),
        ("gemini-3.5-flash", 1_000_000, 65_536, ("medium",), "medium"),
        ("glm-5.2", 1_000_000, 48_000, ("high", "xhigh"), "high"),
        ("kimi-k2.6", 256_000, 32_000, ("medium",), "medium"),
        ("kimi-k2.8-preview", 1_000_000, 32_000, ("low", "high", "max"), "high"),
        ("hy3", 192_000, 64_000, ("low", "high"), "high"),
        ("deepseek-v4.1-flash", 1_000_000, 128_000, ("high",), "high"),
        ("default-model", 176_000, 24_000, (), None),
        ("primary-model", 272_000, 72_000, ("high",), "high"),
    ],
)
def test_figures_are_the_official_clients(
    model_id: str, window: int, output: int, efforts: tuple[str, ...], default: str | None
) -> None:
    info = litellm.get_model_info(f"codebuddy/{model_id}")
    assert (info["max_input_tokens"], info["max_output_tokens"]) == (window, output)
    assert supported_efforts(model_id) == efforts
    assert default_effort(model_id) == default == default_effort(f"codebuddy/{model_id}")


def test_max_output_tokens() -> None:
    assert max_output_tokens("gpt-5.5") == max_output_tokens("codebuddy/gpt-5.5") == 128_000
    assert max_output_tokens("gpt-5.4") == 72_000
    assert max_output_tokens("claude-sonnet-4.6") == 64_000
    assert max_output_tokens("no-such-model") is None
    assert max_output_tokens("hunyuan-image-v3.0") is None  # an image model has no answer length


def test_max_output_tokens_follows_the_model_map() -> None:
    """What discovery or a proxy's ``model_info`` registered wins over the catalog."""
    mid = "fake-catalog-out-of-map"
    litellm.register_model({f"codebuddy/{mid}": model_info(mid, 100_000, 12_345)})
    assert max_output_tokens(mid) == 12_345


def test_every_default_effort_is_accepted() -> None:
    for mid, model in CATALOG.items():
        if model.default_effort is not None:
            assert model.efforts is not None and model.default_effort in model.efforts, mid
        if model.efforts:
            assert set(model.efforts) <= set(EFFORT_LADDER), mid


def test_effort_words_keep_every_word() -> None:
    assert effort_words(["High", "no_think", "low", "low", 3, " "]) == ("low", "high", "no_think")
    catalog.remember_account_efforts({"fake-catalog-hy": ["no_think", "low", "high"]})
    assert supported_efforts("fake-catalog-hy") == ("low", "high", "no_think")


@pytest.mark.parametrize("model_id", list(CATALOG))
def test_every_flag_is_stated(model_id: str) -> None:
    """No ``supports_*`` key is left for LiteLLM to answer from another provider's entry of the same bare name."""
    entry = litellm.model_cost[f"codebuddy/{model_id}"]
    missing = [k for k in LITELLM_FLAGS if not isinstance(entry.get(k), bool)]
    assert not missing, f"{model_id} leaves unsaid: {missing}"


@pytest.mark.parametrize("model_id", list(CATALOG))
def test_litellm_helpers_answer_from_the_catalog(model_id: str) -> None:
    model = f"codebuddy/{model_id}"
    entry = litellm.model_cost[model]
    for name in HELPERS:
        assert getattr(litellm.utils, name)(model, None) is entry[name], (model, name)


@pytest.mark.parametrize("model_id", ["gpt-5.5", "gpt-5.4", "claude-sonnet-4.6", "gemini-3.1-pro"])
def test_nothing_falls_back_to_openais_entries(model_id: str) -> None:
    model = f"codebuddy/{model_id}"
    assert litellm.utils.supports_pdf_input(model) is False
    assert litellm.utils.supports_web_search(model) is False
    assert litellm.utils.supports_audio_input(model) is False
    assert litellm.utils.supports_url_context(model) is False
    assert litellm.utils.supports_computer_use(model) is False
    assert litellm.utils.supports_response_schema(model) is False
    assert litellm.supports_function_calling(model) is True and litellm.supports_vision(model) is True


def test_effort_flags_follow_the_efforts() -> None:
    gpt55 = litellm.model_cost["codebuddy/gpt-5.5"]
    assert gpt55["supports_xhigh_reasoning_effort"] is True and gpt55["supports_max_reasoning_effort"] is False
    assert gpt55["supports_none_reasoning_effort"] is False and gpt55["supports_minimal_reasoning_effort"] is False
    astra = litellm.model_cost["codebuddy/gpt-6-astra"]
    assert astra["supports_max_reasoning_effort"] is True
    glm = litellm.model_cost["codebuddy/glm-5.2"]
    assert glm["supports_low_reasoning_effort"] is False


def test_flags_of_a_model_without_tools() -> None:
    flags = capability_flags(tools=False, vision=False, reasoning=True, efforts=("high",))
    assert flags["supports_function_calling"] is flags["supports_tool_choice"] is False
    assert flags["supports_vision"] is False and flags["supports_low_reasoning_effort"] is False


def test_an_unknown_model_still_gets_the_gateways_flags() -> None:
    info = model_info("fake-catalog-unknown")
    assert info["supports_pdf_input"] is False and info["supports_web_search"] is False
    assert "supports_function_calling" not in info  # not known: not said


# ---------------------------------------------------------------- image models


@pytest.mark.parametrize("model_id", ["hunyuan-image-v3.0", "hunyuan-image-v2.0-general-edit"])
def test_image_models_are_not_chat_models(model_id: str) -> None:
    assert is_image_model(model_id) and is_image_model(f"codebuddy/{model_id}")
    assert model_id not in CATALOG
    info = litellm.get_model_info(f"codebuddy/{model_id}")
    assert info["mode"] == "image_generation" and info["litellm_provider"] == "codebuddy"
    assert f"codebuddy/{model_id}" not in litellm.models_by_provider["codebuddy"]  # never health-checked as chat
    assert cost_map()[f"codebuddy/{model_id}"]["mode"] == "image_generation"


def test_image_model_kinds() -> None:
    assert {m.id: m.kind for m in IMAGE_MODELS.values()} == {
        "hunyuan-image-v3.0": "text-to-image",
        "hunyuan-image-v2.0-general-edit": "image-to-image",
    }
    assert not is_image_model("gpt-5.5")
