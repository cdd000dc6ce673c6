"""Pure request building for CodeBuddy: messages, parameters, tools, headers and URL.

Nothing here does I/O: the key comes in already resolved (:mod:`litellm_codebuddy.account.credentials`, called by
the handler). Every rule is one of the gateway's, written up with its source, the fake's check and its tests in
docs/gateway.md; each function names the rules it answers (``docs/gateway.md#<rule>``). Bad input raises a LiteLLM
exception before anything is sent.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..catalog import supported_efforts
from ..endpoint import OWN_HEADERS, BadBaseURL, auth_headers, chat_url
from .cache_key import conversation_id, derive_cache_key
from .params import DEFAULT_POLICY, Policy, bad_request, gateway_params

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "PreparedRequest",
    "bad_request",
    "build_body",
    "build_headers",
    "encode_body",
    "inline_schema",
    "normalise_messages",
    "prepare_request",
    "prepare_tools",
    "resolve_url",
    "validate_messages",
]

logger = logging.getLogger(__name__)

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
# LiteLLM's own keys and keys this provider sets itself: never forwarded as body parameters
_NOT_SENT = frozenset(
    {
        "stream",
        "stream_options",
        "max_retries",
        "extra_headers",
        "extra_body",
        "timeout",
        "api_key",
        "api_base",
        "base_url",
        "allowed_openai_params",
        "drop_params",
        "additional_drop_params",
        "mock_response",
        "num_retries",
        "ssl_verify",
        "client",
        "metadata",
        "proxy_server_request",
        "litellm_metadata",
        "coalesce_ms",
        "auto_prompt_cache_key",
        "private_data",
    }
)


@dataclass(frozen=True)
class EncodedBody:
    """The request body serialised once, and where each message and the tools sit in those bytes."""

    content: bytes
    message_spans: tuple[tuple[int, int], ...]
    tools_span: tuple[int, int] | None = None

    def message_json(self) -> list[memoryview]:
        """Each message's JSON as sent (views into :attr:`content`, nothing copied)."""
        view = memoryview(self.content)
        return [view[start:end] for start, end in self.message_spans]

    def tools_json(self) -> memoryview | None:
        """The tools' JSON as sent, or None when no tools are sent."""
        if self.tools_span is None:
            return None
        return memoryview(self.content)[self.tools_span[0] : self.tools_span[1]]

    def appended(self, key: str, value: Any) -> EncodedBody:
        """The same body with ``key: value`` added at its end (the spans stay where they are)."""
        field = _encode(key) + ":" + _encode(value)
        tail = ("," + field if len(self.content) > 2 else field) + "}"
        return EncodedBody(self.content[:-1] + tail.encode("ascii"), self.message_spans, self.tools_span)


@dataclass(frozen=True)
class PreparedRequest:
    """Everything the handler needs to send one call: built without I/O, free of LiteLLM objects.

    ``body`` is what is sent, as objects (it shares the caller's unchanged messages and tools: read it, never
    modify it); ``encoded`` is the same body as the bytes that go on the wire.
    """

    url: str
    headers: dict[str, str]
    body: dict[str, Any]
    model: str
    encoded: EncodedBody = field(repr=False, compare=False)
    api_key: str = field(repr=False)

    def __repr__(self) -> str:  # the key is never shown
        return f"PreparedRequest(url={self.url!r}, model={self.model!r}, messages={len(self.body['messages'])})"


# ---------------------------------------------------------------- URL and headers


def resolve_url(api_base: str | None, model: str = "") -> str:
    """The chat endpoint for ``api_base`` (or ``CODEBUDDY_API_BASE``, or the default); BadRequestError if bad."""
    try:
        return chat_url(api_base)
    except BadBaseURL as exc:
        raise bad_request(str(exc), model) from None


def build_headers(
    api_key: str,
    extra_headers: Mapping[str, Any] | None = None,
    *,
    private_data: bool = False,
    conversation: str | None = None,
    request_id: str | None = None,
) -> dict[str, str]:
    """The headers of a model request: the key twice and our User-Agent (docs/gateway.md#both-auth-headers,
    docs/gateway.md#honest-user-agent), ``X-Private-Data`` (docs/gateway.md#privacy-header), ``X-Conversation-ID``
    and ``X-Request-ID`` when given (docs/gateway.md#correlation-headers), then the caller's ``extra_headers``.

    A caller's header named in :data:`~litellm_codebuddy.endpoint.OWN_HEADERS` (whatever its case) is not sent,
    with a debug log naming it: the provider's own headers are never replaced (docs/gateway.md#own-headers)."""
    headers = {**auth_headers(api_key), "Content-Type": "application/json", "Accept": "text/event-stream"}
    headers["X-Private-Data"] = "true" if private_data else "false"
    if conversation is not None:
        headers["X-Conversation-ID"] = conversation
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    for name, value in (extra_headers or {}).items():
        if value is None:
            continue
        if str(name).lower() in OWN_HEADERS:
            logger.debug("CodeBuddy: the caller's %s header is not sent: the provider sets its own", str(name)[:40])
            continue
        headers[str(name)] = str(value)
    return headers


# ---------------------------------------------------------------- messages


def _is_empty(content: Any) -> bool:
    if content is None:
        return True
    if isinstance(content, str):
        return content == ""
    if isinstance(content, list):
        return all(isinstance(p, dict) and p.get("type") == "text" and not p.get("text") for p in content)
    return False


def _text_of(content: Any) -> str:
    """The text of a string or a list of text parts (parts joined by a newline)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")


def _normalise_parts(content: Any, model: str, where: str) -> Any:
    """Image parts exactly as the gateway wants them: ``{"type":"image_url","image_url":{"url":str}}``.

    The list (and each part) is the caller's own when nothing needs changing; otherwise a new list.
    """
    if not isinstance(content, list):
        return content
    out: list[Any] | None = None
    for i, part in enumerate(content):
        if not isinstance(part, dict):
            raise bad_request(f"{where}: a content part must be an object, got {type(part).__name__}", model)
        if part.get("type") != "image_url":
            if out is not None:
                out.append(part)
            continue
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if not isinstance(url, str) or not url:
            raise bad_request(f"{where}: an image_url part needs a URL string", model)
        if len(part) == 2 and isinstance(image, dict) and len(image) == 1:
            shaped = part  # already {"type": "image_url", "image_url": {"url": url}}
        else:
            shaped = {"type": "image_url", "image_url": {"url": url}}
        if out is None and shaped is not part:
            out = content[:i]
        if out is not None:
            out.append(shaped)
    return content if out is None else out


_IMAGE_ROLES = frozenset({"user", "tool", "function"})


def _check_parts(content: list[Any], role: Any, model: str, where: str) -> None:
    """Each part is one the gateway takes: a text part with a string ``text``, or an image part in a user or tool
    message (docs/gateway.md#content-parts). A document, ``file``, ``input_audio`` or any other part is refused
    here, naming it, rather than sent to be refused upstream (the gateway answers 11101)."""
    for j, part in enumerate(content):
        at = f"{where}.content[{j}]"
        if not isinstance(part, dict):
            raise bad_request(f"{at}: a content part must be an object, got {type(part).__name__}", model)
        kind = part.get("type")
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise bad_request(f"{at}: a text part needs a 'text' string", model)
        elif kind == "image_url":
            if role not in _IMAGE_ROLES:
                raise bad_request(
                    f"{at}: an image_url part cannot be in a {role} message (its content is sent as text; "
                    "images go in user messages)",
                    model,
                )
        else:
            what = f"a {kind!r} part" if isinstance(kind, str) else "a part without a 'type' string"
            raise bad_request(
                f"{at}: {what} cannot be sent to CodeBuddy: the gateway takes only text and image_url parts "
                "(documents, files and audio are refused; docs/gateway.md#content-parts)",
                model,
            )


def _not_empty(content: Any, model: str, where: str) -> None:
    """A tool (or function) result cannot be left out like an empty user message (its call needs it) and the
    gateway refuses empty content (docs/gateway.md#empty-content): refused here, before anything is sent."""
    if _is_empty(content):
        raise bad_request(
            f"{where}: a tool result with empty content cannot be sent (the gateway refuses empty content, 11151): "
            "give the result some text",
            model,
        )


def _tool_calls(calls: Any, model: str, where: str) -> list[dict[str, Any]]:
    """An assistant message's ``tool_calls``: none, or a list of ``{"id", "type", "function": {"name", "arguments"}}``
    objects whose id, name and arguments, where given, are strings (the gateway parses them as OpenAI's)."""
    if calls is None:
        return []
    if not isinstance(calls, list):
        raise bad_request(f"{where}.tool_calls must be a list, got {type(calls).__name__}", model)
    for j, call in enumerate(calls):
        fn = call.get("function", {}) if isinstance(call, dict) else None
        if not isinstance(fn, dict):
            raise bad_request(f"{where}.tool_calls[{j}] must be {{'id': ..., 'function': {{'name': ...}}}}", model)
        given = [call.get("id"), fn.get("name"), fn.get("arguments")]
        if not all(value is None or isinstance(value, str) for value in given):
            raise bad_request(
                f"{where}.tool_calls[{j}]: its id, function.name and function.arguments must be strings", model
            )
    return calls


def validate_messages(messages: Any, model: str = "") -> None:
    """Reject input the gateway cannot take, with a message saying what is wrong (nothing is sent)."""
    if messages is None:
        raise bad_request("messages is missing", model)
    if not isinstance(messages, list):
        raise bad_request(f"messages must be a list, got {type(messages).__name__}", model)
    if not messages:
        raise bad_request("messages is empty: send at least one message", model)
    call_ids: set[str] = set()
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise bad_request(f"{where} must be an object with 'role' and 'content', got {type(msg).__name__}", model)
        role = msg.get("role")
        if not isinstance(role, str) or role not in _ROLES:
            raise bad_request(f"{where} has an unknown role {role!r} (expected one of {sorted(_ROLES)})", model)
        content = msg.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise bad_request(f"{where}.content must be a string or a list of parts", model)
        if isinstance(content, list):
            _check_parts(content, role, model, where)
        if role == "assistant":
            for call in _tool_calls(msg.get("tool_calls"), model, where):
                if call.get("id"):
                    call_ids.add(str(call["id"]))
            if "content" not in msg and not msg.get("tool_calls") and not msg.get("function_call"):
                raise bad_request(f"{where}: an assistant message needs content or tool_calls", model)
        elif role == "tool":
            call_id = msg.get("tool_call_id")
            if not call_id:
                raise bad_request(f"{where}: a tool message needs a tool_call_id", model)
            if str(call_id) not in call_ids:
                raise bad_request(
                    f"{where}: tool result for tool_call_id {call_id!r} has no matching assistant tool call before it",
                    model,
                )
            _not_empty(content, model, where)
        elif "content" not in msg:
            raise bad_request(f"{where}: a {role} message needs content", model)
        elif role == "function":
            _not_empty(content, model, where)


def normalise_messages(messages: list[dict[str, Any]], model: str = "") -> list[dict[str, Any]]:
    """The conversation in the shape the gateway accepts, with its meaning unchanged.

    - all system and developer messages become one system message at the front (texts joined by a blank
      line, in order, never rewritten); "You are a helpful assistant." when there is none
      (docs/gateway.md#system-message-first, docs/gateway.md#developer-role, docs/gateway.md#unapproved-channel);
    - empty user, system and assistant-without-tool-calls messages are dropped (docs/gateway.md#empty-content);
    - consecutive assistant messages are merged (docs/gateway.md#consecutive-assistants);
    - an assistant message with tool calls carries its reasoning back as a ``reasoning`` string (from
      ``reasoning_content``, ``reasoning`` or Anthropic ``thinking_blocks``), as the official client sends it; an
      assistant message without tool calls carries none (docs/gateway.md#reasoning-in-history);
    - tool messages and assistant ``tool_calls`` are kept as they are; image parts take the exact shape
      (docs/gateway.md#image-parts);
    - the order of everything else is kept, so the gateway's prefix cache keeps hitting
      (docs/gateway.md#message-order-kept).

    A message that needs no change is the caller's own object (nothing is copied); a changed one is a new dict.
    The caller's messages are never modified.
    """
    system_texts: list[str] = []
    out: list[dict[str, Any]] = []
    for i, original in enumerate(messages):
        role = original.get("role")
        content = original.get("content")
        if role in ("system", "developer"):
            if not _is_empty(content):
                system_texts.append(_text_of(content))
            continue
        if role == "assistant":
            has_calls = bool(original.get("tool_calls")) or bool(original.get("function_call"))
            if _is_empty(content) and not has_calls:
                continue
            msg = _with_reasoning(original, has_calls)
            if out and out[-1].get("role") == "assistant":
                out[-1] = _merge_assistant(out[-1], msg)
                continue
            out.append(msg)
            continue
        if role == "user" and _is_empty(content):
            continue
        parts = _normalise_parts(content, model, f"messages[{i}]")
        out.append(original if parts is content else {**original, "content": parts})
    system = "\n\n".join(system_texts) if system_texts else DEFAULT_SYSTEM_PROMPT
    return [{"role": "system", "content": system}, *out]


_REASONING_KEYS = ("reasoning_content", "thinking_blocks", "reasoning")


def _reasoning_text(message: Mapping[str, Any]) -> str:
    """An assistant message's reasoning as one string: ``reasoning_content`` (LiteLLM's), else a ``reasoning``
    string, else the text of Anthropic ``thinking_blocks`` (redacted blocks carry none); "" when there is none."""
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    blocks = message.get("thinking_blocks")
    if isinstance(blocks, list):
        texts = [b["thinking"] for b in blocks if isinstance(b, dict) and isinstance(b.get("thinking"), str)]
        return "\n".join(t for t in texts if t)
    return ""


def _with_reasoning(message: dict[str, Any], has_calls: bool) -> dict[str, Any]:
    """The assistant ``message`` with its reasoning as a ``reasoning`` string when it has tool calls, and with no
    reasoning otherwise (docs/gateway.md#reasoning-in-history); the caller's own object when that is what it is."""
    present = [k for k in _REASONING_KEYS if k in message]
    if not present:
        return message
    text = _reasoning_text(message) if has_calls else ""
    if present == ["reasoning"] and message["reasoning"] == text:
        return message
    out = {k: v for k, v in message.items() if k not in _REASONING_KEYS}
    if text:
        out["reasoning"] = text
    return out


def _merge_assistant(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    merged = dict(first)
    texts = [t for t in (_text_of(first.get("content")), _text_of(second.get("content"))) if t]
    merged["content"] = "\n".join(texts) if texts else None
    calls = list(first.get("tool_calls") or []) + list(second.get("tool_calls") or [])
    if calls:
        merged["tool_calls"] = calls
    thoughts = [t for t in (first.get("reasoning"), second.get("reasoning")) if t]
    if thoughts:
        merged["reasoning"] = "\n".join(thoughts)
    return merged


# ---------------------------------------------------------------- tools


def inline_schema(schema: Any) -> Any:
    """A JSON schema without ``$ref``, ``$defs``/``definitions`` or ``allOf`` (the gateway rejects them:
    docs/gateway.md#inline-tool-schemas).

    Local references (``#/$defs/X``, ``#/definitions/X``, ``#``) are inlined; a recursive reference is cut
    to ``{"type": "object"}`` at its second appearance on one path; ``allOf`` members are merged.

    Nothing is copied that does not change: a schema without those keys is returned as it is (the same object),
    and otherwise only the objects and lists on the way to a change are new; the rest, inlined definitions
    included, is shared with ``schema``. ``schema`` itself is never modified.
    """
    if not isinstance(schema, dict) or not _has_schema_keys(schema):
        return schema
    root = schema

    def resolve(ref: str) -> Any:
        if not ref.startswith("#"):
            return None
        node: Any = root
        for token in [t for t in ref[1:].split("/") if t]:
            token = token.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or token not in node:
                return None
            node = node[token]
        return node

    def walk(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            items = [walk(item, seen) for item in node]
            return node if all(a is b for a, b in zip(items, node, strict=True)) else items
        if not isinstance(node, dict) or not _has_schema_keys(node):
            return node
        if "$ref" in node and isinstance(node["$ref"], str):
            ref = node["$ref"]
            target = resolve(ref)
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            if target is None or ref in seen:
                resolved: dict[str, Any] = {"type": "object"}
            else:
                resolved = walk(target, (*seen, ref))
            return walk({**resolved, **siblings}, seen) if siblings else resolved
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("$defs", "definitions"):
                continue
            out[key] = walk(value, seen)
        if "allOf" in out:
            members = out.pop("allOf")
            for member in members if isinstance(members, list) else []:
                out = _merge_schema(out, member)
        return out

    return walk(schema, ())


def _has_schema_keys(node: Any) -> bool:
    """Whether ``node`` or anything inside it has a ``$ref``, ``$defs``, ``definitions`` or ``allOf`` key."""
    if isinstance(node, dict):
        if "$ref" in node or "$defs" in node or "definitions" in node or "allOf" in node:
            return True
        values: Any = node.values()
    elif isinstance(node, list):
        values = node
    else:
        return False
    for value in values:
        if type(value) is not str and _has_schema_keys(value):  # most of a schema is strings: skipped at once
            return True
    return False


def _merge_schema(base: dict[str, Any], extra: Any) -> dict[str, Any]:
    if not isinstance(extra, dict):
        return base
    merged = dict(base)
    for key, value in extra.items():
        if key == "properties" and isinstance(value, dict):
            merged["properties"] = {**merged.get("properties", {}), **value}
        elif key == "required" and isinstance(value, list):
            merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
        elif key not in merged:
            merged[key] = value
    return merged


def _validate_tools(tools: Any, model: str) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise bad_request("tools must be a list of {type: function, function: {...}} objects", model)
    for i, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type", "function") != "function" or not isinstance(fn, dict):
            raise bad_request(f"tools[{i}] must be {{'type': 'function', 'function': {{'name': ...}}}}", model)
        if not isinstance(fn.get("name"), str) or not fn["name"]:
            raise bad_request(f"tools[{i}].function.name must be a non-empty string", model)
        params = fn.get("parameters")
        if params is not None and not isinstance(params, dict):
            raise bad_request(f"tools[{i}].function.parameters must be a JSON schema object", model)
        if params is not None and _deeper_than(params, MAX_SCHEMA_DEPTH):
            raise bad_request(
                f"tools[{i}].function.parameters is nested more than {MAX_SCHEMA_DEPTH} levels deep", model
            )
    return tools


MAX_SCHEMA_DEPTH = 128
"""the deepest tool schema sent (objects and lists inside objects and lists); real ones are a few dozen deep. A
fixed limit, so the answer to a deep schema never depends on how deep the caller's own stack happens to be (the
inliner and the JSON encoder recurse)."""


def _deeper_than(node: Any, limit: int, depth: int = 1) -> bool:
    """Whether ``node`` nests objects and lists more than ``limit`` levels deep. Recursive, but never more than
    ``limit`` + 1 calls deep, whatever ``node`` is: the answer cannot depend on the caller's stack."""
    if depth > limit:
        return True
    for child in node.values() if isinstance(node, dict) else node:
        kind = type(child)
        if kind is str:  # most of a schema: skipped at once
            continue
        if (kind is dict or kind is list or isinstance(child, (dict, list))) and _deeper_than(child, limit, depth + 1):
            return True
    return False


#: the string choices the gateway takes
_TOOL_CHOICES = ("none", "auto", "required")


def _check_tool_choice(tool_choice: Any, model: str) -> None:
    """``tool_choice`` is absent, one of OpenAI's words, or an object naming a function
    (docs/gateway.md#tool-choice-string): anything else would reach the gateway as a string it does not know, or
    as a value it cannot parse."""
    if tool_choice is None or isinstance(tool_choice, dict) or tool_choice in _TOOL_CHOICES:
        return
    shown = repr(tool_choice)[:60] if isinstance(tool_choice, str) else type(tool_choice).__name__
    raise bad_request(f"tool_choice must be one of {', '.join(_TOOL_CHOICES)} or a named function, got {shown}", model)


def prepare_tools(tools: Any, tool_choice: Any, model: str = "") -> tuple[list[dict[str, Any]] | None, Any]:
    """Tools with inlined schemas, and a string ``tool_choice`` (docs/gateway.md#tool-choice-string).

    A named choice ``{"type":"function","function":{"name":N}}`` keeps its meaning as ``"required"``
    with only tool N sent. ``"none"`` sends no tools and no choice: the gateway ignores it while tools are sent
    (docs/gateway.md#tool-choice-none). Any other string than ``"auto"``, ``"none"`` and ``"required"``, or a value
    that is neither a string nor an object, is a BadRequestError.
    """
    _check_tool_choice(tool_choice, model)
    if tool_choice == "none":
        if tools is not None:
            _validate_tools(tools, model)
        return None, None
    if tools is None:
        if isinstance(tool_choice, dict):
            raise bad_request("tool_choice names a function but no tools were given", model)
        return None, tool_choice
    tools = _validate_tools(tools, model)
    if isinstance(tool_choice, dict):
        fn = tool_choice.get("function")
        name = (fn.get("name") if isinstance(fn, dict) else None) or tool_choice.get("name")
        chosen = [t for t in tools if t["function"]["name"] == name]
        if not chosen:
            raise bad_request(f"tool_choice names {name!r}, which is not among the tools given", model)
        tools, tool_choice = chosen, "required"
    out = []
    for i, tool in enumerate(tools):
        fn = tool["function"]
        params = fn.get("parameters")
        try:
            inlined = inline_schema(params)
        except RecursionError:
            raise bad_request(f"tools[{i}].function.parameters is nested too deeply", model) from None
        if inlined is not params:
            fn = {**fn, "parameters": inlined}
        # the caller's tool itself when nothing changes (``type`` may be missing: "function" is the default)
        out.append(tool if fn is tool["function"] and "type" in tool else {**tool, "type": "function", "function": fn})
    return out, tool_choice


# ---------------------------------------------------------------- body


def build_body(
    model: str, messages: list[dict[str, Any]], optional_params: Mapping[str, Any], policy: Policy = DEFAULT_POLICY
) -> dict[str, Any]:
    params = dict(optional_params)
    extra_body = params.pop("extra_body", None)
    if isinstance(extra_body, dict):
        params = {**extra_body, **params}
    body: dict[str, Any] = {"model": model, "messages": normalise_messages(messages, model)}
    tools, tool_choice = prepare_tools(params.pop("tools", None), params.pop("tool_choice", None), model)
    # token limits, reasoning, response_format and logprobs as the gateway reads them (params.py)
    read_own_way = gateway_params(model, params, policy, supported_efforts(model))
    for key, value in params.items():
        if key not in _NOT_SENT and value is not None:
            body[key] = value
    if tools:
        body["tools"] = tools
    if tool_choice is not None and tools:
        body["tool_choice"] = tool_choice
    body.update(read_own_way)
    body["stream"] = True
    body["stream_options"] = {"include_usage": True}
    return body


def prepare_request(
    model: str,
    messages: Any,
    optional_params: Mapping[str, Any],
    api_key: str,
    api_base: str | None,
    extra_headers: Mapping[str, Any] | None = None,
    policy: Policy = DEFAULT_POLICY,
    request_id: str | None = None,
) -> PreparedRequest:
    """Check the input and build the whole request for a resolved key; raises before any network on bad input.
    ``request_id``: the call's ``X-Request-ID`` (a new uuid4 when None)."""
    if not model or not str(model).strip():
        raise bad_request("the model id is empty: use codebuddy/<model id>, e.g. codebuddy/gpt-5.5")
    url = resolve_url(api_base, model)
    validate_messages(messages, model)
    body = build_body(model, messages, optional_params, policy)
    derive = _given_cache_key(body, policy, model)
    encoded = encode_body(body, model)
    _check_unicode(encoded.content, messages, optional_params, model)
    key = body.get("prompt_cache_key")
    if derive or key is None:  # from the tools as encoded: body and bytes stay one serialisation
        key = derive_cache_key(api_key, body, encoded.tools_json())
        if derive:
            body["prompt_cache_key"] = key
            encoded = encoded.appended("prompt_cache_key", key)
    headers = build_headers(
        api_key,
        {**(optional_params.get("extra_headers") or {}), **(extra_headers or {})},
        private_data=policy.private_data,
        conversation=conversation_id(api_key, key),
        request_id=request_id or str(uuid.uuid4()),
    )
    return PreparedRequest(url=url, headers=headers, body=body, model=model, api_key=api_key, encoded=encoded)


def _check_unicode(content: bytes, messages: list[Any], params: Mapping[str, Any], model: str) -> None:
    """Refuse a lone surrogate (``"\\ud800"`` without its pair: not Unicode text, so it cannot be sent as UTF-8)
    anywhere in the request, naming the field. The body is ASCII JSON, where every character beyond the BMP and
    every surrogate is a ``\\udXXX`` escape: only a body holding one is searched (emoji take that path too)."""
    if b"\\ud" not in content:
        return
    found = (
        _lone_surrogate(model, "model") or _lone_surrogate(messages, "messages") or _lone_surrogate(dict(params), "")
    )
    if found is not None:
        raise bad_request(f"{found} holds a lone surrogate (not valid Unicode text, so it cannot be sent)", model)


def _lone_surrogate(value: Any, path: str) -> str | None:
    """The path of the first string in ``value`` (keys included) that is not valid Unicode, or None."""
    if isinstance(value, str):
        if value.isascii():
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "a value"
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found = _lone_surrogate(key, where) or _lone_surrogate(item, where)
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _lone_surrogate(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _given_cache_key(body: dict[str, Any], policy: Policy, model: str) -> bool:
    """The caller's ``prompt_cache_key`` as it is (moved to the end of the body, where a derived one goes); True
    when there is none and one is to be derived for the conversation (:mod:`.cache_key`): the gateway caches a
    prefix only under a key."""
    given = body.pop("prompt_cache_key", None)
    if given is not None and not isinstance(given, str):
        raise bad_request(f"prompt_cache_key must be a string, got {type(given).__name__}", model)
    if given:
        body["prompt_cache_key"] = given
        return False
    return policy.auto_cache_key


# ---------------------------------------------------------------- the bytes


# ``json.dumps(value, separators=(",", ":"), check_circular=False)``, the encoder made once, not once per call (the
# body's messages are encoded one by one): a structure that contains itself raises RecursionError, caught below
_encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def encode_body(body: Mapping[str, Any], model: str = "") -> EncodedBody:
    """``body`` as compact JSON bytes (``json.dumps(body, separators=(",", ":"))``, ASCII), serialised once.

    Each message is serialised on its own and joined in place, so the prompt count can key each message by its
    JSON as sent (``EncodedBody.message_json``) without serialising anything again. A value JSON cannot hold
    raises BadRequestError before anything is sent.
    """
    pieces: list[str] = []
    size = 0
    message_spans: list[tuple[int, int]] = []
    tools_span: tuple[int, int] | None = None
    try:
        for key, value in body.items():
            head = ("," if pieces else "{") + _encode(key) + ":"
            pieces.append(head)
            size += len(head)
            if key == "messages" and isinstance(value, list):
                pieces.append("[")
                size += 1
                for i, message in enumerate(value):
                    if i:
                        pieces.append(",")
                        size += 1
                    text = _encode(message)
                    pieces.append(text)
                    message_spans.append((size, size + len(text)))
                    size += len(text)
                pieces.append("]")
                size += 1
                continue
            text = _encode(value)
            if key == "tools":
                tools_span = (size, size + len(text))
            pieces.append(text)
            size += len(text)
    except (TypeError, ValueError, RecursionError) as exc:  # RecursionError: a structure that contains itself
        raise bad_request(f"the request cannot be sent as JSON: {exc}", model) from None
    pieces.append("}" if pieces else "{}")
    # ensure_ascii: every character is one byte, so the spans counted in characters are byte offsets
    return EncodedBody("".join(pieces).encode("ascii"), tuple(message_spans), tools_span)
