"""What the fake answers: the stream's chunks, built without I/O (deterministic).

Each chunk looks like
``{"id":"resp_<rid>_<n>","model":M,"object":"response","choices":[{"delta":{...},"finish_reason":""}]}``: no
``created``, no ``index`` in choices, the ``id`` changes on every chunk, the first delta has ``"role":"assistant"``
and later ones ``"role":""``, content deltas carry ``"refusal":""`` and ``"tool_calls":[]``.  The finishing chunk
is, like the seed capture, ``{"id":...,"choices":[{"delta":{"content":""},"finish_reason":"stop"}],"usage":{...}}``
(no ``model``/``object``).

* Content: ``"Echo: " + T`` where T is the text of the last user message (text parts joined with a space) with
  directive tokens removed, stripped; plus ``" [images: N]"`` when that message has N image parts.  It is sent as
  one word per event, spaces kept, so the concatenation is exactly the answer.
* Last message is a tool message: ``"Tool results: " + "; ".join(contents of the trailing tool messages)``.
* Tool calls: with ``tools``, ``tool_choice`` not "none" and the last message a user message, the first tool is
  called with arguments built from its schema's required properties (first ``enum`` value if any, else string
  "test", integer/number 1, boolean true, array [], object {}), finish_reason "tool_calls".  Each call is three
  deltas: id+name with empty arguments; the id repeated with ``"name":""`` and the first half of the arguments; no
  id, the rest of the arguments.  With ``parallel`` (or "PARALLEL" in the user text), more than one tool and
  ``parallel_tool_calls`` not false, every tool is called, one after the other, ALL with ``"index":0`` and told
  apart only by ids ``tooluse_<rid>_<n>``.
* Reasoning: when ``reasoning_effort`` is given, ``delta.reasoning_content`` events "Thinking about: T" (one word per
  event) come before the answer.
* Usage: prompt tokens = ``tokens.prompt_tokens(messages, tools)``; completion tokens = the estimated tokens of the
  content, reasoning and tool-call (name and arguments) text sent; reasoning tokens = those of the reasoning text;
  total = prompt + completion (estimates of cl100k, see ``tokens``).  The default ``usage`` is the seed's thin
  shape ``{"total_tokens": N, "credit": 0.01}``; ``usage=full``/``thinking`` add the other figures, ``cached=``
  the cached ones; every ``usage`` but ``none`` carries ``credit``.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .messages import text_of, words
from .tokens import count_tokens, prompt_tokens

enc: Callable[[str], str] = json.encoder.encode_basestring_ascii


@dataclass
class Answer:
    """One answer being streamed: the request, its directives and the chunk sequence so far."""

    d: dict[str, Any]
    body: dict[str, Any]
    model_json: str
    rid: str
    seq: int = 0
    role_sent: bool = False
    finish: str = "stop"
    completion_tokens: int = 0
    reasoning_tokens: int = 0


def _sample_value(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return "test"
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    samples: dict[str, Any] = {"integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}
    return samples.get(kind, "test") if isinstance(kind, str) else "test"


def _tool_function(tool: Any) -> tuple[str, dict[str, Any]]:
    func = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(func, dict):
        return "", {}
    params = func.get("parameters")
    name = func.get("name")
    return (name if isinstance(name, str) else ""), (params if isinstance(params, dict) else {})


def _arguments_for(params: dict[str, Any]) -> str:
    props = params.get("properties")
    props = props if isinstance(props, dict) else {}
    required = params.get("required")
    names = [n for n in required if isinstance(n, str)] if isinstance(required, list) else []
    return json.dumps({n: _sample_value(props.get(n)) for n in names})


def _chunk(ans: Answer, delta: str) -> str:
    ans.seq += 1
    if ans.role_sent:
        role = '""'
    else:
        role = '"assistant"'
        ans.role_sent = True
    return (
        '{"id":"resp_' + ans.rid + str(ans.seq) + '","model":' + ans.model_json
        + ',"object":"response","choices":[{"delta":{"role":' + role + "," + delta + '},"finish_reason":""}]}'
    )  # fmt: skip


def _content(ans: Answer, text: str) -> str:
    ans.completion_tokens += count_tokens(text)
    return _chunk(ans, '"content":' + enc(text) + ',"refusal":"","tool_calls":[]')


def _reasoning(ans: Answer, text: str) -> str:
    tokens = count_tokens(text)
    ans.completion_tokens += tokens
    ans.reasoning_tokens += tokens
    return _chunk(ans, '"reasoning_content":' + enc(text) + ',"refusal":"","tool_calls":[]')


def _tool_calls(ans: Answer, tools: list[Any]) -> Iterator[str]:
    d, body = ans.d, ans.body
    parallel = d.get("parallel") and len(tools) > 1 and body.get("parallel_tool_calls") is not False
    for i, tool in enumerate(tools if parallel else tools[:1]):
        name, params = _tool_function(tool)
        args = _arguments_for(params)
        half = max(1, len(args) // 2)
        call_id = f"tooluse_{ans.rid}{i}"
        deltas = (
            {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}},
            {"index": 0, "id": call_id, "type": "function", "function": {"name": "", "arguments": args[:half]}},
            {"index": 0, "function": {"arguments": args[half:]}},
        )
        ans.completion_tokens += count_tokens(name) + count_tokens(args)
        for delta in deltas:
            yield _chunk(ans, '"tool_calls":' + json.dumps([delta]))
    ans.finish = "tool_calls"


def _text_answer(msgs: list[dict[str, Any]], text: str, images: int) -> str:
    if msgs[-1].get("role") == "tool":
        results: list[str] = []
        for m in reversed(msgs):
            if m.get("role") != "tool":
                break
            results.append(text_of(m.get("content")))
        return "Tool results: " + "; ".join(reversed(results))
    return "Echo: " + text + (f" [images: {images}]" if images else "")


def events(ans: Answer, text: str, images: int) -> Iterator[str]:
    """The payload of every event before the finish chunk."""
    d, body = ans.d, ans.body
    if body.get("reasoning_effort") is not None:
        for piece in words("Thinking about: " + text):
            yield _reasoning(ans, piece)
    if "size" in d:
        yield _content(ans, "x" * d["size"])
        return
    if "events" in d:
        for k in range(d["events"]):
            yield _content(ans, f"w{k} ")
        return
    msgs: list[dict[str, Any]] = body["messages"]
    tools = body.get("tools")
    if isinstance(tools, list) and tools and body.get("tool_choice") != "none" and msgs[-1].get("role") == "user":
        yield from _tool_calls(ans, tools)
        return
    for piece in words(_text_answer(msgs, text, images)):
        yield _content(ans, piece)


def usage(ans: Answer) -> dict[str, Any] | None:
    """The finish chunk's usage for the answer sent so far, in the ``usage=`` directive's shape."""
    mode = ans.d.get("usage", "basic")
    if mode == "none":
        return None
    prompt = prompt_tokens(ans.body["messages"], ans.body.get("tools"))
    completion, reasoning = ans.completion_tokens, ans.reasoning_tokens
    total = prompt + completion
    if mode == "basic":
        return {"total_tokens": total, "credit": 0.01}
    result: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total,
        "completion_tokens_details": {"reasoning_tokens": reasoning},
        "prompt_tokens_details": {"cached_tokens": min(ans.d.get("cached", 0), prompt)},
        "credit": 0.01,
    }
    if mode == "thinking":
        result["completion_thinking_tokens"] = reasoning
    return result


def finish_chunk(ans: Answer) -> str:
    ans.seq += 1
    figures = usage(ans)
    tail = "" if figures is None else ',"usage":' + json.dumps(figures)
    return (
        '{"id":"resp_' + ans.rid + str(ans.seq) + '","choices":[{"delta":{"content":""},"finish_reason":'
        + enc(ans.finish) + "}]" + tail + "}"
    )  # fmt: skip
