"""Discovery's reading of ``/v3/config`` as the official client reads it (``parse_models``, pure: no network):
the cli agent's bare ids joined with the rows of ``data.models``, ``contextWindow`` as an object, every effort word
kept, image models and disabled rows left out; and code 12403 said as such, with the catalog as the fallback."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from litellm_codebuddy.account import discovery
from litellm_codebuddy.account.discovery import (
    CONFIG_PATH,
    ENDPOINTS,
    LiveModel,
    catalog_models,
    discover,
    parse_models,
)
from litellm_codebuddy.account.http import AccountError
from litellm_codebuddy.catalog import CATALOG
from litellm_codebuddy.endpoint import USER_AGENT

GW = "https://gw.example"
KEY = "ck_parse123.S3cretParseKey"

#: rows as the official client's configuration gives them (trimmed to the keys it reads)
ROWS: list[dict[str, Any]] = [
    {
        "id": "gpt-5.5",
        "maxOutputTokens": 128_000,
        "maxInputTokens": 1_000_000,
        "supportsToolCall": True,
        "supportsImages": True,
        "supportsReasoning": True,
        "reasoning": {"defaultEffort": "high", "supportedEfforts": ["low", "medium", "high", "xhigh"]},
        "tags": [],
    },
    {
        "id": "fake-flash",
        "maxOutputTokens": 128_000,
        "maxInputTokens": 1_000_000,
        "supportsToolCall": True,
        "supportsImages": False,
        "supportsReasoning": True,
        "reasoning": {"effort": "high", "summary": "auto"},
        "contextWindow": {"supportedLengths": [1_000_000, 300_000, "x", 2_000_000], "defaultLength": 300_000},
    },
    {
        "id": "fake-hy",
        "maxOutputTokens": 64_000,
        "maxInputTokens": 192_000,
        "supportsReasoning": True,
        "reasoning": {"supportedEfforts": ["no_think", "LOW", "high"], "defaultEffort": "no_think"},
    },
    {"id": "fake-plain", "maxOutputTokens": 24_000, "maxInputTokens": 176_000, "supportsToolCall": True},
    {"id": "hunyuan-image-v3.0", "name": "Hunyuan Image V3", "tags": ["text-to-image"]},
    {"id": "fake-edit", "tags": ["image-to-image"]},
    {"id": "fake-gone", "maxInputTokens": 128_000, "disabled": True},
    {"id": "fake-ide-only", "maxInputTokens": 128_000},
]
CLI = ["gpt-5.5", "fake-flash", "fake-hy", "fake-plain", "hunyuan-image-v3.0", "fake-edit", "fake-gone", "fake-bare"]


def config(cli: list[Any], rows: list[dict[str, Any]] = ROWS) -> dict[str, Any]:
    agents = [{"name": "ide", "models": ["fake-ide-only"]}, {"name": "cli", "models": cli}]
    return {"code": 0, "data": {"agents": agents, "models": rows}}


def by_id(models: list[LiveModel]) -> dict[str, LiveModel]:
    return {m.id: m for m in models}


def test_bare_ids_are_joined_with_their_rows() -> None:
    models = parse_models(config(CLI))
    assert [m.id for m in models] == ["gpt-5.5", "fake-flash", "fake-hy", "fake-plain", "fake-bare"]  # cli order
    gpt = by_id(models)["gpt-5.5"]
    assert (gpt.max_input_tokens, gpt.max_output_tokens) == (1_000_000, 128_000)
    assert (gpt.supports_tools, gpt.supports_vision, gpt.supports_reasoning) == (True, True, True)
    assert gpt.efforts == ("low", "medium", "high", "xhigh") and gpt.default_effort == "high"


def test_only_the_cli_agents_models() -> None:
    assert "fake-ide-only" not in by_id(parse_models(config(CLI)))


def test_image_models_and_disabled_rows_are_left_out() -> None:
    ids = set(by_id(parse_models(config(CLI))))
    assert not ids & {"hunyuan-image-v3.0", "fake-edit", "fake-gone"}


def test_context_window_object() -> None:
    flash = by_id(parse_models(config(CLI)))["fake-flash"]
    assert flash.max_input_tokens == 1_000_000  # maxInputTokens is the limit; the budgets are the user's choice
    assert flash.context_lengths == (300_000, 1_000_000) and flash.default_context == 300_000  # 2M > the limit
    row = {"id": "fake-no-max", "contextWindow": {"supportedLengths": [200_000, 400_000], "defaultLength": 200_000}}
    (model,) = parse_models(config(["fake-no-max"], [row]))
    assert model.max_input_tokens == 400_000  # no maxInputTokens: the largest budget


def test_a_fixed_effort_is_the_only_one() -> None:
    flash = by_id(parse_models(config(CLI)))["fake-flash"]
    assert flash.efforts == ("high",) and flash.default_effort == "high"


def test_every_effort_word_is_kept() -> None:
    hy = by_id(parse_models(config(CLI)))["fake-hy"]
    assert hy.efforts == ("low", "high", "no_think") and hy.default_effort == "no_think"
    assert hy.info()["reasoning_effort_levels"] == ["low", "high", "no_think"]


def test_a_row_without_reasoning_takes_no_effort() -> None:
    plain = by_id(parse_models(config(CLI)))["fake-plain"]
    assert plain.supports_reasoning is False and plain.efforts == ()
    assert plain.info()["supports_reasoning"] is False


def test_an_id_without_a_row() -> None:
    bare = by_id(parse_models(config(CLI)))["fake-bare"]
    assert bare == LiveModel("fake-bare")
    (known,) = parse_models(config(["gpt-5.4"], []))
    assert known.max_output_tokens == CATALOG["gpt-5.4"].limits.output.tokens  # the catalog fills in


def test_an_agent_may_list_dicts() -> None:
    (model,) = parse_models(config([{"id": "gpt-5.5", "maxOutputTokens": 64_000}]))
    assert (model.max_input_tokens, model.max_output_tokens) == (1_000_000, 64_000)  # its own keys win


def test_rows_alone_still_read() -> None:
    models = parse_models({"code": 0, "data": {"models": ROWS}})
    assert "fake-ide-only" in by_id(models) and "hunyuan-image-v3.0" not in by_id(models)


@pytest.mark.parametrize("data", [{"agents": [{"name": "cli", "models": ["hunyuan-image-v3.0"]}], "models": ROWS}])
def test_only_image_models_is_an_empty_list(data: dict[str, Any]) -> None:
    with pytest.raises(AccountError, match="empty"):
        parse_models({"code": 0, "data": data})


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(403, json={"code": 12403, "msg": "invalid user agent"}),
        httpx.Response(200, json={"code": 12403, "msg": "invalid user agent"}),
    ],
    ids=["http-403", "http-200"],
)
def test_12403_is_said_and_the_catalog_used(upstream: respx.MockRouter, answer: httpx.Response) -> None:
    upstream.get(f"{GW}{CONFIG_PATH}").mock(return_value=answer)
    for path in ENDPOINTS[1:]:
        upstream.get(f"{GW}{path}").mock(return_value=httpx.Response(500))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(discovery, "RETRY_DELAYS", (0.0, 0.0))
        found = discover(KEY, f"{GW}/v2")
    assert found.source == "catalog" and found.models == catalog_models()
    assert found.note is not None and "code 12403" in found.note
    assert "could not parse this client's User-Agent" in found.note and USER_AGENT in found.note
    assert KEY not in found.note
    sent = upstream.calls[0].request
    assert sent.url.path == CONFIG_PATH and sent.headers["user-agent"] == USER_AGENT  # our own, never disguised
