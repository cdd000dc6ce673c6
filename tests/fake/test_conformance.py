"""The behaviours LiteLLM checks of every chat provider (its ``BaseLLMChatTest``), as our own tests against the fake.

LiteLLM's conformance class runs each chat provider through the same list: content given as a list of parts,
pydantic ``Message`` objects, a message with a ``name``, the ``developer`` role, image URLs (remote, ``data:``,
a bare string, with ``detail``), documents and files, audio, tool calls (empty ``tools``, a call without
arguments, a tool result), streaming, raw-request capture (``litellm.utils.return_raw_request``), usage (prompt,
completion, cached and reasoning tokens; plain and streamed alike), prompt caching, cost, ``response_format`` and
``reasoning_effort``. Each is here, on the paths it concerns, against ``codebuddy/gpt-5.5`` on the fake. Where a
check does not apply to CodeBuddy (the gateway takes no documents, files or audio; it enforces no
``response_format``; it bills in credits, not per token), the test pins what the caller gets instead: a clear
error before anything is sent, or the documented behaviour (docs/sdk.md, "LiteLLM's provider behaviours").
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import litellm
import pytest
from litellm.types.utils import CallTypes
from pydantic import BaseModel

import litellm_codebuddy  # noqa: F401  (registers the provider)
from fake_codebuddy import FakeCodeBuddy

from support.upstream import KEY, MODEL, MODES, STREAM_MODES, call, raised

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode()
PDF = "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n").decode()
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    },
}
REASONING = {"reasoning_effort": "low", "allowed_openai_params": ["reasoning_effort"]}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCodeBuddy]:
    with FakeCodeBuddy() as server:
        yield server


@pytest.fixture(params=MODES)
def path(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def ask(path: str, fake: FakeCodeBuddy, messages: list[Any], **kw: Any) -> Any:
    """One call on ``path`` against the fake (streams rebuilt with ``stream_chunk_builder``)."""
    return call(path, messages=messages, api_base=fake.base_url, **kw)


def refused_before_sending(path: str, fake: FakeCodeBuddy, messages: list[Any], **kw: Any) -> BaseException:
    """The call is a ``BadRequestError`` (HTTP 400) and not one connection reached the fake."""
    before = fake.connections_total
    exc = raised(path, litellm.BadRequestError, messages=messages, api_base=fake.base_url, **kw)
    assert getattr(exc, "status_code", None) == 400
    assert fake.connections_total == before, "something was sent to the gateway"
    return exc


def plausible(usage: Any) -> None:
    """What LiteLLM's ``_usage_format_tests`` asks of every usage: the parts add up to the total, and the cached
    part is a part of the prompt (our fake reads a repeated prompt whole from its cache, so it may be all of it)."""
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    details = usage.prompt_tokens_details
    if details is not None and details.cached_tokens is not None:
        assert 0 <= details.cached_tokens <= usage.prompt_tokens


# ------------------------------------------------------------------------------------------------ messages


def test_content_list_handling(path: str, fake: FakeCodeBuddy) -> None:
    result = ask(path, fake, [{"role": "user", "content": [{"type": "text", "text": "Hello, how are you?"}]}])
    assert result.content == "Echo: Hello, how are you?"
    assert fake.requests[-1].body["messages"][1]["content"] == [{"type": "text", "text": "Hello, how are you?"}]


def test_pydantic_message_input(path: str, fake: FakeCodeBuddy) -> None:
    result = ask(path, fake, [litellm.Message(content="Hello, how are you?", role="user")])
    assert result.content == "Echo: Hello, how are you?"


def test_message_with_name(path: str, fake: FakeCodeBuddy) -> None:
    result = ask(path, fake, [{"role": "user", "content": "Hello", "name": "test_name"}])
    assert result.content == "Echo: Hello"
    assert fake.requests[-1].body["messages"][1]["name"] == "test_name"  # extra message keys go as they are


def test_developer_role_becomes_the_system_message(fake: FakeCodeBuddy) -> None:
    messages = [
        {"role": "developer", "content": "Be a good bot!"},
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
    ]
    result = ask("sync", fake, messages)
    assert result.content == "Echo: Hi"
    assert fake.requests[-1].body["messages"][0] == {"role": "system", "content": "Be a good bot!"}


def test_streaming_chunks_share_one_created_time(fake: FakeCodeBuddy) -> None:
    chunks = list(
        litellm.completion(
            model=MODEL,
            messages=[{"role": "user", "content": [{"type": "text", "text": "one two three"}]}],
            api_key=KEY,
            api_base=fake.base_url,
            stream=True,
        )
    )
    assert len({chunk.created for chunk in chunks}) == 1
    built = litellm.stream_chunk_builder(chunks=chunks)
    assert built is not None and built.choices[0].message.content == "Echo: one two three"


# ------------------------------------------------------------------------------------------------ images


@pytest.mark.parametrize("detail", [None, "low", "high"])
@pytest.mark.parametrize(
    "url", ["http://img.example.com/cat.jpg", "https://img.example.com/cat.png", f"data:image/png;base64,{PNG}"]
)
def test_image_url(fake: FakeCodeBuddy, url: str, detail: str | None) -> None:
    image: dict[str, Any] = {"url": url} if detail is None else {"url": url, "detail": detail}
    content = [{"type": "text", "text": "What's in this image?"}, {"type": "image_url", "image_url": image}]
    result = ask("sync", fake, [{"role": "user", "content": content}])
    assert result.content == "Echo: What's in this image? [images: 1]"
    sent = fake.requests[-1].body["messages"][1]["content"][1]
    assert sent == {"type": "image_url", "image_url": {"url": url}}  # the gateway's exact shape: no detail


def test_image_url_string(path: str, fake: FakeCodeBuddy) -> None:
    content = [
        {"type": "text", "text": "What's in this image?"},
        {"type": "image_url", "image_url": "https://a.example/b.png"},
    ]
    result = ask(path, fake, [{"role": "user", "content": content}])
    assert result.content == "Echo: What's in this image? [images: 1]"
    assert fake.requests[-1].body["messages"][1]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "https://a.example/b.png"},
    }


# ------------------------------------------------------------------------------------------------ parts refused


#: LiteLLM 1.110's own refusal of a PDF for a model whose ``supports_pdf_input`` is False (1.108 leaves it to us)
LITELLM_REFUSES_PDF = "does not accept PDF input"


@pytest.mark.parametrize(
    ("part", "named"),
    [
        ({"type": "file", "file": {"file_data": PDF}}, "'file'"),
        ({"type": "file", "file": {"file_id": "https://files.example/dummy.pdf"}}, "'file'"),
        ({"type": "file", "file": {"file_id": "gs://bucket/file.wav", "filename": "audio"}}, "'file'"),
        (
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
            "'document'",
        ),
        ({"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}, "'input_audio'"),
        ({"type": "audio_url", "audio_url": {"url": "https://a.example/a.wav"}}, "'audio_url'"),
        ({"type": "video_url", "video_url": {"url": "https://a.example/v.mp4"}}, "'video_url'"),
    ],
    ids=["pdf-data", "pdf-file-id", "audio-file-id", "document", "input-audio", "audio-url", "video-url"],
)
def test_parts_the_gateway_cannot_take_are_refused(path: str, fake: FakeCodeBuddy, part: Any, named: str) -> None:
    """The gateway answers 11101 to these (docs/gateway.md#content-parts): refused before sending, naming the part."""
    content = [{"type": "text", "text": "What's this file about?"}, part]
    exc = refused_before_sending(path, fake, [{"role": "user", "content": content}])
    if LITELLM_REFUSES_PDF in str(exc):  # LiteLLM 1.110 refuses a PDF itself, from the catalog's supports_pdf_input
        return
    assert "messages[0].content[1]:" in str(exc) and named in str(exc)
    assert "text and image_url" in str(exc)


# ------------------------------------------------------------------------------------------------ tools


def test_empty_tools(path: str, fake: FakeCodeBuddy) -> None:
    result = ask(path, fake, [{"role": "user", "content": "Hello, how are you?"}], tools=[])
    assert result.content == "Echo: Hello, how are you?"
    assert "tools" not in fake.requests[-1].body


def test_tool_call_with_property_type_array(fake: FakeCodeBuddy) -> None:
    shoe = {
        "type": "function",
        "function": {
            "name": "shoe_get_id",
            "parameters": {
                "type": "object",
                "properties": {"shoe_id": {"type": ["string", "number"], "description": "The shoe ID or name"}},
                "required": ["shoe_id"],
                "additionalProperties": False,
                "$schema": "http://json-schema.org/draft-07/schema#",
            },
        },
    }
    result = ask("sync", fake, [{"role": "user", "content": "Which shoe?"}], tools=[shoe])
    assert result.finish_reason == "tool_calls" and result.tool_calls[0]["name"] == "shoe_get_id"
    assert fake.requests[-1].body["tools"][0]["function"]["parameters"] == shoe["function"]["parameters"]


def test_tool_call_no_arguments(path: str, fake: FakeCodeBuddy) -> None:
    """An assistant turn whose call has ``{}`` for arguments and ``""`` for content, then its result."""
    faq = {"type": "function", "function": {"name": "Get-FAQ", "parameters": {"type": "object", "properties": {}}}}
    messages = [
        {"role": "user", "content": "What's in the FAQ?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "call_2c384bc6", "function": {"name": "Get-FAQ", "arguments": "{}"}, "type": "function"}
            ],
        },
        {"role": "tool", "tool_call_id": "call_2c384bc6", "content": "The FAQ is empty."},
    ]
    result = ask(path, fake, messages, tools=[faq])
    assert result.content == "Tool results: The FAQ is empty."
    sent = fake.requests[-1].body["messages"]
    assert sent[2]["tool_calls"][0]["function"] == {"name": "Get-FAQ", "arguments": "{}"}


def test_basic_tool_calling_round_trip(path: str, fake: FakeCodeBuddy) -> None:
    """A call comes back in ``tool_calls`` (not in the content), finished ``tool_calls``; its result goes back."""
    messages: list[Any] = [{"role": "user", "content": "What's the weather like in Boston today in fahrenheit?"}]
    first = ask(path, fake, messages, tools=[WEATHER])
    assert first.finish_reason == "tool_calls"
    assert [c["name"] for c in first.tool_calls] == ["get_current_weather"]
    assert json.loads(first.tool_calls[0]["arguments"]) == {"location": "test"}
    assert not first.content
    messages.append(first.response.choices[0].message.model_dump())
    messages.append(
        {"role": "tool", "tool_call_id": first.tool_calls[0]["id"], "name": "get_current_weather", "content": "72F"}
    )
    second = ask(path, fake, messages, tools=[WEATHER])
    assert second.content == "Tool results: 72F"


def test_streamed_tool_calls_sent_back_as_objects(fake: FakeCodeBuddy) -> None:
    """The stream's own tool-call objects (pydantic, arguments joined by the caller) go back in the next turn."""
    messages: list[Any] = [{"role": "user", "content": "How is the weather in Mumbai?"}]
    calls: dict[int, Any] = {}
    stream = litellm.completion(
        model=MODEL, messages=messages, tools=[WEATHER], stream=True, api_key=KEY, api_base=fake.base_url
    )
    for chunk in stream:
        for piece in chunk.choices[0].delta.tool_calls or []:
            if piece.index in calls:
                calls[piece.index].function.arguments += piece.function.arguments
            else:
                calls[piece.index] = piece
    assert [c.function.name for c in calls.values()] == ["get_current_weather"]
    for made in calls.values():
        messages.append({"role": "assistant", "tool_calls": [made], "content": None})
        messages.append({"role": "tool", "tool_call_id": made.id, "content": "Sunny, 34 C"})
    result = ask("sync", fake, messages, tools=[WEATHER])
    assert result.content == "Tool results: Sunny, 34 C"
    sent = fake.requests[-1].body["messages"][2]["tool_calls"][0]
    assert sent["function"] == {"name": "get_current_weather", "arguments": '{"location": "test"}'}


# ------------------------------------------------------------------------------------------------ raw request


def test_return_raw_request_sends_nothing(fake: FakeCodeBuddy) -> None:
    """``return_raw_request`` (and the proxy's ``/utils/transform_request``, which calls it) stops at LiteLLM's
    pre-call log: the request as it would go, the key redacted, and not one byte sent."""
    before = fake.connections_total
    raw = litellm.utils.return_raw_request(
        endpoint=CallTypes.completion,
        kwargs={"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "api_base": fake.base_url},
    )
    assert fake.connections_total == before, "return_raw_request sent a request upstream"
    assert raw.get("error") is None
    assert raw["raw_request_api_base"] == f"{fake.base_url}/chat/completions"
    body = raw["raw_request_body"]
    assert body["model"] == "gpt-5.5" and body["stream"] is True
    assert body["messages"] == [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "hi"},
    ]
    headers = raw["raw_request_headers"]
    assert set(headers) >= {"Authorization", "X-API-Key", "User-Agent"}
    assert "my-fake-api-key" not in json.dumps(raw)  # the placeholder key LiteLLM passes is redacted


def test_return_raw_request_of_a_file_part_is_the_error(fake: FakeCodeBuddy) -> None:
    """Where LiteLLM's check looks for the PDF's bytes in the captured request, ours has the reason it is refused."""
    before = fake.connections_total
    content = [{"type": "text", "text": "What's this file about?"}, {"type": "file", "file": {"file_data": PDF}}]
    raw = litellm.utils.return_raw_request(
        endpoint=CallTypes.completion,
        kwargs={"model": MODEL, "messages": [{"role": "user", "content": content}], "api_base": fake.base_url},
    )
    assert fake.connections_total == before
    assert "raw_request_body" not in raw
    error = str(raw["error"])
    assert "a 'file' part cannot be sent" in error or LITELLM_REFUSES_PDF in error


# ------------------------------------------------------------------------------------------------ usage and cost


def test_usage_format(path: str, fake: FakeCodeBuddy) -> None:
    """The gateway's own thin usage (``total_tokens`` and ``credit``) and its full one both give OpenAI's shape."""
    for text in ("Hello, how are you?", "Hello, how are you? FAKE:usage=full"):
        plausible(ask(path, fake, [{"role": "user", "content": text}]).usage)


def test_usage_reports_every_figure_the_gateway_gives(path: str, fake: FakeCodeBuddy) -> None:
    usage = ask(path, fake, [{"role": "user", "content": "hello there FAKE:usage=full FAKE:cached=7"}]).usage
    plausible(usage)
    assert usage.prompt_tokens_details.cached_tokens == 7
    assert usage.completion_tokens_details.reasoning_tokens == 0


def test_reasoning_content_and_reasoning_tokens(path: str, fake: FakeCodeBuddy) -> None:
    """The gateway's full usage carries ``reasoning_tokens``: they reach the caller on every path."""
    result = ask(path, fake, [{"role": "user", "content": "Hello! FAKE:usage=full"}], **REASONING)
    assert result.reasoning == "Thinking about: Hello!"
    assert result.usage.completion_tokens_details.reasoning_tokens > 0
    plausible(result.usage)


@pytest.mark.parametrize("mode", MODES)
def test_reasoning_tokens_in_plain_usage_as_in_streamed(mode: str, fake: FakeCodeBuddy) -> None:
    """With the gateway's thin usage (total and credit only) a plain answer reports its reasoning tokens as a
    streamed one does (LiteLLM's stream builder counts them from the reasoning text)."""
    result = ask(mode, fake, [{"role": "user", "content": "Hello!"}], **REASONING)
    assert result.reasoning == "Thinking about: Hello!"
    details = result.usage.completion_tokens_details
    assert details is not None and details.reasoning_tokens > 0


def test_completion_tokens_never_exceed_what_the_answer_could_hold(path: str, fake: FakeCodeBuddy) -> None:
    """A ``max_tokens=16`` answer cannot hold more than 16 completion tokens, whatever the prompt's size (with the
    thin usage and no prompt-cache hit, completion is the gateway's total minus a local count of the prompt)."""
    tools = [
        {"type": "function", "function": {"name": f"tool_{i}", "description": "word " * 200, "parameters": {}}}
        for i in range(5)
    ]
    result = ask(
        path,
        fake,
        [{"role": "user", "content": "hi " * 2000}],
        tools=tools,
        tool_choice="none",
        max_tokens=16,
        auto_prompt_cache_key=False,
    )
    assert result.usage.completion_tokens <= 16
    plausible(result.usage)


def test_prompt_caching(fake: FakeCodeBuddy, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same long conversation twice (with Anthropic-style cache marks): the second reads its prompt from the
    cache, its ``cached_tokens`` say so and it costs less."""
    monkeypatch.setenv("CODEBUDDY_CREDIT_COST", "0.01")
    legal = "Here is the full text of a complex legal agreement 7f3c " * 400
    messages = [
        {"role": "system", "content": [{"type": "text", "text": legal, "cache_control": {"type": "ephemeral"}}]},
        {"role": "user", "content": [{"type": "text", "text": "Key terms?", "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": "The contract is 1 year long for $10/mo"},
        {"role": "user", "content": [{"type": "text", "text": "Key terms?", "cache_control": {"type": "ephemeral"}}]},
    ]
    first = ask("sync", fake, messages, max_tokens=16).response
    second = ask("sync", fake, messages, max_tokens=16).response
    assert second._hidden_params["response_cost"] < first._hidden_params["response_cost"]
    plausible(second.usage)
    assert second.usage.prompt_tokens_details.cached_tokens > 0


def test_response_cost_is_the_credits_at_the_credit_cost(
    path: str, fake: FakeCodeBuddy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CodeBuddy bills in credits: with ``CODEBUDDY_CREDIT_COST`` the response's cost is credits x that price, on
    every path (LiteLLM's ``response_cost``). ``litellm.completion_cost`` prices tokens, which cost 0.0 each, on
    LiteLLM 1.108; from 1.110 it takes the usage's own ``cost`` when there is one, the same figure."""
    monkeypatch.setenv("CODEBUDDY_CREDIT_COST", "0.5")
    result = ask(path, fake, [{"role": "user", "content": "Hello, how are you?"}])
    response = result.response
    if path in STREAM_MODES:  # the credit rides on a chunk's provider_specific_fields (docs/credits-and-limits.md)
        credit = response.choices[0].message.provider_specific_fields["credit"]
        assert response.usage.cost == pytest.approx(credit * 0.5)
    else:
        credit = response.usage.credit
        assert response._hidden_params["response_cost"] == pytest.approx(credit * 0.5)
    assert credit > 0
    priced = litellm.completion_cost(completion_response=response)
    assert priced == 0.0 or priced == pytest.approx(credit * 0.5)


def test_without_a_credit_cost_the_response_cost_is_zero(fake: FakeCodeBuddy) -> None:
    response = ask("async", fake, [{"role": "user", "content": "Hello, how are you?"}]).response
    assert response._hidden_params["response_cost"] == 0.0
    assert response.usage.credit > 0  # what the call cost, in the gateway's unit


# ------------------------------------------------------------------------------------------------ parameters


class Answer(BaseModel):
    first_response: str


@pytest.mark.parametrize(
    "response_format",
    [{"type": "json_object"}, Answer, {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}],
    ids=["json-object", "pydantic", "json-schema"],
)
def test_response_format_is_refused_not_pretended(path: str, fake: FakeCodeBuddy, response_format: Any) -> None:
    """The gateway does not enforce ``response_format`` (docs/sdk.md#response_format-and-logprobs): LiteLLM's
    ``UnsupportedParamsError`` (a 400) naming it, before anything is sent; with ``drop_params`` the call goes."""
    exc = refused_before_sending(
        path, fake, [{"role": "user", "content": "JSON please"}], response_format=response_format
    )
    assert isinstance(exc, litellm.UnsupportedParamsError) and "response_format" in str(exc)
    assert litellm.utils.supports_response_schema(MODEL, None) is False
    result = ask(
        path, fake, [{"role": "user", "content": "JSON please"}], response_format=response_format, drop_params=True
    )
    assert result.content == "Echo: JSON please"
    assert "response_format" not in fake.requests[-1].body


def test_response_format_text_with_tools_is_harmless(path: str, fake: FakeCodeBuddy) -> None:
    result = ask(
        path, fake, [{"role": "user", "content": "Weather?"}], response_format={"type": "text"}, tools=[WEATHER]
    )
    assert result.finish_reason == "tool_calls"
    assert "response_format" not in fake.requests[-1].body


def test_reasoning_effort_is_sent(fake: FakeCodeBuddy) -> None:
    result = ask("sync", fake, [{"role": "user", "content": "Hello!"}], **REASONING)
    assert result.content == "Echo: Hello!"
    body = fake.requests[-1].body
    assert body["reasoning_effort"] == "low" and body["reasoning_summary"] == "auto"
