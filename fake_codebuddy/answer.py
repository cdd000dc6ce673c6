"""What the fake answers: the stream's chunks, built without I/O (deterministic).

Each chunk looks like
``{"id":"resp_<rid>_<n>","model":M,"object":"response","choices":[{"delta":{...},"finish_reason":""}]}``: no
``created``, no ``index`` in choices, the ``id`` changes on every chunk, the first delta has ``"role":"assistant"``
and later ones ``"role":""``, content deltas carry ``"refusal":""`` and ``"tool_calls":[]``.  The finishing chunk
is, like the seed capture, ``{"id":...,"choices":[{"delta":{"content":""},"finish_reason":"stop"}],"usage":{...}}``
(no ``model``/``object``).

* The soft block (``refuse=softblock``): the content-safety notice (``refusals.SOFT_BLOCK_NOTICE``) in four
  events and nothing else, finished with ``"content_filter"``.
* Content: ``"Echo: " + T`` where T is the text of the last user message (text parts joined with a space) with
  directive tokens removed, stripped; plus ``" [images: N]"`` when that message has N image parts.  It is sent as
  one word per event, spaces kept, so the concatenation is exactly the answer.
* Last message is a tool message: ``"Tool results: " + "; ".join(contents of the trailing tool messages)``.
* Tool calls: with ``tools`` and the last message a user message, the first tool is
  called with arguments built from its schema's required properties (first ``enum`` value if any, else string
  "test", integer/number 1, boolean true, array [], object {}), finish_reason "tool_calls".  Each call is three
  deltas: id+name with empty arguments; the id repeated with ``"name":""`` and the first half of the arguments; no
  id, the rest of the arguments.  With ``parallel`` (or "PARALLEL" in the user text), more than one tool and
  ``parallel_tool_calls`` not false, every tool is called, one after the other, each at its own ``index`` (0, 1,
  ...: the official client merges calls that share an index), with ids ``tooluse_<rid>_<n>``; ``parallel=zero``
  sends them ALL with ``"index":0``, told apart only by their ids (peer reports).  ``tool_choice: "none"`` is
  ignored while tools are sent, as the field reports say of the gateway.
* Reasoning: when ``reasoning_effort`` is given the model reasons "Thinking about: T" before the answer; the
  reasoning is shown, as ``delta.reasoning_content`` events (one word per event), only when the request also
  carries ``reasoning_summary`` (field reports: reasoning shown only with both).  Without a summary its tokens
  are still counted, as completion and reasoning tokens.
* Limits: the answer stops when its next piece would take the completion tokens past ``max_tokens`` (else
  :data:`DEFAULT_MAX_TOKENS`, 32,000), with ``finish_reason`` "length"; reasoning counts against the limit, so a
  small one can end inside the reasoning.  ``max_completion_tokens`` is not read.  A tool call is sent whole or not
  at all.  The ``size=`` directive (one event of BYTES, a transport fault) is never limited, and the default
  limit does not apply to ``events=`` (a ``max_tokens`` does).
* Usage: prompt tokens = ``tokens.prompt_tokens(messages, tools)``; completion tokens = the estimated tokens of the
  content, reasoning and tool-call (name and arguments) text; reasoning tokens = those of the reasoning text;
  total = prompt + completion (estimates of cl100k, see ``tokens``).  The default ``usage`` is the seed's thin
  shape ``{"total_tokens": N, "credit": C}``, with ``prompt_cache_hit_tokens`` added when the request carried a
  ``prompt_cache_key``; ``usage=full``/``thinking`` add the other figures: ``prompt_tokens_details``
  (``cached_tokens``, ``cache_write_tokens``), ``prompt_cache_hit_tokens`` and ``prompt_cache_miss_tokens``
  (``cached=`` overrides the hit count reported); every ``usage`` but ``none`` carries ``credit``, what the answer
  cost (``billing.credits``: the prompt cache read by the request billed at the cached rate).
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .billing import CacheUse, credits
from .directives import Faults
from .messages import text_of, words
from .refusals import SOFT_BLOCK_NOTICE
from .tokens import count_tokens, prompt_tokens

#: where an answer stops when the request sets no ``max_tokens`` (field reports)
DEFAULT_MAX_TOKENS = 32_000

enc: Callable[[str], str] = json.encoder.encode_basestring_ascii


@dataclass
class Answer:
    """One answer being streamed: the request, its directives and the chunk sequence so far."""

    faults: Faults
    body: dict[str, Any]
    model_json: str
    rid: str
    seed: bytes = b""  # seeds the pacing jitter (the request body: same request, same schedule)
    seq: int = 0
    role_sent: bool = False
    finish: str = "stop"
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    notice: bool = False  # the soft block: the content-safety notice is the whole answer
    cache: CacheUse = field(default_factory=CacheUse)
    """what the request read from the prompt cache and wrote to it (``billing``)"""

    @property
    def limit(self) -> int | float:
        """The completion tokens the answer may take: ``max_tokens``, else the gateway's default (which the
        ``events=`` and ``size=`` transport directives are spared, so they can stream as much as a test needs)."""
        limit = self.body.get("max_tokens")
        if isinstance(limit, int) and not isinstance(limit, bool):
            return limit
        return float("inf") if self.faults.events is not None or self.faults.size is not None else DEFAULT_MAX_TOKENS

    def fits(self, tokens: int) -> bool:
        """Whether ``tokens`` more fit under the limit; when not, the answer finishes with "length"."""
        if self.completion_tokens + tokens <= self.limit:
            return True
        self.finish = "length"
        return False


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
    parallel = ans.faults.parallel is not None and len(tools) > 1 and ans.body.get("parallel_tool_calls") is not False
    for i, tool in enumerate(tools if parallel else tools[:1]):
        index = 0 if ans.faults.parallel == "zero" else i
        name, params = _tool_function(tool)
        args = _arguments_for(params)
        if not ans.fits(count_tokens(name) + count_tokens(args)):
            return
        half = max(1, len(args) // 2)
        call_id = f"tooluse_{ans.rid}{i}"
        deltas = (
            {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}},
            {"index": index, "id": call_id, "type": "function", "function": {"name": "", "arguments": args[:half]}},
            {"index": index, "function": {"arguments": args[half:]}},
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


def _reasoned(ans: Answer, text: str) -> Iterator[str]:
    """The reasoning before the answer: shown with an effort and a summary, counted alone with an effort alone."""
    body = ans.body
    if body.get("reasoning_effort") is None:
        return
    shown = bool(body.get("reasoning_summary"))
    for piece in words("Thinking about: " + text):
        tokens = count_tokens(piece)
        if not ans.fits(tokens):
            return
        if shown:
            yield _reasoning(ans, piece)
        else:
            ans.completion_tokens += tokens
            ans.reasoning_tokens += tokens


def _limited(ans: Answer, pieces: Iterator[str]) -> Iterator[str]:
    """Content events for ``pieces`` while they fit under the limit."""
    for piece in pieces:
        if not ans.fits(count_tokens(piece)):
            return
        yield _content(ans, piece)


def events(ans: Answer, text: str, images: int) -> Iterator[str]:
    """The payload of every event before the finish chunk."""
    f, body = ans.faults, ans.body
    if ans.notice:
        step = -(-len(SOFT_BLOCK_NOTICE) // 4)
        for start in range(0, len(SOFT_BLOCK_NOTICE), step):
            yield _content(ans, SOFT_BLOCK_NOTICE[start : start + step])
        ans.finish = "content_filter"
        return
    yield from _reasoned(ans, text)
    if ans.finish == "length":
        return
    if f.size is not None:
        yield _content(ans, "x" * f.size)
        return
    if f.events is not None:
        yield from _limited(ans, (f"w{k} " for k in range(f.events)))
        return
    msgs: list[dict[str, Any]] = body["messages"]
    tools = body.get("tools")
    if isinstance(tools, list) and tools and msgs[-1].get("role") == "user":  # "none" is ignored, as by the gateway
        yield from _tool_calls(ans, tools)
        return
    yield from _limited(ans, iter(words(_text_answer(msgs, text, images))))


def usage(ans: Answer) -> dict[str, Any] | None:
    """The finish chunk's usage for the answer sent so far, in the ``usage=`` directive's shape."""
    mode = ans.faults.usage or "basic"
    if mode == "none":
        return None
    prompt = prompt_tokens(ans.body["messages"], ans.body.get("tools"))
    completion, reasoning = ans.completion_tokens, ans.reasoning_tokens
    total = prompt + completion
    hit = min(ans.faults.cached if ans.faults.cached is not None else ans.cache.hit, prompt)
    credit = credits(prompt, hit, completion)
    keyed = bool(ans.body.get("prompt_cache_key"))
    if mode == "basic":
        thin: dict[str, Any] = {"total_tokens": total, "credit": credit}
        if keyed:
            thin["prompt_cache_hit_tokens"] = hit
        return thin
    result: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total,
        "completion_tokens_details": {"reasoning_tokens": reasoning},
        "prompt_tokens_details": {"cached_tokens": hit, "cache_write_tokens": ans.cache.written},
        "prompt_cache_hit_tokens": hit,
        "prompt_cache_miss_tokens": prompt - hit,
        "credit": credit,
    }
    if mode == "thinking":
        result["completion_thinking_tokens"] = reasoning
    return result


def finish_chunk(ans: Answer) -> str:
    ans.seq += 1
    if ans.faults.finish is not None:
        ans.finish = ans.faults.finish
    figures = usage(ans)
    tail = "" if figures is None else ',"usage":' + json.dumps(figures)
    return (
        '{"id":"resp_' + ans.rid + str(ans.seq) + '","choices":[{"delta":{"content":""},"finish_reason":'
        + enc(ans.finish) + "}]" + tail + "}"
    )  # fmt: skip
