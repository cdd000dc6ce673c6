"""Pure conversion of CodeBuddy's stream events into LiteLLM chunks and into one ModelResponse.

The gateway's stream differs from OpenAI's (docs/gateway.md#stream-shape): no ``created`` or ``index``, empty
strings for absent values (``finish_reason: ""``, ``role: ""``, ``tool_calls: []``), ids that change from
chunk to chunk, parallel tool calls that all carry ``index: 0`` and are told apart by id only, usage that may
hold only ``total_tokens``, and errors inside a 200 stream. :class:`StreamState` absorbs all of that.

Credits: ``usage.credit`` is kept on plain responses. LiteLLM's stream wrapper rebuilds the final usage from the
token counts (and ``cost``) only, so on a stream the credit travels as ``provider_specific_fields["credit"]`` of
the finishing chunk (the caller sees it on that chunk's delta, ``stream_chunk_builder`` on the message). With a
``credit_cost`` (``CODEBUDDY_CREDIT_COST``) the usage also carries ``cost`` = credits x credit_cost, which LiteLLM
takes as the response's cost on both paths (and the proxy as its spend); plain responses also get it as
``_hidden_params["response_cost"]``.

Events that arrived together (one network read) are merged into one chunk: LiteLLM's stream wrapper costs
about the same per chunk whatever the chunk holds, and nothing that is ready is held back, with one exception: the
content-safety soft block. The gateway refuses some inputs with a 200 stream whose whole content is a fixed notice
(:data:`~.errors.SOFT_BLOCK_NOTICE`); it must never reach a caller as the model's answer. So while everything
received so far could still be that notice (no reasoning, no tool call, and the text a prefix of it), the text is
held back; the first event that cannot be the notice releases it, in the same chunk. When the answer ends and its
whole content was the notice (or it was empty and finished with ``content_filter``), ``ContentPolicyViolationError``
is raised before anything was handed on, so the proxy answers with the status and a Router's content-policy
fallbacks run. A ``content_filter`` finish after real content is passed on as it is.

A failed finish is never an answer: ``finish_reason: "error"`` (with or without output) or ``length`` with nothing
produced raises ``ServiceUnavailableError`` (503, retried by LiteLLM), after the content that arrived with it was
handed on (docs/gateway.md#empty-stream).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import litellm
from litellm.types.utils import (
    ChatCompletionDeltaToolCall,
    Delta,
    ModelResponse,
    ModelResponseStream,
    StreamingChoices,
)

from ..endpoint import PROVIDER, redact
from .errors import (
    Upstream,
    error_from_body,
    is_error_body,
    is_soft_block,
    may_be_soft_block,
    soft_block_error,
    status_error,
)

__all__ = ["StreamState", "credits_cost", "normalise_usage"]

_loads = json.loads
# the C scanner behind json.loads, called directly: same parser, without the Python wrapper's per-call cost
_scan = json.decoder.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _parse(data: str) -> Any:
    """``json.loads(data)`` exactly (same result, same errors), about twice as fast for a well-formed object."""
    try:
        value, end = _scan(data, 0)
    except (StopIteration, ValueError):
        return _loads(data)  # leading whitespace, BOM or bad JSON: json.loads decides
    if end != len(data):
        return _loads(data)  # trailing whitespace is fine, anything else raises
    return value


def _first(*values: Any) -> int | None:
    """The first value that is a token count (an int, not a bool)."""
    return next((v for v in values if isinstance(v, int) and not isinstance(v, bool)), None)


def normalise_usage(
    raw: dict[str, Any] | None, count_prompt: Callable[[], int], count_completion: Callable[[], int]
) -> dict[str, Any]:
    """OpenAI-shaped usage from whatever the gateway sent.

    Standard fields win. With only ``total_tokens``, the prompt is counted locally (capped at the total)
    and completion = total - prompt. ``completion_thinking_tokens`` become reasoning tokens.

    The prompt cache: ``prompt_tokens`` includes the cached tokens (as OpenAI's does; the gateway's reports say
    so). Tokens read from the cache (``prompt_tokens_details.cached_tokens``, ``prompt_cache_hit_tokens`` or
    ``cache_read_input_tokens``) become ``prompt_tokens_details.cached_tokens`` and ``cache_read_input_tokens``;
    tokens written to it (``prompt_tokens_details.cache_write_tokens``, ``prompt_cache_write_tokens`` or
    ``cache_creation_input_tokens``) become ``prompt_tokens_details.cache_write_tokens`` and
    ``cache_creation_input_tokens``: LiteLLM's cost (cache-read prices), the proxy's spend and its Anthropic
    front-end (``cache_read_input_tokens`` on ``/v1/messages``) read those. Without ``prompt_tokens``, the hit and
    miss counts add up to it; a ``prompt_tokens`` smaller than the cached and written tokens is taken to leave them
    out (Anthropic's way) and they are added. ``credit`` is kept as it is.
    """
    raw = raw or {}
    pdetails = raw.get("prompt_tokens_details")
    pdetails = pdetails if isinstance(pdetails, dict) else {}
    hit = _first(pdetails.get("cached_tokens"), raw.get("prompt_cache_hit_tokens"), raw.get("cache_read_input_tokens"))
    write = _first(
        pdetails.get("cache_write_tokens"),
        pdetails.get("cache_creation_tokens"),
        raw.get("prompt_cache_write_tokens"),
        raw.get("cache_creation_input_tokens"),
    )
    cached = (hit or 0) + (write or 0)
    prompt = raw.get("prompt_tokens")
    completion = raw.get("completion_tokens")
    total = raw.get("total_tokens")
    miss = _first(raw.get("prompt_cache_miss_tokens"))
    if prompt is None and hit is not None and miss is not None:
        prompt = hit + miss
    if prompt is None and completion is None:
        if total is None:
            prompt, completion = max(count_prompt(), cached), count_completion()
        else:
            prompt = min(max(count_prompt(), cached), total)
            completion = total - prompt
    elif prompt is None:
        assert completion is not None
        prompt = max((total if total is not None else completion) - completion, cached)
    elif completion is None:
        completion = max((total if total is not None else prompt) - prompt, 0)
    assert prompt is not None and completion is not None
    if prompt < cached:  # a prompt_tokens that left the cache out, as Anthropic's input_tokens do
        prompt += cached
    if total is None or total < prompt + completion:
        total = prompt + completion
    usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}
    details = raw.get("completion_tokens_details") or {}
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    if reasoning is None:
        reasoning = raw.get("completion_thinking_tokens")
    if reasoning is not None:
        usage["completion_tokens_details"] = {
            **(details if isinstance(details, dict) else {}),
            "reasoning_tokens": reasoning,
        }
    if hit is not None or write is not None:
        cache = {"cached_tokens": hit or 0}
        if write is not None:
            cache["cache_write_tokens"] = write
        usage["prompt_tokens_details"] = {**pdetails, **cache}
        usage["cache_read_input_tokens"] = hit or 0
        if write is not None:
            usage["cache_creation_input_tokens"] = write
    for key in ("credit", "prompt_cache_miss_tokens"):
        if raw.get(key) is not None:
            usage[key] = raw[key]
    return usage


def credits_cost(credit: Any, credit_cost: float | None) -> float | None:
    """What ``credit`` credits cost at ``credit_cost`` each (None when either is unknown)."""
    if credit_cost is None or isinstance(credit, bool):
        return None
    try:
        return float(credit) * credit_cost
    except (TypeError, ValueError):
        return None


class StreamState:
    """Folds decoded ``data:`` payloads into LiteLLM stream chunks (or, with ``accumulate``, one response).

    ``feed(datas)`` takes the payloads that arrived together and returns the chunks to hand on; ``close()``
    is called at end of stream and returns the finishing chunk or raises when the stream was cut short.
    """

    def __init__(
        self,
        model: str,
        count_prompt: Callable[[], int],
        *,
        accumulate: bool = False,
        secrets: tuple[str | None, ...] = (),
        credit_cost: float | None = None,
    ) -> None:
        self.model = model
        self.credit_cost = credit_cost
        self.count_prompt = count_prompt
        self.accumulate = accumulate
        self.secrets = secrets
        self.finish_reason: str | None = None
        self.usage_raw: dict[str, Any] | None = None
        self.done = False
        self.finished_sent = False
        self.response_id: str | None = None
        self.upstream_model: str | None = None
        self.events = 0
        self.delivered = False  # a delta chunk has been handed on (the coalescing window starts after it)
        # an error met in a batch after content: the content is handed on first, then this is raised
        self.pending_error: Exception | None = None
        # the soft block: True while everything received could still be the notice (its text is held back)
        self.screening = True
        self.held = ""
        # tool calls: our index per upstream id, and per upstream index the latest of ours
        self._pos_by_id: dict[str, int] = {}
        self._pos_by_index: dict[Any, int] = {}
        self._names: list[str | None] = []
        self._ids: list[str] = []
        # accumulation (non-streaming)
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self._args: list[list[str]] = []

    # -------------------------------------------------------------- events

    def _tool_position(self, call: dict[str, Any]) -> tuple[int, bool]:
        call_id = call.get("id") or None
        index = call.get("index")
        if call_id is not None and call_id in self._pos_by_id:
            pos = self._pos_by_id[call_id]
            self._pos_by_index[index] = pos
            return pos, False
        if call_id is None and self._ids:
            pos = self._pos_by_index.get(index, len(self._ids) - 1)
            return pos, False
        pos = len(self._ids)
        call_id = call_id or f"call_{pos}_{int(time.time() * 1000)}"
        self._pos_by_id[call_id] = pos
        self._pos_by_index[index] = pos
        self._ids.append(call_id)
        self._names.append(None)
        self._args.append([])
        return pos, True

    def feed(self, datas: list[str]) -> list[Any]:
        """Chunks for a batch of payloads that arrived together (at most one delta chunk and one finish)."""
        self.check()
        text: list[str] = []
        thinking: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        for data in datas:
            if self.done:
                break
            if data == "[DONE]":
                self.done = True
                break
            event = self._event(data)
            if isinstance(event, Exception):
                if self.accumulate or not self.delivered or not (text or thinking or calls):
                    # nothing handed on yet: the error alone, so the proxy can still answer with its status
                    raise event
                self.pending_error = event  # mid-answer: what arrived before the error is handed on first
                break
            self.events += 1
            if self.response_id is None and event.get("id"):
                self.response_id = event["id"]
            if self.upstream_model is None and event.get("model"):
                self.upstream_model = event["model"]
            usage = event.get("usage")
            if usage:
                self.usage_raw = usage
            for choice in event.get("choices") or ():
                delta = choice.get("delta") or choice.get("message") or {}
                piece = delta.get("content")
                if piece:
                    text.append(piece)
                piece = delta.get("reasoning_content") or delta.get("reasoning")
                if piece and isinstance(piece, str):
                    thinking.append(piece)
                for call in delta.get("tool_calls") or ():
                    self._fold_call(call, calls)
                finish = choice.get("finish_reason")
                if finish:
                    self.finish_reason = finish
        chunks: list[Any] = []
        if self.accumulate:
            self.content.extend(text)
            self.reasoning.extend(thinking)
            return chunks
        if self.screening:
            text = self._screen(text, bool(thinking or calls))
        if text or thinking or calls:
            chunks.append(self._delta_chunk("".join(text), "".join(thinking), list(calls.values())))
            self.delivered = True
        failed = self._failed_finish()
        if failed is not None:
            if not chunks:
                raise failed
            self.pending_error = failed  # what arrived before the failed finish is handed on first
            return chunks
        if not self.finished_sent and self.finish_reason and (self.usage_raw or self.done):
            chunks.append(self.finish_chunk())
        return chunks

    def _produced(self) -> bool:
        """Whether the answer holds anything: text (held back or handed on), reasoning or a tool call."""
        return bool(self.delivered or self.held or self.content or self.reasoning or self._ids)

    def _failed_finish(self) -> Exception | None:
        """The error a failed finish stands for, or None: ``finish_reason: "error"`` (with or without output), or
        ``length`` with nothing produced, is the gateway's upstream failing, never an answer (the official client
        retries such an "empty stream"). A ``ServiceUnavailableError`` (503): LiteLLM's ``num_retries`` and a Router
        retry it (a Router's stream that already delivered text gets LiteLLM's mid-stream fallback)."""
        reason = self.finish_reason
        produced = self._produced()
        if reason != "error" and not (reason == "length" and not produced):
            return None
        if produced:
            what = "after part of the answer (what was handed on is incomplete)"
        else:
            what = "without any output"
        rid = f" requestId={self.response_id}." if self.response_id else ""
        message = (
            f"CodeBuddy ended the answer with finish_reason {reason!r} {what}: an upstream failure, not an answer; "
            f"retry the request.{rid}"
        )
        upstream = Upstream(200, 503, text=f"finish_reason {reason}", request_id=self.response_id)
        return status_error(503, message, self.model, upstream=upstream, secrets=self.secrets)

    def _screen(self, text: list[str], other: bool) -> list[str]:
        """The text of this batch to hand on: none while everything received could still be the soft block's
        notice; once it cannot, the held text with this batch's. Raises at the end of an answer that was the
        notice (or empty and finished with ``content_filter``)."""
        held = self.held + "".join(text)
        ended = bool(self.finish_reason) or self.done
        if not other and not ended and may_be_soft_block(held):
            self.held = held
            return []
        self.held = ""
        self.screening = False
        if not other and ended:
            self._refuse_soft_block(held)
        return [held] if held else []

    def _refuse_soft_block(self, content: str) -> None:
        """Raise when a whole answer (no reasoning, no tool calls) is the soft block."""
        if is_soft_block(content) or (not content and self.finish_reason == "content_filter"):
            raise soft_block_error(self.model, finish_reason=self.finish_reason, request_id=self.response_id)

    def _event(self, data: str) -> dict[str, Any] | Exception:
        """One payload as an event object, or the exception it stands for (an error object, or not JSON)."""
        try:
            event = _parse(data)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            what = "not JSON" if event is None else "not an object"
            shown = redact(data, *self.secrets)[:120]
            return litellm.APIError(
                status_code=502,
                message=f"CodeBuddy sent a stream event that is {what}: {shown!r}",
                llm_provider=PROVIDER,
                model=self.model,
            )
        if "choices" not in event and is_error_body(event):
            return error_from_body(event, 200, self.model, secrets=self.secrets)
        return event

    def check(self) -> None:
        """Raise the error that arrived after content in the last batch (once that content was handed on)."""
        if self.pending_error is not None:
            error, self.pending_error = self.pending_error, None
            raise error

    def _fold_call(self, call: dict[str, Any], calls: dict[int, dict[str, Any]]) -> None:
        if not isinstance(call, dict):
            return
        pos, first = self._tool_position(call)
        fn = call.get("function") or {}
        name = fn.get("name") or None
        args = fn.get("arguments") or ""
        if name and self._names[pos] is None:
            self._names[pos] = name
            first = True
        if self.accumulate:
            if args:
                self._args[pos].append(args)
            return
        entry = calls.get(pos)
        if entry is None:
            entry = calls[pos] = {
                "index": pos,
                "id": None,
                "type": "function",
                "function": {"name": None, "arguments": ""},
            }
        if first:
            entry["id"] = self._ids[pos]
            entry["function"]["name"] = self._names[pos]
        entry["function"]["arguments"] += args

    # -------------------------------------------------------------- chunks

    def _delta_chunk(self, text: str, thinking: str, calls: list[dict[str, Any]]) -> Any:
        if not thinking and len(calls) <= 1:
            return {
                "text": text,
                "tool_use": calls[0] if calls else None,
                "is_finished": False,
                "finish_reason": "",
                "usage": None,
                "index": 0,
            }
        delta = Delta(
            content=text or None,
            reasoning_content=thinking or None,
            tool_calls=[ChatCompletionDeltaToolCall(**c) for c in calls] or None,
        )
        return ModelResponseStream(model=self.model, choices=[StreamingChoices(index=0, delta=delta)])

    def _final_finish_reason(self) -> str:
        return self.finish_reason or ("tool_calls" if self._ids else "stop")

    def usage(self) -> dict[str, Any]:
        """The normalised usage, with ``cost`` (credits x credit_cost) when a credit cost is set."""
        usage = normalise_usage(self.usage_raw, self.count_prompt, self._count_completion)
        cost = credits_cost(usage.get("credit"), self.credit_cost)
        if cost is not None:
            usage["cost"] = cost
        return usage

    def _count_completion(self) -> int:
        text = "".join(self.content) + "".join(self.reasoning) + "".join("".join(a) for a in self._args)
        return litellm.token_counter(text=text) if text else self.events

    def finish_chunk(self) -> dict[str, Any]:
        self.finished_sent = True
        usage = self.usage()
        chunk: dict[str, Any] = {
            "text": "",
            "tool_use": None,
            "is_finished": True,
            "finish_reason": self._final_finish_reason(),
            "usage": usage,
            "index": 0,
        }
        if usage.get("credit") is not None:
            chunk["provider_specific_fields"] = {"credit": usage["credit"]}
        return chunk

    def close(self) -> list[Any]:
        """End of the byte stream: the finishing chunk, or an error when the answer was cut short.

        Complete: a finish_reason was seen, or ``[DONE]`` arrived (then ``stop``/``tool_calls`` is assumed).
        Neither: APIConnectionError, never a silent partial answer.
        """
        self.check()
        if self.accumulate and not self.reasoning and not self._ids:
            self._refuse_soft_block("".join(self.content))
        failed = self._failed_finish()
        if failed is not None:
            raise failed
        if not (self.finish_reason or self.done):
            raise litellm.APIConnectionError(
                message=(
                    f"CodeBuddy stream ended without [DONE] or a finish_reason after {self.events} events: "
                    "the answer is incomplete"
                ),
                llm_provider=PROVIDER,
                model=self.model,
            )
        if self.accumulate or self.finished_sent:
            return []
        return [self.finish_chunk()]

    # -------------------------------------------------------------- non-streaming

    def build_response(self, model_response: ModelResponse) -> ModelResponse:
        content = "".join(self.content)
        tool_calls = [
            {
                "id": self._ids[i],
                "type": "function",
                "function": {"name": self._names[i] or "", "arguments": "".join(self._args[i])},
            }
            for i in range(len(self._ids))
        ]
        message: dict[str, Any] = {"role": "assistant", "content": content if (content or not tool_calls) else None}
        if tool_calls:
            message["tool_calls"] = tool_calls
        if self.reasoning:
            message["reasoning_content"] = "".join(self.reasoning)
        model_response.choices = [
            litellm.Choices(index=0, finish_reason=self._final_finish_reason(), message=litellm.Message(**message))
        ]
        if self.response_id:
            model_response.id = self.response_id
        model_response.model = self.model
        model_response.created = int(time.time())
        usage = self.usage()
        model_response.usage = litellm.Usage(**usage)  # type: ignore[attr-defined]
        hidden = getattr(model_response, "_hidden_params", None)
        if isinstance(hidden, dict):
            hidden["upstream_model"] = self.upstream_model
            if "credit" in usage:
                hidden["codebuddy_credit"] = usage["credit"]
            if "cost" in usage:
                hidden["response_cost"] = usage["cost"]
        return model_response
