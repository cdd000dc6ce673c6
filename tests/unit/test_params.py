"""Parameters as the gateway reads them: one ``max_tokens`` (the smallest, at least 16), reasoning effort with its
summary (lowered to what the model accepts), and no pretence for ``response_format`` and ``logprobs``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import litellm
import pytest
import respx

from litellm_codebuddy import catalog
from litellm_codebuddy.provider.params import (
    DEFAULT_POLICY,
    MIN_MAX_TOKENS,
    UNKNOWN_MODEL_MAX_TOKENS,
    Policy,
    default_max_tokens,
    nearest_effort,
    reasoning_fields,
    refuse_unsupported,
    smaller_limit,
    token_limit,
)
from litellm_codebuddy.provider.request import build_body

from support.upstream import STREAM_MODES, URL, call, ok_response, sent_body

MSGS = [{"role": "user", "content": "hi"}]
ALLOW = {"allowed_openai_params": ["reasoning_effort"]}


def body(model: str = "gpt-5.5", policy: Policy = DEFAULT_POLICY, **params: Any) -> dict[str, Any]:
    return build_body(model, MSGS, params, policy)


@pytest.fixture
def account_efforts() -> Iterator[dict[str, tuple[str, ...]]]:
    """The account's remembered efforts, emptied again after the test."""
    saved = dict(catalog._account_efforts)
    catalog._account_efforts.clear()
    yield catalog._account_efforts
    catalog._account_efforts.clear()
    catalog._account_efforts.update(saved)


# ---------------------------------------------------------------- token limits


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ({"max_tokens": 100}, 100),
        ({"max_completion_tokens": 100}, 100),
        ({"max_output_tokens": 100}, 100),
        ({"max_tokens": 100, "max_completion_tokens": 40}, 40),
        ({"max_tokens": 40, "max_completion_tokens": 100}, 40),
        ({"max_tokens": 300, "max_output_tokens": 200, "max_completion_tokens": 250}, 200),
        ({"max_tokens": 1}, MIN_MAX_TOKENS),
        ({"max_tokens": 15}, MIN_MAX_TOKENS),
        ({"max_tokens": 16}, 16),
        ({"max_tokens": 64.0}, 64),
        ({"max_tokens": 200_000}, 200_000),
    ],
)
def test_one_max_tokens_is_sent(given: dict[str, Any], sent: int | None) -> None:
    b = body(**given)
    assert b.get("max_tokens") == sent
    assert "max_completion_tokens" not in b and "max_output_tokens" not in b


@pytest.fixture
def model_map() -> Iterator[dict[str, Any]]:
    """LiteLLM's model map, as it was again after the test."""
    saved = dict(litellm.model_cost)
    yield litellm.model_cost
    litellm.model_cost.clear()
    litellm.model_cost.update(saved)


def test_without_a_limit_the_models_longest_answer_is_sent(model_map: dict[str, Any]) -> None:
    """As the official client does: ``max_tokens`` is the model's maximum output, from the model map (the catalog,
    discovery or a proxy's model_info), else the catalog, else 32000 (docs/gateway.md#max-tokens-default)."""
    for model_id, figure in catalog.MAX_OUTPUT_TOKENS.items():
        model_map.pop(f"codebuddy/{model_id}", None)
        assert body(model_id)["max_tokens"] == figure == default_max_tokens(model_id)
    catalog.register_catalog()
    for model_id in catalog.MAX_OUTPUT_TOKENS:
        assert body(model_id)["max_tokens"] == model_map[f"codebuddy/{model_id}"]["max_output_tokens"]
    litellm.register_model({"codebuddy/kimi-k3-mapped": {"litellm_provider": "codebuddy", "max_output_tokens": 48_000}})
    assert body("kimi-k3-mapped")["max_tokens"] == 48_000
    assert body("nobody-knows-this-one")["max_tokens"] == UNKNOWN_MODEL_MAX_TOKENS == 32_000
    model_map["codebuddy/tiny-answers"] = {"max_output_tokens": 4}
    assert body("tiny-answers")["max_tokens"] == MIN_MAX_TOKENS


def test_a_callers_limit_still_wins() -> None:
    assert body("gpt-5.5", max_tokens=100)["max_tokens"] == 100
    assert body("nobody-knows-this-one", max_completion_tokens=40_000)["max_tokens"] == 40_000


@pytest.mark.parametrize("bad", [0, -5, "100", True, 2.5, [100]])
def test_a_limit_that_is_not_a_positive_integer_is_refused(bad: Any) -> None:
    with pytest.raises(litellm.BadRequestError, match="max_completion_tokens must be a positive integer"):
        token_limit({"max_completion_tokens": bad}, "gpt-5.5")


def test_smaller_limit_reads_what_the_caller_asked() -> None:
    merged = {"max_tokens": 9, "temperature": 0.1}
    assert smaller_limit(merged, {"max_tokens": 3, "max_completion_tokens": 9}) == {"max_tokens": 3, "temperature": 0.1}
    assert smaller_limit(merged, {"max_completion_tokens": 9}) is merged
    assert smaller_limit(merged, None) is merged
    assert smaller_limit(merged, {"max_tokens": "3", "max_completion_tokens": 9}) is merged


@pytest.mark.parametrize(
    ("kw", "sent"),
    [
        ({"max_tokens": 100, "max_completion_tokens": 40}, 40),
        ({"max_tokens": 40, "max_completion_tokens": 100}, 40),
        ({"max_tokens": 3, "max_completion_tokens": 9}, MIN_MAX_TOKENS),
        ({"max_completion_tokens": 77}, 77),
        ({"max_tokens": 5}, MIN_MAX_TOKENS),
    ],
)
def test_limits_through_litellm(mode: str, ok_route: respx.Route, kw: dict[str, Any], sent: int) -> None:
    """LiteLLM hands the provider one merged max_tokens (the later name wins); the smaller one still reaches the
    gateway, as max_tokens only, raised to 16."""
    call(mode, **kw)
    b = sent_body(ok_route)
    assert b["max_tokens"] == sent
    assert "max_completion_tokens" not in b


# ---------------------------------------------------------------- reasoning


@pytest.mark.parametrize(
    ("asked", "supported", "sent"),
    [
        ("high", None, "high"),
        ("max", None, "max"),
        ("max", ("low", "medium", "high", "xhigh"), "xhigh"),
        ("xhigh", ("low", "medium", "high"), "high"),
        ("max", ("low", "high"), "high"),
        ("medium", ("low", "high"), "low"),
        ("minimal", None, "low"),
        ("low", ("medium", "high"), "medium"),
        ("high", (), None),
    ],
)
def test_nearest_effort(asked: str, supported: tuple[str, ...] | None, sent: str | None) -> None:
    assert nearest_effort(asked, supported) == sent


def test_raising_is_never_silent(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="litellm_codebuddy.provider.params"):
        assert reasoning_fields({"reasoning_effort": "low"}, "model-raised", ("medium", "high")) == {
            "reasoning_effort": "medium",
            "reasoning_summary": "auto",
        }
        reasoning_fields({"reasoning_effort": "low"}, "model-raised", ("medium", "high"))  # once per model and effort
        reasoning_fields({"reasoning_effort": "max"}, "model-raised", ("medium", "high"))  # lowered: no warning
        reasoning_fields({"reasoning_effort": "high"}, "model-none", ())
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "model-raised accepts no reasoning effort at or below 'low'; its weakest, 'medium', is sent" in messages[0]
    assert "model-none accepts no reasoning effort" in messages[1]


@pytest.mark.parametrize("effort", ["low", "medium", "high", "xhigh"])
def test_summary_goes_with_every_effort(effort: str) -> None:
    b = body(reasoning_effort=effort)
    assert (b["reasoning_effort"], b["reasoning_summary"]) == (effort, "auto")


@pytest.mark.parametrize(
    "params",
    [{}, {"reasoning_summary": "auto"}, {"reasoning_effort": "none", "reasoning_summary": "auto"}, {"thinking": None}],
)
def test_never_a_summary_without_an_effort(params: dict[str, Any]) -> None:
    b = body(**params)
    assert "reasoning_summary" not in b and "reasoning_effort" not in b


@pytest.mark.parametrize(
    ("params", "effort", "summary"),
    [
        ({"reasoning_effort": "high", "reasoning_summary": "detailed"}, "high", "detailed"),
        ({"reasoning_effort": "high", "reasoning_summary": "bogus"}, "high", "auto"),
        ({"reasoning_effort": {"effort": "low", "summary": "concise"}}, "low", "concise"),
        ({"reasoning_effort": {"effort": "medium"}}, "medium", "auto"),
        ({"reasoning": {"effort": "low", "summary": "detailed"}}, "low", "detailed"),
        ({"reasoning_effort": " HIGH "}, "high", "auto"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2000}}, "low", "auto"),
    ],
)
def test_effort_and_summary_forms(params: dict[str, Any], effort: str, summary: str) -> None:
    b = body(**params)
    assert (b["reasoning_effort"], b["reasoning_summary"]) == (effort, summary)
    assert "reasoning" not in b and "thinking" not in b


@pytest.mark.parametrize("bad", ["ultra", "auto", 3, ["high"]])
def test_an_unknown_effort_is_refused(bad: Any) -> None:
    with pytest.raises(litellm.BadRequestError, match="reasoning_effort must be one of none, minimal, low"):
        body(reasoning_effort=bad)


@pytest.mark.parametrize("model", ["gpt-5.5", "gpt-5.4", "gpt-5.3-codex"])
def test_max_is_lowered_on_the_gpt_models_that_reject_it(model: str) -> None:
    assert body(model, reasoning_effort="max")["reasoning_effort"] == "xhigh"
    assert body(model, thinking={"type": "adaptive"}, output_config={"effort": "max"})["reasoning_effort"] == "xhigh"


def test_max_is_sent_where_no_one_says_otherwise() -> None:
    assert body("claude-sonnet-4.6", reasoning_effort="max")["reasoning_effort"] == "max"
    assert body("some-new-model", thinking={"type": "adaptive"}, output_config={"effort": "max"})[
        "reasoning_effort"
    ] == ("max")


def test_the_account_list_wins(account_efforts: dict[str, tuple[str, ...]]) -> None:
    catalog.remember_account_efforts({"gpt-5.5": ["low", "medium", "high", "xhigh", "max"], "kimi-k3": None})
    assert body("gpt-5.5", reasoning_effort="max")["reasoning_effort"] == "max"
    catalog.remember_account_efforts({"claude-sonnet-4.6": ["low", "medium", "high"]})
    assert body("claude-sonnet-4.6", reasoning_effort="max")["reasoning_effort"] == "high"
    assert "kimi-k3" not in account_efforts


def test_the_model_map_levels_are_read() -> None:
    """A deployment's model_info ``reasoning_effort_levels`` (LiteLLM's own key) narrows an unknown model."""
    litellm.register_model({"codebuddy/test-levels-model": {"litellm_provider": "codebuddy", "mode": "chat"}})
    try:
        assert body("test-levels-model", reasoning_effort="max")["reasoning_effort"] == "max"
        litellm.model_cost["codebuddy/test-levels-model"]["reasoning_effort_levels"] = ["low", "high"]
        assert body("test-levels-model", reasoning_effort="xhigh")["reasoning_effort"] == "high"
    finally:
        litellm.model_cost.pop("codebuddy/test-levels-model", None)


def test_catalog_efforts_are_registered_with_litellm() -> None:
    info = litellm.model_cost["codebuddy/gpt-5.5"]
    assert info["reasoning_effort_levels"] == ["low", "medium", "high", "xhigh"]
    assert litellm.model_cost["codebuddy/claude-sonnet-4.6"].get("reasoning_effort_levels") is None


def test_reasoning_through_litellm(mode: str, ok_route: respx.Route) -> None:
    call(mode, reasoning_effort="max", **ALLOW)
    b = sent_body(ok_route)
    assert (b["reasoning_effort"], b["reasoning_summary"]) == ("xhigh", "auto")


def test_no_reasoning_fields_on_a_plain_call(mode: str, ok_route: respx.Route) -> None:
    call(mode)
    b = sent_body(ok_route)
    assert "reasoning_effort" not in b and "reasoning_summary" not in b


def test_reasoning_fields_pop_everything() -> None:
    params = {"reasoning_effort": "low", "reasoning": {"effort": "high"}, "reasoning_summary": "auto", "x": 1}
    params |= {"thinking": {"type": "enabled"}, "output_config": {"effort": "max"}}
    assert reasoning_fields(params, "gpt-5.5", None) == {"reasoning_effort": "low", "reasoning_summary": "auto"}
    assert params == {"x": 1}


# ---------------------------------------------------------------- response_format and logprobs


JSON_SCHEMA = {
    "type": "json_schema",
    "json_schema": {"name": "answer", "schema": {"type": "object", "properties": {"n": {"type": "integer"}}}},
}


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"response_format": {"type": "json_object"}}, "['response_format']"),
        ({"response_format": JSON_SCHEMA}, "['response_format']"),
        ({"logprobs": True}, "['logprobs']"),
        ({"logprobs": True, "top_logprobs": 3}, "['logprobs', 'top_logprobs']"),
    ],
)
def test_what_the_gateway_ignores_is_refused(params: dict[str, Any], named: str) -> None:
    with pytest.raises(litellm.UnsupportedParamsError) as info:
        body(**params)
    assert f"does not support parameters: {named}" in str(info.value)
    assert "drop_params" in str(info.value)
    assert info.value.status_code == 400


@pytest.mark.parametrize(
    "params", [{"response_format": {"type": "text"}}, {"logprobs": False}, {"logprobs": None, "top_logprobs": None}]
)
def test_harmless_values_pass_and_are_not_sent(params: dict[str, Any]) -> None:
    b = body(**params)
    assert not set(params) & set(b)


def test_drop_params_leaves_them_out() -> None:
    params = {"response_format": JSON_SCHEMA, "logprobs": True, "top_logprobs": 2}
    b = body(policy=Policy(drop_params=True), **params)
    assert not set(params) & set(b)


def test_json_schema_validation_accepts_a_schema_only() -> None:
    policy = Policy(validates_json=True)
    assert "response_format" not in body(policy=policy, response_format=JSON_SCHEMA)
    with pytest.raises(litellm.UnsupportedParamsError):
        refuse_unsupported({"response_format": {"type": "json_object"}}, "gpt-5.5", policy)


def test_refused_through_litellm_before_anything_is_sent(mode: str, ok_route: respx.Route) -> None:
    with pytest.raises(litellm.UnsupportedParamsError):
        call(mode, response_format={"type": "json_object"})
    with pytest.raises(litellm.UnsupportedParamsError):
        call(mode, logprobs=True)
    assert not ok_route.called


def test_drop_params_per_call(mode: str, ok_route: respx.Route) -> None:
    call(mode, response_format={"type": "json_object"}, logprobs=True, top_logprobs=2, drop_params=True)
    b = sent_body(ok_route)
    assert not {"response_format", "logprobs", "top_logprobs"} & set(b)


def test_drop_params_for_the_process(mode: str, ok_route: respx.Route, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(litellm, "drop_params", True)
    call(mode, response_format=JSON_SCHEMA)
    assert "response_format" not in sent_body(ok_route)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("how", ["process", "call+drop"])
@pytest.mark.parametrize(("answer", "valid"), [('{"n": 3}', True), ('{"n": "three"}', False)])
def test_json_schema_checked_by_litellm(
    mode: str, how: str, answer: str, valid: bool, upstream: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With LiteLLM's JSON-schema validation, a json_schema is not sent and LiteLLM checks the answer against it:
    process-wide the provider accepts it by itself; the per-call flag does not reach the provider, so the caller
    also drops the parameter."""
    route = upstream.post(URL).mock(return_value=ok_response(answer))
    kw: dict[str, Any] = {"response_format": JSON_SCHEMA}
    if how == "process":
        monkeypatch.setattr(litellm, "enable_json_schema_validation", True)
    else:
        kw |= {"enable_json_schema_validation": True, "drop_params": True}
    if valid:
        assert call(mode, **kw).content == answer
    else:
        with pytest.raises(litellm.JSONSchemaValidationError):
            call(mode, **kw)
    assert "response_format" not in sent_body(route)


@pytest.mark.parametrize("mode", STREAM_MODES)
def test_json_schema_validation_does_not_cover_streams(
    mode: str, ok_route: respx.Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(litellm, "enable_json_schema_validation", True)
    with pytest.raises(litellm.UnsupportedParamsError):
        call(mode, response_format=JSON_SCHEMA)
    assert not ok_route.called
