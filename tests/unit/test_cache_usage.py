"""The prompt-cache figures the gateway reports reach LiteLLM's standard usage fields, so LiteLLM prices cache
reads at their own rate on every path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import litellm
import pytest
import respx

from litellm_codebuddy.provider.stream import normalise_usage

from support.upstream import URL, call, event, sse_response


def usage_of(raw: dict[str, Any], counted: int = 20) -> dict[str, Any]:
    return normalise_usage(raw, lambda: counted, lambda: 5)


@pytest.mark.parametrize(
    "raw",
    [
        {"prompt_tokens": 1000, "completion_tokens": 10, "prompt_cache_hit_tokens": 800},
        {"prompt_tokens": 1000, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 800}},
        {"prompt_tokens": 1000, "completion_tokens": 10, "cache_read_input_tokens": 800},
        {"prompt_cache_hit_tokens": 800, "prompt_cache_miss_tokens": 200, "completion_tokens": 10},
        {"total_tokens": 1010, "prompt_cache_hit_tokens": 800, "prompt_cache_miss_tokens": 200},
    ],
)
def test_cache_reads_in_every_reported_form(raw: dict[str, Any]) -> None:
    usage = usage_of(raw)
    assert usage["prompt_tokens"] == 1000  # prompt_tokens includes the cached tokens
    assert usage["completion_tokens"] == 10
    assert usage["prompt_tokens_details"]["cached_tokens"] == 800
    assert usage["cache_read_input_tokens"] == 800


@pytest.mark.parametrize(
    "raw",
    [
        {"prompt_tokens": 1000, "completion_tokens": 1, "prompt_cache_write_tokens": 600},
        {"prompt_tokens": 1000, "completion_tokens": 1, "prompt_tokens_details": {"cache_write_tokens": 600}},
        {"prompt_tokens": 1000, "completion_tokens": 1, "cache_creation_input_tokens": 600},
    ],
)
def test_cache_writes_in_every_reported_form(raw: dict[str, Any]) -> None:
    usage = usage_of(raw)
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0, "cache_write_tokens": 600}
    assert usage["cache_creation_input_tokens"] == 600
    assert usage["prompt_tokens"] == 1000


def test_thin_usage_with_hits_keeps_the_prompt_at_least_the_cached_part() -> None:
    usage = usage_of({"total_tokens": 900, "prompt_cache_hit_tokens": 850, "credit": 0.01}, counted=100)
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (850, 50)
    assert usage["credit"] == 0.01


def test_a_prompt_count_that_leaves_the_cache_out_gets_it_added() -> None:
    usage = usage_of(
        {"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 105, "cache_read_input_tokens": 800}
    )
    assert (usage["prompt_tokens"], usage["total_tokens"], usage["cache_read_input_tokens"]) == (900, 905, 800)


def test_no_cache_fields_no_cache_figures() -> None:
    usage = usage_of({"prompt_tokens": 10, "completion_tokens": 2})
    assert "prompt_tokens_details" not in usage and "cache_read_input_tokens" not in usage


PRICED = "codebuddy/test-cache-prices"
IN, CACHED, OUT, WRITE = 1e-6, 1e-7, 4e-6, 1.25e-6


@pytest.fixture
def priced() -> Iterator[str]:
    litellm.register_model(
        {
            PRICED: {
                "litellm_provider": "codebuddy",
                "mode": "chat",
                "input_cost_per_token": IN,
                "output_cost_per_token": OUT,
                "cache_read_input_token_cost": CACHED,
                "cache_creation_input_token_cost": WRITE,
            }
        }
    )
    yield PRICED
    litellm.model_cost.pop(PRICED, None)


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ({"prompt_tokens": 1000, "completion_tokens": 10, "prompt_cache_hit_tokens": 800}, 200 * IN + 800 * CACHED),
        ({"prompt_tokens": 1000, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 800}}, None),
        ({"prompt_tokens": 1000, "completion_tokens": 10, "prompt_cache_write_tokens": 600}, 400 * IN + 600 * WRITE),
        ({"prompt_tokens": 1000, "completion_tokens": 10}, 1000 * IN),
    ],
)
def test_litellm_prices_cache_reads(
    mode: str, upstream: respx.MockRouter, priced: str, reported: dict[str, Any], expected: float | None
) -> None:
    expected = 200 * IN + 800 * CACHED if expected is None else expected
    stream = (event("ok", finish_reason=""), event("", finish_reason="stop", usage=reported))
    upstream.post(URL).mock(return_value=sse_response(*stream))
    result = call(mode, model=PRICED)
    usage = result.usage
    assert usage.prompt_tokens == 1000
    hit = reported.get("prompt_cache_hit_tokens") or reported.get("prompt_tokens_details", {}).get("cached_tokens")
    details = usage.prompt_tokens_details
    assert (details.cached_tokens if details else None) == (
        hit or (0 if "prompt_cache_write_tokens" in reported else None)
    )
    cost = litellm.completion_cost(completion_response=result.response, model=PRICED)
    assert cost == pytest.approx(expected + 10 * OUT)
