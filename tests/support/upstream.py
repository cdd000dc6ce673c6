"""Helpers for tests that talk to a mocked upstream (respx): SSE builders, the gateway's event shape, one ``call``
that runs any of the four LiteLLM paths; and how two requests that reached the fake compare.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any, NamedTuple

import httpx
import litellm
import pytest
import respx

import litellm_codebuddy  # noqa: F401  (registers the provider)

KEY = "ck_unit123.S3cretValueForTests"
URL = "https://www.codebuddy.ai/v2/chat/completions"
MODEL = "codebuddy/gpt-5.5"
MODES = ("sync", "sync_stream", "async", "async_stream")
STREAM_MODES = ("sync_stream", "async_stream")
SSE_HEADERS = {"content-type": "text/event-stream"}
USER = [{"role": "user", "content": "hi"}]


# ---------------------------------------------------------------- upstream payloads


def event(
    content: str | None = None,
    *,
    reasoning: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    id: str = "resp_abc",
    model: str = "gpt-5.5",
) -> dict[str, Any]:
    """One CodeBuddy stream event (the gateway's shape: no ``created``, no ``index``, object "response")."""
    delta: dict[str, Any] = {}
    if content is not None:
        delta["content"] = content
    if reasoning is not None:
        delta["reasoning_content"] = reasoning
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    choice: dict[str, Any] = {"delta": delta}
    if finish_reason is not None:
        choice["finish_reason"] = finish_reason
    out: dict[str, Any] = {"id": id, "model": model, "object": "response", "choices": [choice]}
    if usage is not None:
        out["usage"] = usage
    return out


def sse_event(payload: Any) -> bytes:
    data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    if isinstance(data, str):
        data = data.encode()
    return b"data: " + data + b"\n\n"


def sse(*payloads: Any, done: bool = True) -> bytes:
    """A whole stream body: one ``data:`` event per payload (dict, str or bytes), then ``[DONE]``."""
    return b"".join(sse_event(p) for p in payloads) + (b"data: [DONE]\n\n" if done else b"")


class Parts(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body that arrives as these separate reads, for sync and async clients alike."""

    def __init__(self, parts: list[bytes]) -> None:
        self.parts = parts

    def __iter__(self) -> Iterator[bytes]:
        yield from self.parts

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            yield part


def sse_response(*payloads: Any, done: bool = True, split: bool = False, status: int = 200) -> httpx.Response:
    """A 200 event-stream answer; ``split`` sends each event as its own network read."""
    if split:
        parts = [sse_event(p) for p in payloads] + ([b"data: [DONE]\n\n"] if done else [])
        return httpx.Response(status, headers=SSE_HEADERS, stream=Parts(parts))
    return httpx.Response(status, headers=SSE_HEADERS, content=sse(*payloads, done=done))


FULL_USAGE = {"prompt_tokens": 1234, "completion_tokens": 567, "total_tokens": 1801}


def hello_stream(text: str = "Hello world", usage: dict[str, Any] | None = None) -> bytes:
    half = len(text) // 2
    return sse(
        event(text[:half], finish_reason=""),
        event(text[half:], finish_reason=""),
        event("", finish_reason="stop", usage=usage or FULL_USAGE),
    )


def ok_response(text: str = "Hello world", usage: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.Response(200, headers=SSE_HEADERS, content=hello_stream(text, usage))


def json_error(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def sent_body(route: respx.Route, n: int = -1) -> dict[str, Any]:
    return json.loads(route.calls[n].request.content)


# ---------------------------------------------------------------- the four call paths


class Result(NamedTuple):
    content: str | None
    reasoning: str | None
    tool_calls: list[dict[str, Any]]
    finish_reason: str | None
    usage: Any
    response: Any
    chunks: list[Any] | None


def _result(resp: Any, chunks: list[Any] | None) -> Result:
    choice = resp.choices[0]
    msg = choice.message
    calls = [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments} for c in (msg.tool_calls or [])]
    return Result(
        msg.content,
        getattr(msg, "reasoning_content", None),
        calls,
        choice.finish_reason,
        getattr(resp, "usage", None),
        resp,
        chunks,
    )


def call(mode: str, *, messages: list[dict[str, Any]] | None = None, model: str = MODEL, **kw: Any) -> Result:
    """Run one of the four paths through LiteLLM's public API; streams are rebuilt with stream_chunk_builder."""
    messages = USER if messages is None else messages
    kw.setdefault("api_key", KEY)
    if mode in STREAM_MODES:
        kw["stream"] = True
        kw.setdefault("stream_options", {"include_usage": True})
    if mode == "sync":
        return _result(litellm.completion(model=model, messages=messages, **kw), None)
    if mode == "async":
        return _result(asyncio.run(litellm.acompletion(model=model, messages=messages, **kw)), None)
    if mode == "sync_stream":
        chunks = list(litellm.completion(model=model, messages=messages, **kw))
    elif mode == "async_stream":

        async def run() -> list[Any]:
            stream = await litellm.acompletion(model=model, messages=messages, **kw)
            return [c async for c in stream]

        chunks = asyncio.run(run())
    else:
        raise ValueError(mode)
    built = litellm.stream_chunk_builder(chunks, messages=messages)
    assert built is not None
    return _result(built, chunks)


def unwrap(exc: BaseException) -> BaseException:
    """The provider's exception: LiteLLM's stream wrapper hands 429, 5xx and connection errors raised during
    iteration on as ``MidStreamFallbackError(original_exception=...)`` (for the Router's fallbacks)."""
    fallback = getattr(litellm.exceptions, "MidStreamFallbackError", None)
    original = getattr(exc, "original_exception", None)
    if fallback is not None and isinstance(exc, fallback) and isinstance(original, BaseException):
        return original
    return exc


def raised(mode: str, expected: type[BaseException] | tuple[type[BaseException], ...], **kw: Any) -> BaseException:
    """Run ``call(mode, **kw)``, expect it to fail, and return the provider's exception (checked against expected)."""
    with pytest.raises(Exception) as info:
        call(mode, **kw)
    exc = unwrap(info.value)
    assert isinstance(exc, expected), f"{mode}: expected {expected}, got {type(info.value).__name__}: {info.value}"
    return exc


def router_call(router: litellm.Router, mode: str, messages: list[dict[str, Any]]) -> str:
    """One request through the Router on one of the four paths; the answer's text."""
    stream = mode in STREAM_MODES
    if mode.startswith("sync"):
        resp = router.completion(model="main", messages=messages, stream=stream)
        if not stream:
            return str(resp.choices[0].message.content)
        return "".join(c.choices[0].delta.content or "" for c in resp)

    async def run() -> str:
        resp = await router.acompletion(model="main", messages=messages, stream=stream)
        if not stream:
            return str(resp.choices[0].message.content)
        return "".join([c.choices[0].delta.content or "" async for c in resp])

    return asyncio.run(run())


def unchanged_apart_from_the_model(first: Any, second: Any) -> bool:
    """The second request is the first, byte for byte, apart from the model and what the provider derives from it:
    the prompt-cache key (one per model and conversation) and, when the caller gave no limit, ``max_tokens`` (the
    model's longest answer)."""
    raw = first.raw
    for field in ("model", "prompt_cache_key", "max_tokens"):
        a, b = first.body.get(field), second.body.get(field)
        if a != b:
            for colon in (":", ": "):  # the body is compact JSON; spaced JSON compared the same way
                raw = raw.replace(
                    f'"{field}"{colon}{json.dumps(a)}'.encode(), f'"{field}"{colon}{json.dumps(b)}'.encode()
                )
    return bool(raw == second.raw)
