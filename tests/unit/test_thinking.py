"""Anthropic ``thinking`` becomes the gateway's ``reasoning_effort``; ``thinking`` itself is never sent."""

from __future__ import annotations

from typing import Any

import pytest

from litellm_codebuddy.provider.request import build_body
from litellm_codebuddy.provider.thinking import LOW_BELOW, MEDIUM_BELOW, effort_from_thinking

MSGS = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("thinking", "output_config", "expected"),
    [
        ({"type": "enabled", "budget_tokens": 1024}, None, "low"),
        ({"type": "enabled", "budget_tokens": LOW_BELOW - 1}, None, "low"),
        ({"type": "enabled", "budget_tokens": LOW_BELOW}, None, "medium"),
        ({"type": "enabled", "budget_tokens": MEDIUM_BELOW - 1}, None, "medium"),
        ({"type": "enabled", "budget_tokens": MEDIUM_BELOW}, None, "high"),
        ({"type": "enabled", "budget_tokens": 64000}, None, "high"),
        ({"type": "enabled"}, None, "medium"),
        ({"type": "enabled", "budget_tokens": "lots"}, None, "medium"),
        ({"type": "enabled", "budget_tokens": True}, None, "medium"),
        ({"type": "adaptive"}, None, "medium"),
        ({"type": "adaptive"}, {"effort": "low"}, "low"),
        ({"type": "adaptive"}, {"effort": "HIGH"}, "high"),
        ({"type": "adaptive"}, {"effort": "max"}, "max"),
        ({"type": "adaptive"}, {"effort": "xhigh"}, "xhigh"),
        ({"type": "adaptive"}, {"effort": "minimal"}, "minimal"),
        ({"type": "adaptive"}, {"effort": "bogus"}, "medium"),
        ({"type": "disabled"}, None, None),
        ({"type": "disabled"}, {"effort": "high"}, None),
        ({"type": "something-new"}, None, None),
        (None, None, None),
        ("enabled", None, None),
    ],
)
def test_effort_from_thinking(thinking: Any, output_config: Any, expected: str | None) -> None:
    assert effort_from_thinking(thinking, output_config) == expected


def test_body_gets_reasoning_effort_and_no_thinking() -> None:
    body = build_body(
        "claude-sonnet-4.6",
        MSGS,
        {"thinking": {"type": "enabled", "budget_tokens": 20000}, "output_config": {"effort": "low"}},
    )
    assert body["reasoning_effort"] == "high"
    assert "thinking" not in body
    assert "output_config" not in body


def test_adaptive_uses_output_config() -> None:
    body = build_body("gpt-5.5", MSGS, {"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}})
    assert body["reasoning_effort"] == "low"
    assert "output_config" not in body


def test_disabled_sends_nothing() -> None:
    body = build_body("gpt-5.5", MSGS, {"thinking": {"type": "disabled"}})
    assert "reasoning_effort" not in body
    assert "thinking" not in body


def test_explicit_reasoning_effort_wins() -> None:
    body = build_body(
        "gpt-5.5", MSGS, {"reasoning_effort": "low", "thinking": {"type": "enabled", "budget_tokens": 32000}}
    )
    assert body["reasoning_effort"] == "low"
    assert "thinking" not in body


def test_thinking_in_extra_body_is_translated_too() -> None:
    body = build_body("gpt-5.5", MSGS, {"extra_body": {"thinking": {"type": "enabled", "budget_tokens": 2000}}})
    assert body["reasoning_effort"] == "low"
    assert "thinking" not in body
