"""The local prompt count: always what ``litellm.token_counter`` gives, counting only the messages it has not seen."""

from __future__ import annotations

import base64
import copy
import struct
import threading
import zlib
from typing import Any

import litellm
import pytest
from litellm.litellm_core_utils import token_counter as litellm_token_counter

from litellm_codebuddy.provider.promptcount import PromptCounter, _Shares

SYSTEM = {"role": "system", "content": "You are a careful coding agent. Answer briefly."}


def _png(width: int, height: int) -> str:
    """A real PNG header, so LiteLLM can size a data-URL image locally (the high-detail price)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    data = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return "data:image/png;base64," + base64.b64encode(data).decode()


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a file from the repository.",
            "parameters": {
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "relative path"},
                    "mode": {"type": "string", "enum": ["text", "bytes"]},
                    "range": {
                        "type": "object",
                        "properties": {"start": {"type": "integer"}, "end": {"type": "integer"}},
                    },
                    "globs": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["path"],
            },
        },
    },
    {"type": "function", "function": {"name": "list_files", "description": "List the files."}},
]

SHAPES: dict[str, list[dict[str, Any]]] = {
    "text": [SYSTEM, {"role": "user", "content": "What does the stream module do?"}],
    "no system": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
    "parts": [
        SYSTEM,
        {
            "role": "user",
            "content": [{"type": "text", "text": "first part"}, {"type": "text", "text": "second part"}],
        },
    ],
    "images": [
        SYSTEM,
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "compare these"},
                {"type": "image_url", "image_url": {"url": "https://img.example/a.png"}},
                {"type": "image_url", "image_url": {"url": "https://img.example/b.png", "detail": "low"}},
                {"type": "image_url", "image_url": "https://img.example/c.png"},
                {"type": "image_url", "image_url": {"url": _png(1024, 2048), "detail": "high"}},
            ],
        },
    ],
    "tool calls and results": [
        SYSTEM,
        {"role": "user", "content": "read two files"},
        {
            "role": "assistant",
            "content": "Reading them.",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "read_file", "arguments": '{"path": "a.py"}'}},
                {"id": "c2", "type": "function", "function": {"name": "read_file", "arguments": '{"path": "b.py"}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "def a():\n    return 1\n"},
        {"role": "tool", "tool_call_id": "c2", "name": "read_file", "content": "def b():\n    return 2\n"},
        {"role": "assistant", "content": None, "function_call": {"name": "list_files", "arguments": "{}"}},
    ],
    "names": [
        {"role": "system", "content": "Two users talk to you.", "name": "rules"},
        {"role": "user", "content": "I am Ann", "name": "ann"},
        {"role": "user", "content": "I am Bob", "name": "bob"},
    ],
    "empty and odd": [
        SYSTEM,
        {"role": "user", "content": []},
        {"role": "assistant", "content": "", "tool_calls": []},
        {"role": "user", "content": "非 ASCII: ünïcödé ✓ and emoji 🚀"},
        {"role": "user", "content": "cached", "cache_control": {"type": "ephemeral"}},
    ],
}


@pytest.fixture
def shares() -> _Shares:
    """The shares, from public token_counter calls."""
    return _Shares()


def full(messages: list[dict[str, Any]], tools: Any = None, tool_choice: Any = None) -> int:
    return int(litellm.token_counter(messages=messages, tools=tools, tool_choice=tool_choice))


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("tools", [None, TOOLS], ids=["no tools", "tools"])
@pytest.mark.parametrize("choice", [None, "auto", "none", "required"])
def test_equal_to_a_full_count(shares: _Shares, shape: str, tools: Any, choice: Any) -> None:
    counter = PromptCounter(shares=shares)
    messages = SHAPES[shape]
    assert counter.count(messages, tools, choice) == full(messages, tools, choice)
    # and again from the table, without counting anything
    counted = counter.counted
    assert counter.count(messages, tools, choice) == full(messages, tools, choice)
    assert counter.counted == counted


def test_every_shape_in_one_conversation(shares: _Shares) -> None:
    messages = [SYSTEM] + [m for shape in SHAPES.values() for m in shape if m.get("role") != "system"]
    counter = PromptCounter(shares=shares)
    assert counter.count(messages, TOOLS) == full(messages, TOOLS)
    assert counter.count(messages) == full(messages)


def _conversation(turns: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [SYSTEM]
    for i in range(turns):
        messages.append({"role": "user", "content": f"step {i}: look at file {i}"})
        call = {"id": f"c{i}", "type": "function", "function": {"name": "read_file", "arguments": f'{{"n": {i}}}'}}
        messages.append({"role": "assistant", "content": f"reading {i}", "tool_calls": [call]})
        messages.append({"role": "tool", "tool_call_id": f"c{i}", "content": f"contents of file {i} " * 20})
    return messages


def test_a_follow_up_turn_counts_only_its_new_messages(shares: _Shares) -> None:
    counter = PromptCounter(shares=shares)
    first = _conversation(40)
    assert counter.count(first, TOOLS) == full(first, TOOLS)
    assert counter.counted == len(first)
    follow_up = copy.deepcopy(first) + _conversation(41)[-3:]  # new objects, same history, three new messages
    assert counter.count(follow_up, TOOLS) == full(follow_up, TOOLS)
    assert counter.counted == len(first) + 3


def test_a_changed_message_is_counted_again(shares: _Shares) -> None:
    """An agent that moves its cache marks changes old messages: only those are counted again."""
    counter = PromptCounter(shares=shares)
    messages = _conversation(10)
    counter.count(messages, TOOLS)
    before = counter.counted
    changed = copy.deepcopy(messages)
    changed[4]["content"] = [{"type": "text", "text": "step 1 again", "cache_control": {"type": "ephemeral"}}]
    assert counter.count(changed, TOOLS) == full(changed, TOOLS)
    assert counter.counted == before + 1


def test_tools_choice_and_system_each_change_the_extras(shares: _Shares) -> None:
    """The tools' share depends on the tools, the choice and whether a system message is there."""
    counter = PromptCounter(shares=shares)
    with_system = _conversation(2)
    without = with_system[1:]
    for messages in (with_system, without, with_system):
        for tools in (TOOLS, TOOLS[:1], None):
            for choice in (None, "none"):
                assert counter.count(messages, tools, choice) == full(messages, tools, choice)


def test_keys_given_by_the_caller(shares: _Shares) -> None:
    """The handler passes each message's JSON as sent (views into the body); equal keys mean equal messages."""
    counter = PromptCounter(shares=shares)
    messages = _conversation(3)
    keys = [memoryview(f"message {i}".encode()) for i in range(len(messages))]
    assert counter.count(messages, TOOLS, message_keys=keys, tools_key=b"tools v1") == full(messages, TOOLS)
    with pytest.raises(ValueError):
        counter.count(messages, message_keys=keys[:-1])


def test_bounded_and_still_exact() -> None:
    counter = PromptCounter(max_entries=50)
    for n in range(5, 60, 6):
        messages = _conversation(n)
        assert counter.count(messages, TOOLS) == full(messages, TOOLS)
        assert len(counter) <= 50


def test_holds_no_prompt_text_and_no_key() -> None:
    secret = "ck_do_not_keep.S3cret prompt text"
    counter = PromptCounter()
    counter.count([SYSTEM, {"role": "user", "content": secret}], TOOLS)
    table = counter._table
    assert table and all(isinstance(k, bytes) and len(k) == 16 and isinstance(v, int) for k, v in table.items())
    for value in vars(counter).values():
        assert secret not in repr(value)
        assert secret.encode() not in (value if isinstance(value, bytes) else b"")
    assert secret not in repr(counter)


def test_digests_are_keyed_per_counter() -> None:
    """Two counters (two processes) never hold the same digest for the same message."""
    a, b = PromptCounter(), PromptCounter()
    a.count(SHAPES["text"])
    b.count(SHAPES["text"])
    assert not set(a._table) & set(b._table)


def test_never_downloads_an_image(shares: _Shares, monkeypatch: pytest.MonkeyPatch) -> None:
    """LiteLLM would GET a high-detail http(s) image to size it; that message is priced at LiteLLM's default."""
    calls: list[str] = []
    monkeypatch.setattr(litellm_token_counter, "get_image_dimensions", lambda data: calls.append(data) or (1, 1))
    remote = {
        "role": "user",
        "content": [
            {"type": "text", "text": "what is on it"},
            {"type": "image_url", "image_url": {"url": "https://img.example/big.png", "detail": "high"}},
        ],
    }
    messages = [SYSTEM, remote, {"role": "user", "content": "thanks"}]
    counted = PromptCounter(shares=shares).count(messages, TOOLS)
    assert calls == []
    expected = full([SYSTEM, messages[2]], TOOLS) + litellm.token_counter(
        messages=[remote], use_default_image_token_count=True
    )
    assert counted == expected - litellm.token_counter(messages=[])


def test_off_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(litellm, "disable_token_counter", True)
    assert PromptCounter().count(SHAPES["text"], TOOLS) == 0 == litellm.token_counter(messages=SHAPES["text"])


def test_threads_share_one_counter() -> None:
    counter = PromptCounter()
    conversations = [_conversation(n) for n in (8, 9, 10, 11)]
    results: list[tuple[int, int]] = []

    def run(messages: list[dict[str, Any]]) -> None:
        for _ in range(5):
            results.append((counter.count(messages, TOOLS), full(messages, TOOLS)))

    threads = [threading.Thread(target=run, args=(c,)) for c in conversations]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 20 and all(a == b for a, b in results)
