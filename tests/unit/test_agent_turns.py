"""Agent-sized turns on the four paths: the prompt count (only when needed, exact, only what is new) and the
caller's objects (never changed)."""

from __future__ import annotations

import copy
from typing import Any

import litellm
import pytest
import respx

from litellm_codebuddy.provider import handler, promptcount
from litellm_codebuddy.provider.promptcount import PromptCounter

from support.upstream import FULL_USAGE, URL, call, event, sent_body, sse_response

TOTAL_ONLY = {"total_tokens": 90_000, "credit": 0.5}
# an answer that could hold what the total leaves after the prompt (else the completion is capped at what the answer
# could hold and the rest counted as prompt: tests/unit/test_stream.py)
LONG_ANSWER = "Done. " * 16_000

SCHEMA = {
    "type": "object",
    "$defs": {"Range": {"type": "object", "properties": {"start": {"type": "integer"}}}},
    "properties": {
        "path": {"type": "string", "description": "the file"},
        "range": {"$ref": "#/$defs/Range"},
        "both": {"allOf": [{"$ref": "#/$defs/Range"}, {"properties": {"end": {"type": "integer"}}}]},
    },
    "required": ["path"],
}
TOOLS = [
    {"type": "function", "function": {"name": "read", "description": "Read a file.", "parameters": SCHEMA}},
    {
        "type": "function",
        "function": {
            "name": "bash",
            "description": "Run a command.",
            "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
        },
    },
]


def history(turns: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are a coding agent. " * 40}]
    for i in range(turns):
        messages.append({"role": "user", "content": f"step {i}: read file {i}"})
        messages.append(
            {
                "role": "assistant",
                "content": f"Reading {i}.",
                "reasoning_content": "thinking it over",
                "tool_calls": [
                    {"id": f"c{i}", "type": "function", "function": {"name": "read", "arguments": f'{{"path":"{i}"}}'}}
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": f"c{i}", "content": f"line {i}\n" * 30})
    messages.append(
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "and this screenshot", "cache_control": {"type": "ephemeral"}},
                {"type": "image_url", "image_url": {"url": "https://img.example/shot.png", "detail": "high"}},
            ],
        }
    )
    return messages


@pytest.fixture
def counter(monkeypatch: pytest.MonkeyPatch) -> PromptCounter:
    """A fresh prompt counter for this test's calls."""
    fresh = PromptCounter()
    monkeypatch.setattr(handler, "PROMPTS", fresh)
    return fresh


def answer(upstream: respx.MockRouter, usage: dict[str, Any]) -> respx.Route:
    return upstream.post(URL).mock(
        side_effect=lambda request: sse_response(event(LONG_ANSWER), event("", finish_reason="stop", usage=usage))
    )


def full_count(sent: dict[str, Any]) -> int:
    return int(
        litellm.token_counter(messages=sent["messages"], tools=sent.get("tools"), tool_choice=sent.get("tool_choice"))
    )


def test_prompt_counted_exactly_tools_included(mode: str, upstream: respx.MockRouter, counter: PromptCounter) -> None:
    route = answer(upstream, TOTAL_ONLY)
    result = call(mode, messages=history(5), tools=TOOLS, tool_choice="auto")
    sent = sent_body(route)
    expected = full_count(sent)
    assert expected > litellm.token_counter(messages=sent["messages"])  # the tools are in it
    assert result.usage.prompt_tokens == expected
    assert result.usage.completion_tokens == TOTAL_ONLY["total_tokens"] - expected


def test_a_follow_up_turn_counts_only_its_new_messages(
    mode: str, upstream: respx.MockRouter, counter: PromptCounter
) -> None:
    route = answer(upstream, TOTAL_ONLY)
    first = history(20)
    call(mode, messages=first, tools=TOOLS)
    sent_first = sent_body(route)
    assert counter.counted == len(sent_first["messages"])
    follow_up = copy.deepcopy(first)  # what an agent sends: the same history (new objects) and a few new messages
    follow_up += [
        {"role": "assistant", "content": "It shows a failing test."},
        {"role": "user", "content": "fix it"},
    ]
    result = call(mode, messages=follow_up, tools=TOOLS)
    sent = sent_body(route)
    assert counter.counted == len(sent_first["messages"]) + 2
    assert result.usage.prompt_tokens == full_count(sent)


def test_no_count_when_the_gateway_gives_prompt_tokens(
    mode: str, upstream: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> int:
        raise AssertionError("the prompt was counted although the gateway gave prompt_tokens")

    monkeypatch.setattr(handler.PROMPTS, "count", refuse)
    answer(upstream, FULL_USAGE)
    result = call(mode, messages=history(3), tools=TOOLS)
    assert result.usage.prompt_tokens == FULL_USAGE["prompt_tokens"]


def test_the_count_reads_the_bytes_sent(
    mode: str, upstream: respx.MockRouter, counter: PromptCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is serialised twice: the count keys each message by its JSON in the body already sent."""

    def refuse(value: Any) -> str:
        raise AssertionError("serialised again for the count")

    monkeypatch.setattr(promptcount, "_encode", refuse)
    route = answer(upstream, TOTAL_ONLY)
    result = call(mode, messages=history(3), tools=TOOLS)
    assert result.usage.prompt_tokens == full_count(sent_body(route))


def test_the_callers_messages_and_tools_are_untouched(mode: str, upstream: respx.MockRouter) -> None:
    route = answer(upstream, TOTAL_ONLY)
    messages, tools = history(4), copy.deepcopy(TOOLS)
    before = copy.deepcopy((messages, tools))
    call(mode, messages=messages, tools=tools, tool_choice={"type": "function", "function": {"name": "read"}})
    assert (messages, tools) == before
    sent = sent_body(route)
    assert "$defs" not in sent["tools"][0]["function"]["parameters"]
    assert all("reasoning_content" not in m for m in sent["messages"])
