"""Hostile requests to the shipped proxy, and what each one gets: one list, read by the end-to-end test that sends
them (``tests/proxy/test_doors.py``) and by ``docs/generate.py`` (the ``hostile`` table in docs/errors.md).

Each case is sent as raw bytes to the real proxy (``proxy_config.yaml`` as shipped) in front of the fake; the test
checks the status, the error type and a piece of the message, that no traceback or server path is in the body,
and, for a case answered before the Router, that nothing reached the gateway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["CASES", "GOOD", "Case"]

MODEL = "codebuddy/gpt-5.5"
CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
RESPONSES = "/v1/responses"
#: the ``auth`` value that stands for the proxy's master key
MASTER = "master"


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _chat(**fields: Any) -> bytes:
    return _json({"model": MODEL, **fields})


def _messages(**fields: Any) -> bytes:
    return _json({"model": MODEL, "max_tokens": 50, **fields})


def _user(content: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": content}]


@dataclass(frozen=True)
class Case:
    id: str
    front: str  # the route
    what: str  # what the client sends, for the table
    body: bytes
    status: int  # what the client gets
    error_type: str  # ``error.type`` of the answer
    says: str  # a piece of the answer's message
    auth: str | None = MASTER  # MASTER, None (no header) or the header's literal value
    header: str = "Authorization"
    before_router: bool = True  # answered before any deployment is chosen (nothing reaches the gateway)
    by: str = "the doors"  # who answers: the doors (this package's hook), LiteLLM, or the provider


GOOD_CHAT = _chat(messages=_user("hello"))
#: a well-formed request per front-end (the test sends them first, and again after the cases)
GOOD = {
    CHAT: GOOD_CHAT,
    MESSAGES: _messages(messages=_user("hello")),
    RESPONSES: _json({"model": MODEL, "input": "hello"}),
}

CASES: tuple[Case, ...] = (
    # ---- the key
    Case(
        "no-key",
        CHAT,
        "no `Authorization` header",
        GOOD_CHAT,
        401,
        "auth_error",
        "No api key passed in",
        None,
        by="LiteLLM",
    ),
    Case(
        "empty-bearer",
        CHAT,
        "`Authorization: Bearer` with no key",
        GOOD_CHAT,
        401,
        "auth_error",
        "Malformed API Key",
        "Bearer",
        by="LiteLLM",
    ),
    Case(
        "not-bearer",
        CHAT,
        "`Authorization: sk-…` without `Bearer`",
        GOOD_CHAT,
        401,
        "auth_error",
        "Malformed API Key",
        "sk-no-scheme",
        by="LiteLLM",
    ),
    Case(
        "wrong-key",
        CHAT,
        "a key that is not the master key",
        GOOD_CHAT,
        401,
        "auth_error",
        "not accepted",
        "Bearer sk-wrong-key",
    ),
    Case(
        "upstream-key",
        CHAT,
        "the CodeBuddy key (`ck_…`) as the proxy key",
        GOOD_CHAT,
        401,
        "auth_error",
        "not accepted",
        "Bearer ck_test.key",
    ),
    Case(
        "messages-wrong-key",
        MESSAGES,
        "`x-api-key` that is not the master key",
        GOOD[MESSAGES],
        401,
        "auth_error",
        "not accepted",
        "sk-wrong-key",
        header="x-api-key",
    ),
    Case(
        "responses-no-key",
        RESPONSES,
        "no `Authorization` header",
        GOOD[RESPONSES],
        401,
        "auth_error",
        "No api key passed in",
        None,
        by="LiteLLM",
    ),
    # ---- the body's shape, chat completions
    Case(
        "messages-string",
        CHAT,
        '`messages: "hi"`',
        _chat(messages="hi"),
        400,
        "invalid_request_error",
        "`messages` must be an array",
    ),
    Case(
        "messages-object",
        CHAT,
        "`messages` an object",
        _chat(messages={"role": "user", "content": "hi"}),
        400,
        "invalid_request_error",
        "`messages` must be an array",
    ),
    Case(
        "messages-numbers",
        CHAT,
        "`messages: [1, 2]`",
        _chat(messages=[1, 2]),
        400,
        "invalid_request_error",
        "`messages[0]` must be a message object",
    ),
    Case(
        "no-role",
        CHAT,
        "a message without `role`",
        _chat(messages=[{"content": "hi"}]),
        400,
        "invalid_request_error",
        "`messages[0].role` must be a string",
    ),
    Case(
        "content-number",
        CHAT,
        "`content: 42`",
        _chat(messages=_user(42)),
        400,
        "invalid_request_error",
        "`messages[0].content` must be a string or an array",
    ),
    Case(
        "content-object",
        CHAT,
        '`content: {"text": "hi"}`',
        _chat(messages=_user({"text": "hi"})),
        400,
        "invalid_request_error",
        "`messages[0].content` must be a string or an array",
    ),
    Case(
        "part-without-type",
        CHAT,
        '`content: [{"text": "hi"}]`',
        _chat(messages=_user([{"text": "hi"}])),
        400,
        "invalid_request_error",
        "`messages[0].content[0].type` must be a string",
    ),
    Case(
        "stream-string",
        CHAT,
        '`stream: "yes"`',
        _chat(messages=_user("hi"), stream="yes"),
        400,
        "invalid_request_error",
        "`stream` must be true or false",
    ),
    Case(
        "no-messages",
        CHAT,
        "no `messages`",
        _chat(),
        400,
        "invalid_request_error",
        "Missing required parameter: 'messages'",
        by="LiteLLM",
    ),
    Case(
        "bad-json",
        CHAT,
        "a body cut in the middle",
        GOOD_CHAT[:20],
        400,
        "invalid_request_error",
        "Invalid JSON payload",
        by="LiteLLM",
    ),
    Case(
        "lone-surrogate-json",
        CHAT,
        r"`\ud800` alone in a JSON string",
        GOOD_CHAT.replace(b"hello", b"a\\ud800b"),
        400,
        "invalid_request_error",
        "Invalid JSON payload",
        by="LiteLLM",
    ),
    Case(
        "body-array",
        CHAT,
        "a JSON array as the body",
        b"[1, 2]",
        500,
        "internal_server_error",
        "Internal server error",
        by="LiteLLM",
    ),
    Case(
        "tools-string",
        CHAT,
        '`tools: "all"`',
        _chat(messages=_user("hi"), tools="all"),
        400,
        "invalid_request_error",
        "tools: Input should be a valid list",
        by="LiteLLM",
    ),
    Case(
        "max-tokens-negative",
        CHAT,
        "`max_tokens: -5`",
        _chat(messages=_user("hi"), max_tokens=-5),
        400,
        "invalid_request_error",
        "max_tokens must be a positive integer",
        before_router=False,
        by="the provider",
    ),
    # ---- the body's shape, Anthropic messages (Claude Code)
    Case(
        "anthropic-messages-string",
        MESSAGES,
        '`messages: "hi"`',
        _messages(messages="hi"),
        400,
        "invalid_request_error",
        "`messages` must be an array",
    ),
    Case(
        "anthropic-content-number",
        MESSAGES,
        "`content: 42`",
        _messages(messages=_user(42)),
        400,
        "invalid_request_error",
        "`messages[0].content` must be a string or an array",
    ),
    Case(
        "anthropic-system-number",
        MESSAGES,
        "`system: 42`",
        _messages(system=42, messages=_user("hi")),
        400,
        "invalid_request_error",
        "`system` must be a string or an array",
    ),
    Case(
        "anthropic-no-max-tokens",
        MESSAGES,
        "no `max_tokens`",
        _json({"model": MODEL, "messages": _user("hi")}),
        400,
        "invalid_request_error",
        "Missing required parameter: 'max_tokens'",
        by="LiteLLM",
    ),
    Case(
        "anthropic-bad-json",
        MESSAGES,
        "a body cut in the middle",
        GOOD[MESSAGES][:20],
        400,
        "invalid_request_error",
        "Invalid JSON payload",
        by="LiteLLM",
    ),
    # ---- the body's shape, Responses (Codex CLI)
    Case(
        "input-number",
        RESPONSES,
        "`input: 42`",
        _json({"model": MODEL, "input": 42}),
        400,
        "invalid_request_error",
        "`input` must be a string or an array",
    ),
    Case(
        "input-numbers",
        RESPONSES,
        "`input: [1, 2]`",
        _json({"model": MODEL, "input": [1, 2]}),
        400,
        "invalid_request_error",
        "`input[0]` must be an input item object",
    ),
    Case(
        "input-content-number",
        RESPONSES,
        "an input item with `content: 42`",
        _json({"model": MODEL, "input": _user(42)}),
        400,
        "invalid_request_error",
        "`input[0].content` must be a string or an array",
    ),
    Case(
        "responses-bad-json",
        RESPONSES,
        "a body cut in the middle",
        GOOD[RESPONSES][:20],
        400,
        "invalid_request_error",
        "Invalid JSON payload",
        by="LiteLLM",
    ),
    # ---- a client's own credentials
    Case(
        "client-api-key",
        CHAT,
        "`api_key` in the body",
        _chat(messages=_user("hi"), api_key="ck_client.key"),
        400,
        "invalid_request_error",
        "`api_key` is not allowed in the request body",
    ),
    Case(
        "anthropic-client-api-key",
        MESSAGES,
        "`api_key` in the body",
        _messages(messages=_user("hi"), api_key="ck_client.key"),
        400,
        "invalid_request_error",
        "`api_key` is not allowed in the request body",
    ),
    Case(
        "responses-client-api-key",
        RESPONSES,
        "`api_key` in the body",
        _json({"model": MODEL, "input": "hi", "api_key": "ck_client.key"}),
        400,
        "invalid_request_error",
        "`api_key` is not allowed in the request body",
    ),
    Case(
        "client-api-base",
        CHAT,
        "`api_base` in the body",
        _chat(messages=_user("hi"), api_base="http://127.0.0.1:9/v2"),
        401,
        "auth_error",
        "api_base is not allowed in request body",
        by="LiteLLM",
    ),
)
