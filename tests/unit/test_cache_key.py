"""The prompt-cache key: the caller's is forwarded as it is; without one, a key derived per conversation (stable
from turn to turn, different across conversations and API keys, holding no prompt text and no part of the key),
unless turned off per call, per deployment or for the process."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import litellm
import pytest
import respx

from litellm_codebuddy.provider.cache_key import AUTO_CACHE_KEY_ENV, auto_cache_key, conversation_id, derive_cache_key
from litellm_codebuddy.provider.params import Policy
from litellm_codebuddy.provider.request import prepare_request

from support.upstream import KEY, MODEL, call, sent_body

OTHER_KEY = "ck_other.AnotherSecretValue"
SYSTEM = "You are a careful coding agent. Follow the repository's conventions."
TOOLS = [{"type": "function", "function": {"name": "read_file", "parameters": {"type": "object"}}}]
CALL = {"id": "call_1", "type": "function", "function": {"name": "read_file", "arguments": '{"path": "a.py"}'}}


def turns(opening: str = "Fix the failing test in a.py") -> list[list[dict[str, Any]]]:
    """Three turns of one agent conversation, each the whole history so far (the newest text carries Anthropic's
    cache mark, which clients move to the newest message on every turn)."""
    first = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": opening}]
    second = [*first, {"role": "assistant", "content": None, "tool_calls": [CALL]}]
    second.append({"role": "tool", "tool_call_id": "call_1", "content": "def f(): return 1"})
    third = [*second, {"role": "assistant", "content": "f returns 1."}, {"role": "user", "content": "Now fix it."}]
    marked = []
    for history in (first, second, third):
        last = dict(history[-1])
        last["content"] = [{"type": "text", "text": str(last["content"]), "cache_control": {"type": "ephemeral"}}]
        marked.append([*history[:-1], last])
    return marked


def key_for(messages: list[dict[str, Any]], api_key: str = KEY, model: str = "gpt-5.5", **params: Any) -> Any:
    params.setdefault("tools", TOOLS)
    body = prepare_request(model, messages, params, api_key, None).body
    return body.get("prompt_cache_key")


def test_stable_from_turn_to_turn() -> None:
    keys = {key_for(history) for history in turns()}
    assert len(keys) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"opening": "Add a test for b.py"},
        {"api_key": OTHER_KEY},
        {"model": "claude-sonnet-4.6"},
        {"system": "You are a terse reviewer."},
        {"tools": [{"type": "function", "function": {"name": "write_file", "parameters": {"type": "object"}}}]},
    ],
)
def test_different_conversations_and_keys_differ(change: dict[str, Any]) -> None:
    history = turns(change.pop("opening", "Fix the failing test in a.py"))[1]
    if "system" in change:
        history = [{"role": "system", "content": change.pop("system")}, *history[1:]]
    assert key_for(history, **change) != key_for(turns()[1])


def test_holds_no_text_and_no_key() -> None:
    key = key_for(turns()[2])
    assert re.fullmatch(r"cb-[0-9a-f]{32}", key)
    for secret in (KEY, KEY.split(".")[1], "ck_unit123", "Fix", "careful", "read_file"):
        assert secret not in key


def test_derive_is_deterministic_and_keyed() -> None:
    body = {"model": "m", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]}
    assert derive_cache_key(KEY, body) == derive_cache_key(KEY, dict(body))
    assert derive_cache_key(KEY, body) != derive_cache_key(OTHER_KEY, body)


def test_the_key_from_the_tools_as_sent_is_the_key_of_the_body() -> None:
    """The request derives the key from the tools' encoded bytes (not serialising them again): the same key as
    from the body alone."""
    prep = prepare_request("gpt-5.5", turns()[1], {"tools": TOOLS}, KEY, None)
    body = {k: v for k, v in prep.body.items() if k != "prompt_cache_key"}
    assert prep.body["prompt_cache_key"] == derive_cache_key(KEY, body)
    assert derive_cache_key(KEY, body) != derive_cache_key(KEY, {**body, "tools": TOOLS * 2})


def test_the_callers_key_is_forwarded_as_it_is() -> None:
    assert key_for(turns()[0], prompt_cache_key="session-42") == "session-42"
    assert key_for(turns()[0], extra_body={"prompt_cache_key": "from-extra"}) == "from-extra"
    assert key_for(turns()[0], prompt_cache_key="") == key_for(turns()[0])  # empty: as if none was given


def test_a_key_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(litellm.BadRequestError, match="prompt_cache_key must be a string"):
        key_for(turns()[0], prompt_cache_key=42)


@pytest.mark.parametrize(
    ("call_value", "deployment_value", "env", "expected"),
    [
        (None, None, None, True),
        (False, None, None, False),
        ("off", None, None, False),
        (None, False, None, False),
        (None, "false", None, False),
        (True, False, None, True),
        (None, None, "0", False),
        (None, None, "off", False),
        (True, None, "0", True),
        (None, None, "maybe", True),
        ("maybe", None, "0", False),
    ],
)
def test_the_switch(
    monkeypatch: pytest.MonkeyPatch, call_value: Any, deployment_value: Any, env: str | None, expected: bool
) -> None:
    if env is not None:
        monkeypatch.setenv(AUTO_CACHE_KEY_ENV, env)
    assert auto_cache_key(call_value, deployment_value) is expected


def test_off_sends_no_key() -> None:
    body = prepare_request("gpt-5.5", turns()[0], {}, KEY, None, policy=Policy(auto_cache_key=False)).body
    assert "prompt_cache_key" not in body
    body = prepare_request("gpt-5.5", turns()[0], {"prompt_cache_key": "mine"}, KEY, None, policy=Policy(False)).body
    assert body["prompt_cache_key"] == "mine"  # the caller's own key is always sent


# ---------------------------------------------------------------- through LiteLLM


def test_derived_on_every_path(mode: str, ok_route: respx.Route) -> None:
    for history in turns():
        call(mode, messages=history, tools=TOOLS)
    keys = {sent_body(ok_route, n)["prompt_cache_key"] for n in range(3)}
    assert len(keys) == 1 and keys.pop().startswith("cb-")


def test_callers_key_on_every_path(mode: str, ok_route: respx.Route) -> None:
    call(mode, prompt_cache_key="conv-7")
    assert sent_body(ok_route)["prompt_cache_key"] == "conv-7"


def test_switched_off_per_call(mode: str, ok_route: respx.Route) -> None:
    call(mode, auto_prompt_cache_key=False)
    body = sent_body(ok_route)
    assert "prompt_cache_key" not in body and "auto_prompt_cache_key" not in body


def test_switched_off_for_the_process(mode: str, ok_route: respx.Route, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(AUTO_CACHE_KEY_ENV, "0")
    call(mode)
    assert "prompt_cache_key" not in sent_body(ok_route)


@pytest.mark.parametrize("stream", [False, True])
def test_router_forwards_the_key_and_the_deployment_switch(ok_route: respx.Route, stream: bool) -> None:
    """A Router deployment can turn the derived key off in its litellm_params; a caller's key still goes through."""
    router = litellm.Router(
        model_list=[
            {"model_name": "on", "litellm_params": {"model": MODEL, "api_key": KEY}},
            {"model_name": "off", "litellm_params": {"model": MODEL, "api_key": KEY, "auto_prompt_cache_key": False}},
        ]
    )

    async def run(model: str, **kw: Any) -> None:
        resp = await router.acompletion(model=model, messages=turns()[0], stream=stream, **kw)
        if stream:
            async for _ in resp:  # type: ignore[union-attr]
                pass

    asyncio.run(run("on"))
    asyncio.run(run("off"))
    asyncio.run(run("off", prompt_cache_key="given"))
    bodies = [sent_body(ok_route, n) for n in range(3)]
    assert bodies[0]["prompt_cache_key"].startswith("cb-")
    assert "prompt_cache_key" not in bodies[1] and "auto_prompt_cache_key" not in bodies[1]
    assert bodies[2]["prompt_cache_key"] == "given"


# ---------------------------------------------------------------- the conversation's X-Conversation-ID


UUID_SHAPE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def headers_for(messages: list[dict[str, Any]], api_key: str = KEY, **params: Any) -> dict[str, str]:
    params.setdefault("tools", TOOLS)
    policy = Policy(auto_cache_key=params.pop("auto", True))
    return prepare_request("gpt-5.5", messages, params, api_key, None, policy=policy).headers


def test_one_conversation_id_per_conversation() -> None:
    """Derived as the cache key is (keyed by the API key): the same on every turn, UUID-shaped, and different for
    another conversation or key; the caller's cache key names the conversation when there is one."""
    ids = {headers_for(history)["X-Conversation-ID"] for history in turns()}
    assert len(ids) == 1
    first = ids.pop()
    assert UUID_SHAPE.match(first)
    assert headers_for(turns("Another task")[0])["X-Conversation-ID"] != first
    assert headers_for(turns()[0], OTHER_KEY)["X-Conversation-ID"] != first
    given = {headers_for(history, prompt_cache_key="session-9")["X-Conversation-ID"] for history in turns()}
    assert len(given) == 1 and given.pop() not in (first, headers_for(turns()[0], prompt_cache_key="session-8"))
    # without a cache key (switched off) the conversation still has its id, the derived one
    assert {headers_for(history, auto=False)["X-Conversation-ID"] for history in turns()} == {first}
    assert conversation_id(KEY, "cb-0") == conversation_id(KEY, "cb-0") != conversation_id(OTHER_KEY, "cb-0")
    assert KEY not in first and "session" not in conversation_id(KEY, "session-9")


def test_a_new_request_id_per_call() -> None:
    ids = [headers_for(turns()[0])["X-Request-ID"] for _ in range(3)]
    assert len(set(ids)) == 3 and all(UUID_SHAPE.match(i) for i in ids)
    prep = prepare_request("gpt-5.5", turns()[0], {}, KEY, None, request_id="r-given")
    assert prep.headers["X-Request-ID"] == "r-given"


def test_a_lone_surrogate_still_gets_a_key() -> None:
    """The derivation itself never fails on text that is not valid Unicode (a lone surrogate): a request holding one
    is a BadRequestError naming the field before any key is derived (tests/unit/test_properties.py)."""
    body = {"model": "gpt-5.5", "messages": [{"role": "user", "content": "broken \ud800 text"}], "tools": TOOLS}
    assert derive_cache_key(KEY, body).startswith("cb-")
    with pytest.raises(litellm.BadRequestError, match=r"messages\[0\]\.content holds a lone surrogate"):
        key_for([{"role": "user", "content": "broken \ud800 text"}])


def test_correlation_headers_on_every_path(mode: str, ok_route: respx.Route) -> None:
    for history in turns():
        call(mode, messages=history, tools=TOOLS)
    sent = [ok_route.calls[n].request.headers for n in range(3)]
    assert len({h["x-conversation-id"] for h in sent}) == 1
    assert len({h["x-request-id"] for h in sent}) == 3
