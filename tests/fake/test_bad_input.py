"""Bad input: refused before anything is sent, with an error that says what is wrong.

Every case runs on the four paths against the fake and proves that not one connection reached it. Where LiteLLM
itself looks at the input before the provider does, the tests pin what the caller really gets:

* ``messages`` that is ``None``, not a list, or a list holding non-objects: LiteLLM's
  ``validate_and_fix_openai_messages`` fails first, with a bare ``TypeError``/``AttributeError`` on the sync paths
  and an ``APIConnectionError`` wrapping it on the async paths; a content that is neither text nor a list (``42``)
  fails in LiteLLM's ``update_messages_with_model_file_ids`` as an ``APIConnectionError``. Nothing is sent;
* a message without ``role`` is turned into an ``assistant`` message by LiteLLM;
* ``tools`` that is not a list (or holds non-objects) is reduced to ``[]`` by LiteLLM's
  ``validate_and_fix_openai_tools``: the provider never sees the bad value, so the call goes out without tools.
  The provider's own check is proven by handing it the bad value directly (``extra_body`` and the handler).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import litellm
import pytest

import litellm_codebuddy  # noqa: F401  (registers the provider)
from fake_codebuddy import FakeCodeBuddy
from litellm_codebuddy import codebuddy_llm

MODEL = "codebuddy/gpt-5.5"
KEY = "ck_test.key"
PATHS = ("sync", "sync_stream", "async", "async_stream")
USER = [{"role": "user", "content": "hi"}]
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCodeBuddy]:
    with FakeCodeBuddy() as server:
        yield server


@pytest.fixture(params=PATHS)
def path(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def call(path: str, **kw: Any) -> Any:
    kw.setdefault("model", MODEL)
    kw.setdefault("messages", USER)
    kw.setdefault("api_key", KEY)
    if path == "sync":
        return litellm.completion(**kw)
    if path == "sync_stream":
        return list(litellm.completion(stream=True, **kw))

    async def run() -> Any:
        if path == "async":
            return await litellm.acompletion(**kw)
        stream = await litellm.acompletion(stream=True, **kw)
        return [chunk async for chunk in stream]

    return asyncio.run(run())


def refused(
    path: str, fake: FakeCodeBuddy, expected: type[BaseException] | tuple[type[BaseException], ...], **kw: Any
) -> BaseException:
    """The call fails with ``expected`` and the fake saw no connection at all."""
    before = fake.connections_total
    with pytest.raises(Exception) as info:
        call(path, api_base=fake.base_url, **kw)
    assert isinstance(info.value, expected), f"{path}: got {type(info.value).__name__}: {info.value}"
    assert fake.connections_total == before, f"{path}: something was sent to the gateway"
    return info.value


# ------------------------------------------------------------------------------------------------ messages


@pytest.mark.parametrize(
    ("messages", "words"),
    [
        ([], "messages is empty"),
        ([{"role": "wizard", "content": "hi"}], "unknown role 'wizard'"),
        ([{"role": "user"}], "messages[0]: a user message needs content"),
        ([{"role": "system"}, {"role": "user", "content": "hi"}], "messages[0]: a system message needs content"),
        ([{"role": "user", "content": "hi"}, {"role": "assistant"}], "needs content or tool_calls"),
        (
            [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "call_9", "content": "sunny"}],
            "tool_call_id 'call_9' has no matching assistant tool call",
        ),
        (
            [{"role": "user", "content": "hi"}, {"role": "tool", "content": "sunny"}],
            "a tool message needs a tool_call_id",
        ),
        (
            [
                {"role": "user", "content": "hi"},
                {"role": "tool", "tool_call_id": "call_1", "content": "too early"},
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "call_1", "type": "function", "function": TOOL["function"]}],
                },
            ],
            "tool_call_id 'call_1' has no matching assistant tool call before it",
        ),
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}], "an image_url part needs a URL"),
    ],
    ids=[
        "empty",
        "unknown-role",
        "user-no-content",
        "system-no-content",
        "assistant-no-content",
        "tool-result-no-call",
        "tool-no-call-id",
        "tool-result-before-call",
        "image-without-url",
    ],
)
def test_bad_messages(path: str, fake: FakeCodeBuddy, messages: list[Any], words: str) -> None:
    exc = refused(path, fake, litellm.BadRequestError, messages=messages)
    assert words in str(exc)
    assert getattr(exc, "status_code", None) == 400


@pytest.mark.parametrize(
    "messages",
    [
        None,
        "hi",
        {"role": "user", "content": "hi"},
        ["hi"],
        [{"role": "user", "content": "hi"}, 7],
        [{"role": "user", "content": 42}],
    ],
    ids=["none", "string", "one-dict", "list-of-strings", "list-with-int", "content-int"],
)
def test_messages_litellm_refuses_first(path: str, fake: FakeCodeBuddy, messages: Any) -> None:
    """LiteLLM iterates ``messages`` before the provider runs: not a clean BadRequestError, but nothing is sent."""
    exc = refused(
        path, fake, (TypeError, AttributeError, litellm.BadRequestError, litellm.APIConnectionError), messages=messages
    )
    assert "object" in str(exc) or "messages" in str(exc)


def test_the_provider_checks_messages_itself(fake: FakeCodeBuddy) -> None:
    """Where LiteLLM lets them through (other entry points, other versions), the provider's own check answers."""
    before = fake.connections_total
    for messages, words in [
        (None, "messages is missing"),
        ("hi", "messages must be a list, got str"),
        (["hi"], "messages[0] must be an object"),
        ([{"role": "user", "content": 42}], "messages[0].content must be a string or a list of parts"),
    ]:
        with pytest.raises(litellm.BadRequestError, match=words.replace("[", r"\[").replace("]", r"\]")):
            codebuddy_llm.completion(
                model="gpt-5.5", messages=messages, api_key=KEY, api_base=fake.base_url, optional_params={}
            )
    assert fake.connections_total == before  # nothing was sent


# ------------------------------------------------------------------------------------------------ tools


@pytest.mark.parametrize(
    ("tools", "words"),
    [
        ([{"type": "function", "function": {"parameters": {}}}], "tools[0].function.name must be a non-empty string"),
        ([{"type": "function", "function": {"name": ""}}], "tools[0].function.name must be a non-empty string"),
        ([{"type": "function", "function": {"name": "f", "parameters": "{}"}}], "parameters must be a JSON schema"),
        ([{"type": "function", "function": {"name": "f", "parameters": []}}], "parameters must be a JSON schema"),
        ([{"type": "function"}], "tools[0] must be"),
        ([{"type": "retrieval", "function": {"name": "f"}}], "tools[0] must be"),
        ([TOOL, {"type": "function", "function": "get_weather"}], "tools[1] must be"),
    ],
    ids=["no-name", "empty-name", "params-string", "params-list", "no-function", "not-function", "function-str"],
)
def test_malformed_tools(path: str, fake: FakeCodeBuddy, tools: list[Any], words: str) -> None:
    exc = refused(path, fake, litellm.BadRequestError, tools=tools)
    assert words in str(exc)


def test_tool_choice_naming_a_missing_tool(path: str, fake: FakeCodeBuddy) -> None:
    choice = {"type": "function", "function": {"name": "nope"}}
    exc = refused(path, fake, litellm.BadRequestError, tools=[TOOL], tool_choice=choice)
    assert "'nope'" in str(exc)


@pytest.mark.parametrize("tools", [{"type": "function", "function": TOOL["function"]}, "get_weather", [1, "x"]])
def test_tools_not_a_list_never_sent_malformed(path: str, fake: FakeCodeBuddy, tools: Any) -> None:
    """LiteLLM (``validate_and_fix_openai_tools``) reduces these to ``[]`` before the provider sees them; the call
    then goes out without tools. If a LiteLLM release passes them on, the provider refuses them (nothing sent)."""
    before = len(fake.requests)
    try:
        call(path, api_base=fake.base_url, tools=tools)
    except litellm.BadRequestError as exc:
        assert "tools" in str(exc)
        assert len(fake.requests) == before
        return
    sent = fake.requests[-1].body
    assert "tools" not in sent, f"malformed tools were sent: {sent.get('tools')!r}"


def test_tools_not_a_list_refused_by_the_provider(path: str, fake: FakeCodeBuddy) -> None:
    """``extra_body`` reaches the provider untouched by LiteLLM: there the provider's own check answers."""
    exc = refused(path, fake, litellm.BadRequestError, extra_body={"tools": {"type": "function"}})
    assert "tools must be a list" in str(exc)


# ------------------------------------------------------------------------------------------------ model, base, key


@pytest.mark.parametrize("model", ["codebuddy/", "codebuddy/   "])
def test_empty_model_id(path: str, fake: FakeCodeBuddy, model: str) -> None:
    exc = refused(path, fake, litellm.BadRequestError, model=model)
    assert "model id is empty" in str(exc)


@pytest.mark.parametrize(
    "api_base", ["ftp://127.0.0.1/v2", "127.0.0.1:8080/v2", "www.codebuddy.ai/v2", "http://", "file:///etc/passwd"]
)
def test_api_base_not_http(path: str, fake: FakeCodeBuddy, api_base: str) -> None:
    before = fake.connections_total
    with pytest.raises(litellm.BadRequestError) as info:
        call(path, api_base=api_base)
    assert "api_base must be an http(s) URL" in str(info.value)
    assert fake.connections_total == before


@pytest.mark.parametrize(
    "key",
    [
        "ck_abc.def\r\nX-Injected: 1",
        "ck_abc.def\n",
        "ck_abc.def\r",
        "ck_abc .def",
        "ck_abc.def\t",
        " ck_abc.def",
        "ck_abc.def\x00",
        "ck_abc.def\x7f",
    ],
    ids=["crlf-header", "lf", "cr", "space", "tab", "leading-space", "nul", "del"],
)
def test_key_with_whitespace_or_control_chars(path: str, fake: FakeCodeBuddy, key: str) -> None:
    exc = refused(path, fake, litellm.AuthenticationError, api_key=key)
    assert "whitespace, CR/LF or control characters" in str(exc)
    assert key.strip() not in str(exc)  # the key is not shown


def test_key_from_env_with_trailing_newline(path: str, fake: FakeCodeBuddy, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commonest real case: ``export CODEBUDDY_API_KEY=$(cat key.txt)`` keeps nothing, but a .env file may."""
    monkeypatch.setenv("CODEBUDDY_API_KEY", "ck_fromenv.secret\n")
    before = fake.connections_total
    with pytest.raises(litellm.AuthenticationError) as info:
        call(path, api_base=fake.base_url, api_key=None)
    assert "ck_fromenv.secret" not in str(info.value)
    assert fake.connections_total == before


def test_no_key_at_all(path: str, fake: FakeCodeBuddy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CODEBUDDY_API_KEY", raising=False)
    exc = refused(path, fake, litellm.AuthenticationError, api_key=None)
    assert "no API key" in str(exc)
