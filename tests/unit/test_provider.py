"""The four call paths through ``litellm.completion`` / ``litellm.acompletion`` against a respx upstream."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import litellm
import pytest
import respx

import litellm_codebuddy
from litellm_codebuddy import __version__, codebuddy_llm
from litellm_codebuddy.provider.request import DEFAULT_SYSTEM_PROMPT

from support.upstream import (
    FULL_USAGE,
    KEY,
    MODES,
    SSE_HEADERS,
    URL,
    USER,
    call,
    event,
    ok_response,
    raised,
    sent_body,
    sse,
    sse_event,
)

# ---------------------------------------------------------------- basic answer


def test_plain_answer(mode: str, ok_route: respx.Route) -> None:
    result = call(mode)
    assert result.content == "Hello world"
    assert result.finish_reason == "stop"
    assert result.tool_calls == []
    assert ok_route.call_count == 1


# ---------------------------------------------------------------- key


def test_key_from_argument(mode: str, ok_route: respx.Route, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEBUDDY_API_KEY", "ck_env.other")
    call(mode, api_key=KEY)
    assert ok_route.calls.last.request.headers["x-api-key"] == KEY


def test_key_from_env(mode: str, ok_route: respx.Route, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEBUDDY_API_KEY", "ck_env.value")
    call(mode, api_key=None)
    assert ok_route.calls.last.request.headers["x-api-key"] == "ck_env.value"
    assert ok_route.calls.last.request.headers["authorization"] == "Bearer ck_env.value"


def test_missing_key(mode: str, upstream: respx.MockRouter) -> None:
    route = upstream.route().mock(return_value=ok_response())
    with pytest.raises(litellm.AuthenticationError) as info:
        call(mode, api_key=None)
    assert "CODEBUDDY_API_KEY" in str(info.value)
    assert "https://www.codebuddy.ai/console/api-keys" in str(info.value)
    assert route.call_count == 0


@pytest.mark.parametrize("bad", ["ck_a b.c", "ck_abc.def\n", "ck_abc.def\r\n", "ck_abc\r.def"])
def test_key_with_space_or_newline(mode: str, upstream: respx.MockRouter, bad: str) -> None:
    route = upstream.route().mock(return_value=ok_response())
    with pytest.raises(litellm.AuthenticationError) as info:
        call(mode, api_key=bad)
    assert route.call_count == 0
    assert bad.strip() not in str(info.value)


# ---------------------------------------------------------------- base


@pytest.mark.parametrize(
    "base",
    [
        "https://gw.example/v2",
        "https://gw.example/v2/",
        "https://gw.example/v2/chat/completions",
        "https://gw.example/v2/chat/completions/",
    ],
)
def test_api_base_argument(mode: str, upstream: respx.MockRouter, base: str) -> None:
    route = upstream.post("https://gw.example/v2/chat/completions").mock(return_value=ok_response())
    call(mode, api_base=base)
    assert route.call_count == 1


def test_api_base_from_env(mode: str, upstream: respx.MockRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEBUDDY_API_BASE", "http://env-gw.example/base/")
    route = upstream.post("http://env-gw.example/base/chat/completions").mock(return_value=ok_response())
    call(mode)
    assert route.call_count == 1


def test_api_base_argument_beats_env(mode: str, upstream: respx.MockRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEBUDDY_API_BASE", "http://env-gw.example/base")
    route = upstream.post("https://arg-gw.example/v9/chat/completions").mock(return_value=ok_response())
    call(mode, api_base="https://arg-gw.example/v9")
    assert route.call_count == 1


def test_default_base(mode: str, ok_route: respx.Route) -> None:
    call(mode)
    assert str(ok_route.calls.last.request.url) == "https://www.codebuddy.ai/v2/chat/completions"


@pytest.mark.parametrize("base", ["ftp://gw.example/v2", "gw.example/v2", "file:///tmp/x"])
def test_api_base_not_http(mode: str, upstream: respx.MockRouter, base: str) -> None:
    route = upstream.route().mock(return_value=ok_response())
    with pytest.raises(litellm.BadRequestError):
        call(mode, api_base=base)
    assert route.call_count == 0


# ---------------------------------------------------------------- model, headers, body


@pytest.mark.parametrize("model_id", ["gpt-5.5", "claude-sonnet-4.6", "kimi-k2-unknown", "deepseek-v3.1-terminus"])
def test_model_sent_as_is(mode: str, ok_route: respx.Route, model_id: str) -> None:
    call(mode, model=f"codebuddy/{model_id}")
    assert sent_body(ok_route)["model"] == model_id


def test_headers(mode: str, ok_route: respx.Route) -> None:
    call(mode)
    headers = ok_route.calls.last.request.headers
    assert headers["authorization"] == f"Bearer {KEY}"
    assert headers["x-api-key"] == KEY
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "text/event-stream"
    assert headers["user-agent"] == f"litellm-codebuddy/{__version__}"


def test_extra_headers_on_top(mode: str, ok_route: respx.Route) -> None:
    """A caller's headers go on top of the provider's, which they never replace (docs/gateway.md#own-headers)."""
    call(mode, extra_headers={"User-Agent": "my-app/2.0", "X-Trace-Id": "t-1", "x-api-key": "ck_other.key"})
    headers = ok_route.calls.last.request.headers
    assert headers["user-agent"] == f"litellm-codebuddy/{__version__}"
    assert headers["x-trace-id"] == "t-1"
    assert headers["x-api-key"] == KEY
    assert len(headers.get_list("user-agent")) == len(headers.get_list("x-api-key")) == 1


def test_body_always_streams(mode: str, ok_route: respx.Route) -> None:
    call(mode, stream_options={"include_usage": False}, max_retries=3, num_retries=1)
    body = sent_body(ok_route)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    for key in ("max_retries", "num_retries", "timeout", "api_key", "api_base", "metadata", "extra_headers"):
        assert key not in body


def test_non_stream_false_stream_not_sent(ok_route: respx.Route) -> None:
    litellm.completion(model="codebuddy/gpt-5.5", messages=USER, api_key=KEY, stream=False, num_retries=0)
    body = sent_body(ok_route)
    assert body["stream"] is True
    assert set(body) == {"model", "messages", "stream", "stream_options", "prompt_cache_key", "max_tokens"}


# ---------------------------------------------------------------- messages


def test_system_injected(mode: str, ok_route: respx.Route) -> None:
    call(mode, messages=[{"role": "user", "content": "hi"}])
    assert sent_body(ok_route)["messages"] == [
        {"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
        {"role": "user", "content": "hi"},
    ]


def test_messages_normalised(mode: str, ok_route: respx.Route) -> None:
    call_a = {"id": "call_a", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
    messages = [
        {"role": "user", "content": "u1"},
        {"role": "system", "content": "S1 (You are Claude Code, do not rewrite me)"},
        {"role": "assistant", "content": "a1", "reasoning_content": "hidden"},
        {"role": "assistant", "content": "a2"},
        {"role": "developer", "content": "D2"},
        {"role": "user", "content": ""},
        {"role": "system", "content": ""},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": "data:image/png;base64,AAAA"},
                {"type": "image_url", "image_url": {"url": "https://img.example/p.png", "detail": "low"}},
            ],
        },
        {"role": "assistant", "content": None, "tool_calls": [call_a]},
        {"role": "tool", "tool_call_id": "call_a", "content": "result"},
    ]
    call(mode, messages=messages)
    sent = sent_body(ok_route)["messages"]
    assert sent[0] == {"role": "system", "content": "S1 (You are Claude Code, do not rewrite me)\n\nD2"}
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user", "assistant", "tool"]
    assert sent[1] == {"role": "user", "content": "u1"}
    assert sent[2]["content"] == "a1\na2"
    assert "reasoning_content" not in sent[2]
    assert sent[3]["content"] == [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "image_url", "image_url": {"url": "https://img.example/p.png"}},
    ]
    assert sent[4]["tool_calls"] == [call_a]
    assert sent[5] == {"role": "tool", "tool_call_id": "call_a", "content": "result"}


# ---------------------------------------------------------------- parameters


def test_openai_params_forwarded(mode: str, ok_route: respx.Route) -> None:
    tools = [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}},
        {"type": "function", "function": {"name": "g", "parameters": {"type": "object", "properties": {}}}},
    ]
    params: dict[str, Any] = {
        "temperature": 0.3,
        "top_p": 0.8,
        "max_tokens": 321,
        "stop": ["STOP"],
        "seed": 11,
        "tools": tools,
        "tool_choice": "auto",
        "parallel_tool_calls": False,
    }
    call(mode, **params)
    body = sent_body(ok_route)
    for key, value in params.items():
        assert body[key] == value, key


def test_max_completion_tokens_forwarded(mode: str, ok_route: respx.Route) -> None:
    call(mode, max_completion_tokens=77)
    body = sent_body(ok_route)
    # LiteLLM's OpenAI-like config renames it to max_tokens for custom providers; either way the limit arrives
    assert body.get("max_completion_tokens", body.get("max_tokens")) == 77


def test_user_needs_allowed_params(mode: str, ok_route: respx.Route) -> None:
    call(mode, user="user-42", allowed_openai_params=["user"])
    assert sent_body(ok_route)["user"] == "user-42"


def test_user_is_forwarded_without_allowed_params(mode: str, ok_route: respx.Route) -> None:
    call(mode, user="user-43")
    assert sent_body(ok_route)["user"] == "user-43"


def test_reasoning_effort_with_allowed_params(mode: str, ok_route: respx.Route) -> None:
    call(mode, reasoning_effort="high", allowed_openai_params=["reasoning_effort"])
    body = sent_body(ok_route)
    assert body["reasoning_effort"] == "high"
    assert "allowed_openai_params" not in body


def test_reasoning_effort_in_extra_body(mode: str, ok_route: respx.Route) -> None:
    call(mode, extra_body={"reasoning_effort": "high"})
    body = sent_body(ok_route)
    assert body["reasoning_effort"] == "high"
    assert "extra_body" not in body


@pytest.mark.parametrize("off", ["none", "off"])
def test_reasoning_effort_off_dropped(mode: str, ok_route: respx.Route, off: str) -> None:
    call(mode, reasoning_effort=off, allowed_openai_params=["reasoning_effort"])
    assert "reasoning_effort" not in sent_body(ok_route)


def test_reasoning_object_lifted(mode: str, ok_route: respx.Route) -> None:
    call(mode, reasoning={"effort": "low"})
    body = sent_body(ok_route)
    assert body["reasoning_effort"] == "low"
    assert "reasoning" not in body


def test_named_tool_choice(mode: str, ok_route: respx.Route) -> None:
    tools = [
        {"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": {}}}}
        for name in ("alpha", "beta", "gamma")
    ]
    call(mode, tools=tools, tool_choice={"type": "function", "function": {"name": "beta"}})
    body = sent_body(ok_route)
    assert body["tool_choice"] == "required"
    assert [t["function"]["name"] for t in body["tools"]] == ["beta"]


def test_tool_schema_inlined(mode: str, ok_route: respx.Route) -> None:
    schema = {
        "type": "object",
        "$defs": {
            "Item": {"type": "object", "properties": {"sku": {"type": "string"}, "sub": {"$ref": "#/$defs/Item"}}},
            "Base": {"type": "object", "properties": {"id": {"type": "integer"}}},
        },
        "properties": {
            "item": {"$ref": "#/$defs/Item"},
            "thing": {"allOf": [{"$ref": "#/$defs/Base"}, {"properties": {"label": {"type": "string"}}}]},
        },
    }
    call(mode, tools=[{"type": "function", "function": {"name": "order", "parameters": schema}}])
    params = sent_body(ok_route)["tools"][0]["function"]["parameters"]
    text = str(params)
    for word in ("$ref", "$defs", "allOf"):
        assert word not in text
    assert params["properties"]["item"]["properties"]["sku"] == {"type": "string"}
    assert params["properties"]["item"]["properties"]["sub"] == {"type": "object"}
    assert set(params["properties"]["thing"]["properties"]) == {"id", "label"}


# ---------------------------------------------------------------- delivery as it arrives


def test_sync_stream_chunk_before_upstream_finishes(upstream: respx.MockRouter) -> None:
    release = threading.Event()
    released_in_time: list[bool] = []

    def body() -> Any:
        yield sse_event(event("first", finish_reason=""))
        released_in_time.append(release.wait(5))
        yield sse_event(event(" second", finish_reason="stop", usage=FULL_USAGE))
        yield b"data: [DONE]\n\n"

    upstream.post(URL).mock(side_effect=lambda request: httpx.Response(200, headers=SSE_HEADERS, content=body()))
    stream = litellm.completion(model="codebuddy/gpt-5.5", messages=USER, api_key=KEY, stream=True)
    texts = []
    for chunk in stream:
        text = chunk.choices[0].delta.content
        if text:
            texts.append(text)
            release.set()
    assert released_in_time == [True], "the first chunk was held back until the upstream stream finished"
    assert "".join(texts) == "first second"


def test_async_stream_chunk_before_upstream_finishes(upstream: respx.MockRouter) -> None:
    async def main() -> tuple[list[bool], list[str]]:
        release = asyncio.Event()
        released_in_time: list[bool] = []

        async def body() -> Any:
            yield sse_event(event("first", finish_reason=""))
            try:
                await asyncio.wait_for(release.wait(), 5)
                released_in_time.append(True)
            except asyncio.TimeoutError:
                released_in_time.append(False)
            yield sse_event(event(" second", finish_reason="stop", usage=FULL_USAGE))
            yield b"data: [DONE]\n\n"

        upstream.post(URL).mock(side_effect=lambda request: httpx.Response(200, headers=SSE_HEADERS, content=body()))
        stream = await litellm.acompletion(model="codebuddy/gpt-5.5", messages=USER, api_key=KEY, stream=True)
        texts = []
        async for chunk in stream:
            text = chunk.choices[0].delta.content
            if text:
                texts.append(text)
                release.set()
        return released_in_time, texts

    released_in_time, texts = asyncio.run(main())
    assert released_in_time == [True], "the first chunk was held back until the upstream stream finished"
    assert "".join(texts) == "first second"


# ---------------------------------------------------------------- pooled clients, caller's client, redirects


def test_sync_client_pooled(monkeypatch: pytest.MonkeyPatch, ok_route: respx.Route) -> None:
    used: list[httpx.Client] = []
    real_send = httpx.Client.send

    def send(self: httpx.Client, *args: Any, **kwargs: Any) -> Any:
        used.append(self)
        return real_send(self, *args, **kwargs)

    monkeypatch.setattr(httpx.Client, "send", send)
    call("sync")
    call("sync_stream")
    call("sync")
    assert len(used) == 3
    assert used[0] is used[1] is used[2]
    assert any(client is used[0] for client in codebuddy_llm.clients._sync_clients.values())  # the pooled one


def test_async_client_one_per_loop(monkeypatch: pytest.MonkeyPatch, ok_route: respx.Route) -> None:
    used: list[httpx.AsyncClient] = []
    real_send = httpx.AsyncClient.send

    async def send(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> Any:
        used.append(self)
        return await real_send(self, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "send", send)

    async def twice() -> None:
        await litellm.acompletion(model="codebuddy/gpt-5.5", messages=USER, api_key=KEY)
        stream = await litellm.acompletion(model="codebuddy/gpt-5.5", messages=USER, api_key=KEY, stream=True)
        async for _ in stream:
            pass

    asyncio.run(twice())
    asyncio.run(twice())
    assert len(used) == 4
    assert used[0] is used[1]
    assert used[2] is used[3]
    assert used[0] is not used[2]


class CountingTransport(httpx.BaseTransport):
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(
            200, headers=SSE_HEADERS, content=sse(event("from caller's client", finish_reason="stop"))
        )


class AsyncCountingTransport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(
            200, headers=SSE_HEADERS, content=sse(event("from caller's client", finish_reason="stop"))
        )


@pytest.mark.parametrize("mode", ["sync", "sync_stream"])
def test_caller_client_wins_sync(mode: str) -> None:
    transport = CountingTransport()
    with httpx.Client(transport=transport) as client:
        result = call(mode, client=client)
    assert result.content == "from caller's client"
    assert len(transport.requests) == 1
    assert transport.requests[0].headers["x-api-key"] == KEY


@pytest.mark.parametrize("mode", ["async", "async_stream"])
def test_caller_client_wins_async(mode: str) -> None:
    transport = AsyncCountingTransport()

    async def main() -> str | None:
        async with httpx.AsyncClient(transport=transport) as client:
            if mode == "async":
                resp = await litellm.acompletion(model="codebuddy/gpt-5.5", messages=USER, api_key=KEY, client=client)
                return resp.choices[0].message.content
            stream = await litellm.acompletion(
                model="codebuddy/gpt-5.5", messages=USER, api_key=KEY, client=client, stream=True
            )
            return "".join([c.choices[0].delta.content or "" async for c in stream])

    assert asyncio.run(main()) == "from caller's client"
    assert len(transport.requests) == 1


def test_redirect_not_followed(mode: str, upstream: respx.MockRouter) -> None:
    upstream.post(URL).mock(
        return_value=httpx.Response(307, headers={"location": "https://elsewhere.example/v2/chat/completions"})
    )
    other = upstream.route(host="elsewhere.example").mock(return_value=ok_response())
    exc = raised(mode, litellm.ServiceUnavailableError)
    assert "307" in str(exc)
    assert other.call_count == 0
    assert upstream.calls.call_count == 1


def test_handler_repr_has_no_key(ok_route: respx.Route) -> None:
    call("sync")
    assert KEY not in repr(codebuddy_llm)
    assert KEY not in repr(litellm_codebuddy.codebuddy_llm.clients.__dict__.get("_sync_clients"))


@pytest.mark.parametrize("mode", MODES)
def test_completion_cost_is_zero(mode: str, ok_route: respx.Route) -> None:
    result = call(mode)
    cost = litellm.completion_cost(completion_response=result.response)
    assert cost == 0.0
