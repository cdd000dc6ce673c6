"""Pure request building: key, base URL, headers, messages, parameters and tool schemas (no I/O)."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from typing import Any

import litellm
import pytest
import respx

from litellm_codebuddy import __version__, codebuddy_llm
from litellm_codebuddy.account.credentials import resolve_key as resolve_api_key
from litellm_codebuddy.endpoint import DEFAULT_API_BASE, PRIVATE_DATA_ENV
from litellm_codebuddy.endpoint import redact_headers as redacted_headers
from litellm_codebuddy.provider.call import private_data
from litellm_codebuddy.provider.request import (
    DEFAULT_SYSTEM_PROMPT,
    build_body,
    build_headers,
    encode_body,
    inline_schema,
    normalise_messages,
    prepare_request,
    prepare_tools,
    resolve_url,
)

from support.upstream import KEY, call

SYS = {"role": "system", "content": DEFAULT_SYSTEM_PROMPT}


def tool(name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name, "description": f"{name} tool", "parameters": params or {"type": "object"}},
    }


# ---------------------------------------------------------------- key


def test_key_argument_wins_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEBUDDY_API_KEY", "ck_env.value")
    assert resolve_api_key("ck_arg.value") == "ck_arg.value"


def test_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEBUDDY_API_KEY", "ck_env.value")
    assert resolve_api_key(None) == "ck_env.value"


def test_missing_key() -> None:
    with pytest.raises(litellm.AuthenticationError) as info:
        resolve_api_key(None)
    assert "CODEBUDDY_API_KEY" in str(info.value)
    assert "https://www.codebuddy.ai/console/api-keys" in str(info.value)


@pytest.mark.parametrize("bad", ["ck_a b", "ck_ab\n", "ck_ab\r", "\tck_ab", "ck_a\x00b"])
def test_key_with_whitespace_or_control(bad: str) -> None:
    with pytest.raises(litellm.AuthenticationError) as info:
        resolve_api_key(bad)
    assert bad.strip() not in str(info.value)


# ---------------------------------------------------------------- base URL


@pytest.mark.parametrize(
    "base",
    [
        "https://gw.example/v2",
        "https://gw.example/v2/",
        "https://gw.example/v2/chat/completions",
        "https://gw.example/v2/chat/completions/",
    ],
)
def test_base_with_or_without_endpoint(base: str) -> None:
    assert resolve_url(base) == "https://gw.example/v2/chat/completions"


def test_base_default_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_url(None) == DEFAULT_API_BASE + "/chat/completions"
    assert DEFAULT_API_BASE == "https://www.codebuddy.ai/v2"
    monkeypatch.setenv("CODEBUDDY_API_BASE", "http://localhost:9/x/")
    assert resolve_url(None) == "http://localhost:9/x/chat/completions"
    assert resolve_url("https://arg.example/y") == "https://arg.example/y/chat/completions"


@pytest.mark.parametrize("base", ["ftp://gw.example/v2", "www.codebuddy.ai/v2", "https://", "file:///etc/passwd"])
def test_base_not_http(base: str) -> None:
    with pytest.raises(litellm.BadRequestError):
        resolve_url(base)


# ---------------------------------------------------------------- headers


def test_headers() -> None:
    headers = build_headers(KEY)
    assert headers == {
        "Authorization": f"Bearer {KEY}",
        "X-API-Key": KEY,
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
        "User-Agent": f"litellm-codebuddy/{__version__}",
        "X-Private-Data": "false",
    }


def test_the_official_clients_identity_headers_are_never_sent() -> None:
    headers = {
        k.lower() for k in prepare_request("gpt-5.5", [{"role": "user", "content": "hi"}], {}, KEY, None).headers
    }
    for theirs in ("x-product", "x-ide-type", "x-ide-name", "x-codebuddy-request", "x-agent-intent", "x-user-id"):
        assert theirs not in headers


PROTECTED = {
    "authorization": "Bearer ck_intruder.x",
    "X-API-KEY": "ck_intruder.x",
    "User-Agent": "mine/1",
    "x-private-data": "false",
    "X-Conversation-Id": "mine",
    "x-request-id": "mine",
    "Content-Type": "text/plain",
    "Host": "evil.example",
}


def test_extra_headers_never_replace_the_providers_own(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="litellm_codebuddy.provider.request"):
        headers = build_headers(
            KEY, {**PROTECTED, "X-Trace": "t1"}, private_data=True, conversation="c-1", request_id="r-1"
        )
    assert headers == {
        **build_headers(KEY, private_data=True, conversation="c-1", request_id="r-1"),
        "X-Trace": "t1",
    }
    assert headers["X-API-Key"] == KEY and headers["User-Agent"] == f"litellm-codebuddy/{__version__}"
    assert headers["X-Private-Data"] == "true" and headers["X-Request-ID"] == "r-1"
    for name in PROTECTED:
        assert f"caller's {name} header is not sent" in caplog.text
    assert "ck_intruder" not in caplog.text and "evil.example" not in caplog.text


def test_extra_headers_of_the_call_never_replace_the_key() -> None:
    prep = prepare_request(
        "gpt-5.5",
        [{"role": "user", "content": "hi"}],
        {"extra_headers": {"x-api-key": "ck_intruder.x"}},
        KEY,
        None,
        {"Authorization": "Bearer ck_intruder.x", "X-Mine": "1"},
    )
    assert prep.headers["X-API-Key"] == KEY and prep.headers["Authorization"] == f"Bearer {KEY}"
    assert prep.headers["X-Mine"] == "1" and "ck_intruder" not in json.dumps(prep.headers)


def test_redacted_headers() -> None:
    shown = redacted_headers(build_headers(KEY))
    assert KEY not in json.dumps(shown)
    assert shown["Content-Type"] == "application/json"


# ---------------------------------------------------------------- messages


def test_system_injected_when_missing() -> None:
    assert normalise_messages([{"role": "user", "content": "hi"}]) == [SYS, {"role": "user", "content": "hi"}]


def test_several_systems_merged_in_order_and_moved_to_front() -> None:
    msgs = [
        {"role": "user", "content": "u1"},
        {"role": "system", "content": "first"},
        {"role": "assistant", "content": "a1"},
        {"role": "developer", "content": "second"},
        {"role": "user", "content": "u2"},
        {"role": "system", "content": [{"type": "text", "text": "third"}]},
    ]
    assert normalise_messages(msgs) == [
        {"role": "system", "content": "first\n\nsecond\n\nthird"},
        {"role": "user", "content": "u1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "u2"},
    ]


def test_developer_sent_as_system() -> None:
    out = normalise_messages([{"role": "developer", "content": "be terse"}, {"role": "user", "content": "x"}])
    assert out[0] == {"role": "system", "content": "be terse"}
    assert all(m["role"] != "developer" for m in out)


def test_consecutive_assistants_merged() -> None:
    out = normalise_messages(
        [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "part one"},
            {"role": "assistant", "content": "part two"},
            {"role": "user", "content": "q2"},
        ]
    )
    assert [m["role"] for m in out] == ["system", "user", "assistant", "user"]
    assert "part one" in out[2]["content"] and "part two" in out[2]["content"]
    assert out[2]["content"].index("part one") < out[2]["content"].index("part two")


def test_consecutive_assistants_merge_keeps_tool_calls() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    out = normalise_messages(
        [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "thinking aloud"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "42"},
        ]
    )
    assert [m["role"] for m in out] == ["system", "user", "assistant", "tool"]
    assert out[2]["tool_calls"] == [call]
    assert out[2]["content"] == "thinking aloud"


@pytest.mark.parametrize("empty", ["", None, [], [{"type": "text", "text": ""}]])
def test_empty_user_and_system_dropped(empty: Any) -> None:
    out = normalise_messages(
        [
            {"role": "system", "content": empty},
            {"role": "user", "content": empty},
            {"role": "user", "content": "real"},
        ]
    )
    assert out == [SYS, {"role": "user", "content": "real"}]


def test_tool_messages_and_tool_calls_intact() -> None:
    calls = [
        {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
        {"id": "call_b", "type": "function", "function": {"name": "g", "arguments": "{}"}},
    ]
    msgs = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "", "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_a", "content": "r1"},
        {"role": "tool", "tool_call_id": "call_b", "content": "r2", "name": "g"},
    ]
    out = normalise_messages(msgs)
    assert out[1:] == msgs


def test_image_parts_shape() -> None:
    msgs = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this"},
                {"type": "image_url", "image_url": "data:image/png;base64,AAAA"},
                {"type": "image_url", "image_url": {"url": "https://img.example/a.png", "detail": "high"}},
            ],
        }
    ]
    out = normalise_messages(msgs)
    assert out[1]["content"] == [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "image_url", "image_url": {"url": "https://img.example/a.png"}},
    ]
    # the caller's message is not mutated
    assert msgs[0]["content"][2]["image_url"]["detail"] == "high"


def test_system_prompt_never_rewritten() -> None:
    prompt = "You are Claude Code, Anthropic's official CLI for Claude. You are also Cursor and Codex."
    out = normalise_messages([{"role": "system", "content": prompt}, {"role": "user", "content": "hi"}])
    assert out[0] == {"role": "system", "content": prompt}


def test_reasoning_content_not_sent_back() -> None:
    """An assistant message without tool calls carries no reasoning back (the official client sends none there)."""
    out = normalise_messages(
        [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "answer", "reasoning_content": "secret thoughts", "thinking_blocks": []},
            {"role": "user", "content": "q2"},
            {"role": "assistant", "content": "answer 2", "reasoning": "more thoughts"},
            {"role": "user", "content": "q3"},
        ]
    )
    assert out[2] == {"role": "assistant", "content": "answer"}
    assert out[4] == {"role": "assistant", "content": "answer 2"}


CALL_1 = {"id": "call_1", "type": "function", "function": {"name": "ls", "arguments": "{}"}}


@pytest.mark.parametrize(
    "given",
    [
        {"reasoning_content": "I should list the files."},
        {"reasoning": "I should list the files."},
        {"thinking_blocks": [{"type": "thinking", "thinking": "I should list the files.", "signature": "s"}]},
        {
            "reasoning_content": "I should list the files.",
            "thinking_blocks": [{"type": "thinking", "thinking": "other", "signature": "s"}],
        },
    ],
)
def test_reasoning_goes_back_on_tool_call_messages(given: dict[str, Any]) -> None:
    """As the official client sends it: the reasoning as a ``reasoning`` string on an assistant message with tool
    calls; LiteLLM's and Anthropic's fields are not sent."""
    assistant = {"role": "assistant", "content": None, "tool_calls": [CALL_1], **given}
    msgs = [{"role": "user", "content": "q"}, assistant, {"role": "tool", "tool_call_id": "call_1", "content": "a.py"}]
    out = normalise_messages(msgs)
    assert out[2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [CALL_1],
        "reasoning": "I should list the files.",
    }
    assert assistant == {"role": "assistant", "content": None, "tool_calls": [CALL_1], **given}  # not modified


def test_reasoning_already_as_sent_is_the_callers_object() -> None:
    assistant = {"role": "assistant", "content": None, "tool_calls": [CALL_1], "reasoning": "think"}
    out = normalise_messages([{"role": "user", "content": "q"}, assistant])
    assert out[2] is assistant


def test_redacted_thinking_alone_sends_no_reasoning() -> None:
    assistant = {"role": "assistant", "tool_calls": [CALL_1], "thinking_blocks": [{"type": "redacted_thinking"}]}
    out = normalise_messages([{"role": "user", "content": "q"}, assistant])
    assert out[2] == {"role": "assistant", "tool_calls": [CALL_1]}


def test_merged_assistants_keep_the_reasoning_of_their_tool_calls() -> None:
    out = normalise_messages(
        [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "Let me look.", "reasoning_content": "plain"},
            {"role": "assistant", "content": None, "tool_calls": [CALL_1], "reasoning_content": "look at files"},
        ]
    )
    assert out[2] == {
        "role": "assistant",
        "content": "Let me look.",
        "tool_calls": [CALL_1],
        "reasoning": "look at files",
    }


def test_order_of_the_rest_unchanged() -> None:
    msgs = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}"} for i in range(9)]
    assert normalise_messages(msgs)[1:] == msgs


@pytest.mark.parametrize(
    "messages",
    [
        [],
        "hi",
        [{"role": "robot", "content": "x"}],
        [{"role": "user", "content": 5}],
        [{"role": "user", "content": "q"}, {"role": "tool", "tool_call_id": "nope", "content": "r"}],
    ],
)
def test_invalid_messages_rejected(messages: Any) -> None:
    with pytest.raises(litellm.BadRequestError):
        prepare_request("gpt-5.5", messages, {}, KEY, None)


# ---------------------------------------------------------------- parameters


def body(**params: Any) -> dict[str, Any]:
    return build_body("gpt-5.5", [{"role": "user", "content": "hi"}], params)


def test_stream_always_true_with_usage() -> None:
    for params in ({}, {"stream": False}, {"stream_options": {"include_usage": False}}, {"stream": True}):
        b = body(**params)
        assert b["stream"] is True
        assert b["stream_options"] == {"include_usage": True}


def test_forwarded_params() -> None:
    params = {
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 100,
        "stop": ["END"],
        "seed": 7,
        "parallel_tool_calls": False,
        "user": "u-1",
    }
    b = body(**params)
    for key, value in params.items():
        assert b[key] == value


def test_litellm_keys_not_sent() -> None:
    b = body(max_retries=3, num_retries=2, stream=False, timeout=5, api_key=KEY, extra_headers={"a": "b"}, metadata={})
    for key in ("max_retries", "num_retries", "timeout", "api_key", "extra_headers", "metadata"):
        assert key not in b
    assert KEY not in json.dumps(b)


@pytest.mark.parametrize("off", ["none", "off", "None", "OFF"])
def test_reasoning_effort_off_dropped(off: str) -> None:
    assert "reasoning_effort" not in body(reasoning_effort=off)


def test_reasoning_effort_forwarded() -> None:
    assert body(reasoning_effort="high")["reasoning_effort"] == "high"


def test_reasoning_object_lifted() -> None:
    b = body(reasoning={"effort": "low"})
    assert b["reasoning_effort"] == "low"
    assert "reasoning" not in b


def test_extra_body_sent_top_level() -> None:
    b = body(extra_body={"reasoning_effort": "medium", "custom_flag": 1})
    assert b["reasoning_effort"] == "medium"
    assert b["custom_flag"] == 1
    assert "extra_body" not in b


def test_model_sent_as_is() -> None:
    assert body()["model"] == "gpt-5.5"
    assert build_body("some/odd:model-id", [{"role": "user", "content": "x"}], {})["model"] == "some/odd:model-id"


# ---------------------------------------------------------------- tools


def test_named_tool_choice_becomes_required_with_only_that_tool() -> None:
    tools = [tool("a"), tool("b"), tool("c")]
    out, choice = prepare_tools(tools, {"type": "function", "function": {"name": "b"}})
    assert choice == "required"
    assert [t["function"]["name"] for t in out or []] == ["b"]


@pytest.mark.parametrize("choice", ["auto", "required"])
def test_string_tool_choice_kept(choice: str) -> None:
    b = body(tools=[tool("a"), tool("b")], tool_choice=choice)
    assert b["tool_choice"] == choice
    assert len(b["tools"]) == 2


def test_tool_choice_none_sends_no_tools() -> None:
    """The gateway ignores ``"none"`` while tools are sent: neither the tools nor the choice go."""
    b = build_body("gpt-5.5", [{"role": "user", "content": "hi"}], {"tools": [tool("a")], "tool_choice": "none"})
    assert "tools" not in b and "tool_choice" not in b
    b = build_body("gpt-5.5", [{"role": "user", "content": "hi"}], {"tool_choice": "none"})
    assert "tools" not in b and "tool_choice" not in b
    with pytest.raises(litellm.BadRequestError):
        build_body("gpt-5.5", [{"role": "user", "content": "hi"}], {"tools": [{"x": 1}], "tool_choice": "none"})


@pytest.mark.parametrize("choice", ["banana", "", "AUTO", 7, ["auto"], True])
def test_a_tool_choice_the_gateway_cannot_take_is_a_bad_request(choice: Any) -> None:
    with pytest.raises(litellm.BadRequestError, match="tool_choice must be"):
        build_body("gpt-5.5", [{"role": "user", "content": "hi"}], {"tools": [tool("a")], "tool_choice": choice})


def test_named_tool_choice_unknown_tool() -> None:
    with pytest.raises(litellm.BadRequestError):
        prepare_tools([tool("a")], {"type": "function", "function": {"name": "zzz"}})


SCHEMA_WITH_REFS = {
    "type": "object",
    "$defs": {
        "Address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
            "required": ["city"],
        },
        "Named": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
        "Node": {
            "type": "object",
            "properties": {
                "value": {"type": "integer"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
            },
        },
    },
    "definitions": {"Zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
    "properties": {
        "home": {"$ref": "#/$defs/Address", "description": "where they live"},
        "zip": {"$ref": "#/definitions/Zip"},
        "person": {"allOf": [{"$ref": "#/$defs/Named"}, {"properties": {"age": {"type": "integer"}}}]},
        "tree": {"$ref": "#/$defs/Node"},
    },
}


def _keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in _keys(v)}
    return set()


def test_schema_inlined() -> None:
    out = inline_schema(SCHEMA_WITH_REFS)
    assert not {"$ref", "$defs", "definitions", "allOf"} & _keys(out)
    props = out["properties"]
    assert props["home"]["properties"]["city"] == {"type": "string"}
    assert props["home"]["required"] == ["city"]
    assert props["home"]["description"] == "where they live"
    assert props["zip"] == {"type": "string", "pattern": "^[0-9]{5}$"}
    assert set(props["person"]["properties"]) == {"name", "age"}
    assert props["person"]["required"] == ["name"]
    # recursion is cut, not followed forever
    tree = props["tree"]
    assert tree["properties"]["value"] == {"type": "integer"}
    assert tree["properties"]["children"]["items"] == {"type": "object"}
    json.dumps(out)  # finite
    # the caller's schema is untouched
    assert "$defs" in SCHEMA_WITH_REFS and "$ref" in SCHEMA_WITH_REFS["properties"]["home"]


def test_recursive_root_ref_cut() -> None:
    schema = {"type": "object", "properties": {"self": {"$ref": "#"}, "n": {"type": "integer"}}}
    out = inline_schema(schema)
    assert "$ref" not in _keys(out)
    json.dumps(out)


def test_tools_in_body_inlined() -> None:
    b = body(tools=[tool("t", SCHEMA_WITH_REFS)])
    params = b["tools"][0]["function"]["parameters"]
    assert not {"$ref", "$defs", "definitions", "allOf"} & _keys(params)
    assert "city" in params["properties"]["home"]["properties"]


def test_schema_without_refs_is_the_same_object() -> None:
    plain = {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string"}}}}
    assert inline_schema(plain) is plain
    assert inline_schema({"type": "string"}) == {"type": "string"}


def test_inlining_copies_only_the_paths_it_changes() -> None:
    untouched = {"type": "object", "properties": {"x": {"type": "integer"}}}
    schema = {
        "type": "object",
        "$defs": {"Zip": {"type": "string"}},
        "properties": {"plain": untouched, "zip": {"$ref": "#/$defs/Zip"}, "list": {"type": "array"}},
    }
    before = copy.deepcopy(schema)
    out = inline_schema(schema)
    assert out is not schema and out["properties"] is not schema["properties"]
    assert out["properties"]["plain"] is untouched  # shared, not copied
    assert out["properties"]["list"] is schema["properties"]["list"]
    assert out["properties"]["zip"] == {"type": "string"}
    assert "$defs" not in out
    assert schema == before  # the caller's schema is untouched


def test_tools_forwarded_as_they_are_unless_changed() -> None:
    plain, with_ref = tool("plain", {"type": "object"}), tool("refs", SCHEMA_WITH_REFS)
    untyped = {"function": {"name": "untyped"}}
    before = copy.deepcopy([plain, with_ref, untyped])
    out, _ = prepare_tools([plain, with_ref, untyped], None)
    assert out is not None
    assert out[0] is plain
    assert out[1] is not with_ref and "$defs" not in out[1]["function"]["parameters"]
    assert out[1]["function"]["description"] == "refs tool"
    assert out[2] == {"type": "function", "function": {"name": "untyped"}}
    assert [plain, with_ref, untyped] == before


# ---------------------------------------------------------------- the whole request


def test_prepare_request_repr_hides_key() -> None:
    prep = prepare_request("gpt-5.5", [{"role": "user", "content": "x"}], {}, KEY, None)
    assert KEY not in repr(prep)
    assert prep.url == "https://www.codebuddy.ai/v2/chat/completions"
    assert prep.headers["X-API-Key"] == KEY


def test_prepare_request_checks_key_before_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    # the key is resolved (by the handler) before the request is built: with none, nothing else happens
    with pytest.raises(litellm.AuthenticationError):
        codebuddy_llm.completion(model="gpt-5.5", messages=[{"role": "user", "content": "x"}], optional_params={})


def test_unchanged_messages_are_the_callers_own_objects() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    user = {
        "role": "user",
        "content": [{"type": "text", "text": "see"}, {"type": "image_url", "image_url": {"url": "u"}}],
    }
    assistant = {"role": "assistant", "content": None, "tool_calls": [call]}
    result = {"role": "tool", "tool_call_id": "c1", "content": "ok"}
    out = normalise_messages([{"role": "system", "content": "s"}, user, assistant, result])
    assert out[1] is user and out[2] is assistant and out[3] is result


def test_changed_messages_are_new_and_the_callers_are_untouched() -> None:
    messages = [
        {"role": "system", "content": "s1"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://i/a.png", "detail": "low"}}]},
        {"role": "assistant", "content": "a", "reasoning_content": "r", "thinking_blocks": [{"type": "thinking"}]},
        {"role": "assistant", "content": "b"},
        {"role": "developer", "content": [{"type": "text", "text": "s2"}]},
        {"role": "user", "content": ""},
        {"role": "user", "content": [{"type": "text", "text": "t"}, {"type": "image_url", "image_url": "data:x"}]},
    ]
    before = copy.deepcopy(messages)
    out = normalise_messages(messages)
    assert messages == before
    assert out[1] is not messages[1] and out[1]["content"][0] == {
        "type": "image_url",
        "image_url": {"url": "https://i/a.png"},
    }
    assert out[2] == {"role": "assistant", "content": "a\nb"}
    assert out[3]["content"][0] is messages[6]["content"][0]  # the text part is shared, the list is new
    assert out[3]["content"][1] == {"type": "image_url", "image_url": {"url": "data:x"}}


def test_prepare_request_leaves_the_callers_objects_as_they_were() -> None:
    tools = [tool("refs", SCHEMA_WITH_REFS), tool("plain")]
    messages = [
        {"role": "developer", "content": "rules"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://i/a.png", "detail": "high"}}]},
        {"role": "assistant", "content": "x", "reasoning_content": "r"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function", "function": {}}]},
        {"role": "tool", "tool_call_id": "c", "content": "done"},
    ]
    params = {"tools": tools, "tool_choice": {"type": "function", "function": {"name": "refs"}}, "temperature": 0}
    before = copy.deepcopy((messages, params))
    prep = prepare_request("gpt-5.5", messages, params, KEY, None)
    assert (messages, params) == before
    assert json.loads(prep.encoded.content) == prep.body


# ---------------------------------------------------------------- the bytes sent


def test_body_serialised_once_with_each_message_in_place() -> None:
    messages = [
        {"role": "user", "content": 'héllo ✓ "quoted" 🚀'},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function", "function": {}}]},
        {"role": "tool", "tool_call_id": "c", "content": "r"},
    ]
    prep = prepare_request("gpt-5.5", messages, {"tools": [tool("t")], "temperature": 0.5}, KEY, None)
    enc = prep.encoded
    assert enc.content == json.dumps(prep.body, separators=(",", ":")).encode()
    assert enc.content.isascii()
    assert [json.loads(bytes(v)) for v in enc.message_json()] == prep.body["messages"]
    tools_json = enc.tools_json()
    assert tools_json is not None and json.loads(bytes(tools_json)) == prep.body["tools"]
    assert prepare_request("gpt-5.5", messages, {}, KEY, None).encoded.tools_json() is None


def test_encode_body_of_any_shape() -> None:
    for body in ({}, {"messages": []}, {"model": "m", "messages": [{"a": 1}], "x": [1, 2]}):
        enc = encode_body(body)
        assert json.loads(enc.content) == body
        assert len(enc.message_spans) == len(body.get("messages", []))
        more = enc.appended("prompt_cache_key", "cb-1")
        assert json.loads(more.content) == {**body, "prompt_cache_key": "cb-1"}
        assert [bytes(v) for v in more.message_json()] == [bytes(v) for v in enc.message_json()]


def test_a_body_json_cannot_hold_is_a_bad_request() -> None:
    with pytest.raises(litellm.BadRequestError) as info:
        prepare_request("gpt-5.5", [{"role": "user", "content": "x"}], {"temperature": object()}, KEY, None)
    assert "JSON" in str(info.value)
    assert KEY not in str(info.value)
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(litellm.BadRequestError):
        prepare_request("gpt-5.5", [{"role": "user", "content": "x"}], {"response_format": loop}, KEY, None)


def test_the_json_encoder_with_and_without_c(monkeypatch: pytest.MonkeyPatch) -> None:
    from litellm_codebuddy.provider import request

    value = {"a": [1, 2.5, None, True, 'é\n"x"'], "b": {"c": float("inf")}}
    expected = json.dumps(value, separators=(",", ":"))
    assert request._json_encoder()(value) == expected
    monkeypatch.setattr(json.encoder, "c_make_encoder", None)
    assert request._json_encoder()(value) == expected


def test_the_body_forwards_unchanged_objects_as_they_are() -> None:
    plain_tool, user = tool("plain"), {"role": "user", "content": "hi"}
    params = {"tools": [plain_tool], "stop": ["END", "STOP"], "metadata_for_gateway": {"a": [1, 2]}}
    b = build_body("gpt-5.5", [user], params)
    assert b["messages"][1] is user
    assert b["tools"][0] is plain_tool
    assert b["stop"] is params["stop"] and b["metadata_for_gateway"] is params["metadata_for_gateway"]


def test_a_schema_nested_too_deeply_is_a_bad_request() -> None:
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(5000):
        deep = {"type": "object", "properties": {"x": deep}}
    with pytest.raises(litellm.BadRequestError) as info:
        prepare_tools([tool("deep", deep)], None)
    assert "tools[0]" in str(info.value)


# ---------------------------------------------------------------- the privacy opt-out


@pytest.mark.parametrize(
    ("call_value", "deployment_value", "env", "expected"),
    [
        (None, None, None, False),
        (True, None, None, True),
        ("true", None, None, True),
        (None, True, None, True),
        (None, "yes", None, True),
        (None, None, "1", True),
        (None, None, "true", True),
        (False, True, None, True),  # an opt-out anywhere wins: a caller cannot opt the deployment back in
        (False, None, "true", True),
        (None, False, "on", True),
        (False, False, "0", False),
        ("maybe", None, None, False),
        (None, None, "maybe", False),
    ],
)
def test_the_privacy_switch(
    monkeypatch: pytest.MonkeyPatch, call_value: Any, deployment_value: Any, env: str | None, expected: bool
) -> None:
    if env is not None:
        monkeypatch.setenv(PRIVATE_DATA_ENV, env)
    assert private_data(call_value, deployment_value) is expected


def test_private_data_header(mode: str, ok_route: respx.Route, monkeypatch: pytest.MonkeyPatch) -> None:
    """``X-Private-Data: false`` unless opted out (per call, or for the process); the setting is not in the body."""
    call(mode)
    call(mode, private_data=True)
    monkeypatch.setenv(PRIVATE_DATA_ENV, "true")
    call(mode)
    sent = [ok_route.calls[n].request for n in range(3)]
    assert [r.headers["x-private-data"] for r in sent] == ["false", "true", "true"]
    assert all("private_data" not in json.loads(r.content) for r in sent)


@pytest.mark.parametrize("stream", [False, True])
def test_router_deployment_opts_out(ok_route: respx.Route, stream: bool) -> None:
    """A deployment's ``private_data: true`` (a line of its litellm_params, as in proxy_team.yaml), or a caller's."""
    router = litellm.Router(
        model_list=[
            {"model_name": "open", "litellm_params": {"model": "codebuddy/gpt-5.5", "api_key": KEY}},
            {
                "model_name": "private",
                "litellm_params": {"model": "codebuddy/gpt-5.5", "api_key": KEY, "private_data": True},
            },
        ]
    )

    async def run(model: str, **kw: Any) -> None:
        resp = await router.acompletion(model=model, messages=[{"role": "user", "content": "hi"}], stream=stream, **kw)
        if stream:
            async for _ in resp:  # type: ignore[union-attr]
                pass

    asyncio.run(run("open"))
    asyncio.run(run("private"))
    asyncio.run(run("open", private_data=True))
    sent = [ok_route.calls[n].request for n in range(3)]
    assert [r.headers["x-private-data"] for r in sent] == ["false", "true", "true"]
    assert all("private_data" not in json.loads(r.content) for r in sent)
