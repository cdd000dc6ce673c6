"""The shape of a request body, checked before the proxy's Router sees it (pure: no I/O, no LiteLLM).

LiteLLM's own code reads ``messages``, each message's ``content`` and the Responses API's ``input`` before any
provider does, and a value of the wrong JSON type there (a string for ``messages``, ``42`` for ``content``) fails
inside it with a Python error that the Router retries and the proxy answers 400 or 500 with a traceback. These
checks name the first field of the wrong type, so the proxy can answer 400 at once. They check JSON types only:
what the values mean (roles, part types, empty conversations) is the provider's to judge.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["CHAT_ROUTES", "CLIENT_CREDENTIALS", "client_credentials", "problem"]

#: the proxy's route types (LiteLLM's ``route_type`` / ``call_type``) whose body is a chat-completions request
CHAT_ROUTES = frozenset({"completion", "acompletion"})
_MESSAGES_ROUTE = "anthropic_messages"
_RESPONSES_ROUTE = "aresponses"

#: body fields that would replace the operator's CodeBuddy credentials for one request (LiteLLM itself refuses
#: ``api_base`` and ``base_url`` unless the operator opts in; it lets ``api_key`` through)
CLIENT_CREDENTIALS = ("api_key",)


def problem(route_type: str, body: Mapping[str, Any]) -> str | None:
    """What is wrong with the JSON types of ``body`` for this front-end, or None when its shape is fine."""
    if route_type not in CHAT_ROUTES and route_type not in (_MESSAGES_ROUTE, _RESPONSES_ROUTE):
        return None
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        # LiteLLM takes any true value as a stream and then sends Python reprs instead of events
        return f"`stream` must be true or false, got {_kind(stream)}"
    if route_type in CHAT_ROUTES:
        if "messages" not in body:
            return None  # LiteLLM answers a missing ``messages`` itself (400, "Missing required parameter")
        return _messages(body["messages"])
    if route_type == _MESSAGES_ROUTE:
        if "messages" in body and (found := _messages(body["messages"])):
            return found
        system = body.get("system")
        if system is not None and not isinstance(system, str):
            return _parts(system, "system")
        return None
    if route_type == _RESPONSES_ROUTE:
        return _input(body.get("input"))
    return None


def client_credentials(body: Mapping[str, Any]) -> list[str]:
    """The fields of ``body`` that carry a client's own upstream credentials (see :data:`CLIENT_CREDENTIALS`)."""
    return [name for name in CLIENT_CREDENTIALS if body.get(name) is not None]


def _kind(value: Any) -> str:
    """The JSON type of ``value``, as a client would call it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _messages(messages: Any) -> str | None:
    if not isinstance(messages, list):
        return f"`messages` must be an array of message objects, got {_kind(messages)}"
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, Mapping):
            return f"`{where}` must be a message object with a `role`, got {_kind(message)}"
        role = message.get("role")
        if not isinstance(role, str) or not role:
            return f"`{where}.role` must be a string, got {_kind(role)}"
        content = message.get("content")
        if content is not None and not isinstance(content, str) and (found := _parts(content, f"{where}.content")):
            return found
    return None


def _parts(parts: Any, where: str) -> str | None:
    """A content value that is not a string: it must be an array of objects, each with a string ``type``."""
    if not isinstance(parts, list):
        return f"`{where}` must be a string or an array of content parts, got {_kind(parts)}"
    for j, part in enumerate(parts):
        if not isinstance(part, Mapping):
            return f"`{where}[{j}]` must be a content part object with a `type`, got {_kind(part)}"
        if not isinstance(part.get("type"), str):
            return f"`{where}[{j}].type` must be a string, got {_kind(part.get('type'))}"
    return None


def _input(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return None  # a missing ``input`` is LiteLLM's to answer
    if not isinstance(value, list):
        return f"`input` must be a string or an array of input items, got {_kind(value)}"
    for i, item in enumerate(value):
        where = f"input[{i}]"
        if not isinstance(item, Mapping):
            return f"`{where}` must be an input item object, got {_kind(item)}"
        content = item.get("content")
        if content is not None and not isinstance(content, str) and (found := _parts(content, f"{where}.content")):
            return found
    return None
