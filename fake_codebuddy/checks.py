"""The gateway's request checks, in the order it applies them: :data:`CHECKS`, each a small function of the request.

After the body is read as a JSON object with a non-empty ``messages`` list of objects (else 11101), each check
returns a :class:`Refusal` (business ``code`` and ``msg``; error bodies and their HTTP status: see ``codes``) or
None, and the first refusal answers the request:

1. ``stream`` is true, else 11101 "Non-stream chat request is currently not supported";
2. some message is a system message, else 11101 "Parse message failed: 11101:invalid request";
3. the first message is the system message, else 11128 "first message is not system prompt";
4. no ``developer`` role, else 11128;
5. no two consecutive assistant messages, else 11133;
6. no empty content (missing, ``None``, ``""``, ``[]``) unless an assistant message carries ``tool_calls``, else
   11151;
7. ``tool_choice`` is absent or a string, else 11101;
8. tool schemas contain no ``$ref``/``$defs``/``allOf`` key, else HTTP **400** ``{"code":400,"msg":"Invalid request
   parameters"}`` (always 400);
9. every tool message's ``tool_call_id`` matches an earlier assistant ``tool_calls`` id, else 11148;
10. no system or assistant text holds one of the phrases the gateway fingerprints
    (:data:`~.refusals.CHANNEL_PHRASES`: Claude Code's and Codex CLI's opening sentences, "OhMyOpenCode", Claude
    Code's billing-header line; exact text, user and tool content are not read), else HTTP **400** 11128 "Illegal
    API invocation from an unapproved channel" with ``displayMsg`` in en, zh and zh-hant (``refusals``);
11. ``model`` is a bare known id (``models.KNOWN_MODELS`` and ``models.ACCOUNT_MODELS``, a picker id of
    ``models.PICKERS``, anything starting with ``fake-``, or the ``models=`` given to the constructor), else 11102
    "service info not found for the model";
12. the prompt fits the model's input window (``models.input_window``; the prompt counted by ``tokens``), else HTTP
    **400** 11115 "prompt is too long: N tokens > M maximum" with ``extError.code`` "context_length_exceeded";
13. content parts are ``{"type":"text","text":str,...}`` or exactly
    ``{"type":"image_url","image_url":{"url":str}}`` (no other keys, no other part types), else 11101;
14. ``reasoning_effort`` "none"/"off", or any word but the gateway's five (``models.ALL_EFFORTS``) -> 11150;
15. ``reasoning_effort`` the model does not accept (``max`` on gpt-5.5, gpt-5.4, gpt-5.3-codex:
    ``models.EFFORTS``) -> 11133 "parameters rejected", naming ``reasoning_effort`` in ``extError.param``;
16. ``max_tokens``, when given, is an integer of at least 16, else 11133 "parameters rejected" naming
    ``max_tokens`` (``max_completion_tokens`` is not read at all: it limits nothing).

A new rule is one more function in :data:`CHECKS`, at its place in the order; it sees the request and the fake's
state (:class:`Chat`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .messages import is_empty, text_of
from .models import ACCOUNT_MODELS, ALL_EFFORTS, PICKERS, efforts_of, input_window
from .refusals import CHANNEL_PHRASES, REFUSALS, Said
from .state import FakeState
from .tokens import prompt_tokens


@dataclass(frozen=True)
class Refusal:
    """Why the gateway refuses a request: business ``code`` and ``msg``; ``status`` forces the HTTP status and the
    bare ``{"code","msg","requestId"}`` body (else the ``status=`` directive's status, default 200), or ``body`` as
    the field reports it (``refusals``) under ``status``."""

    code: int
    msg: str
    status: int | None = None
    param: str | None = None
    """the parameter the gateway names in ``extError.param`` (11133)"""
    body: dict[str, Any] | None = None

    @classmethod
    def field(cls, name: str, said: Said) -> Refusal:
        """The refusal ``name`` of :data:`~.refusals.REFUSALS`, its body naming what ``said`` gives."""
        entry = REFUSALS[name]
        assert entry.body is not None, name
        body = entry.body(said)
        return cls(int(body.get("code", entry.status)), str(body.get("msg", "")), entry.status, body=body)


@dataclass(frozen=True)
class Chat:
    """A chat request that passed the first reading: its body, messages, their roles, and the fake's state."""

    body: dict[str, Any]
    messages: list[dict[str, Any]]
    roles: list[Any]
    state: FakeState


Check = Callable[[Chat], Refusal | None]


def stream_only(chat: Chat) -> Refusal | None:
    if chat.body.get("stream") is not True:
        return Refusal(11101, "Non-stream chat request is currently not supported")
    return None


def system_present(chat: Chat) -> Refusal | None:
    if "system" not in chat.roles:
        return Refusal(11101, "Parse message failed: 11101:invalid request")
    return None


def system_first(chat: Chat) -> Refusal | None:
    if chat.roles[0] != "system":
        return Refusal(11128, "first message is not system prompt")
    return None


def no_developer(chat: Chat) -> Refusal | None:
    if "developer" in chat.roles:
        return Refusal(11128, "request illegal: role developer is not supported")
    return None


def no_consecutive_assistants(chat: Chat) -> Refusal | None:
    for first, second in itertools.pairwise(chat.roles):
        if first == second == "assistant":
            return Refusal(11133, "invalid parameter: consecutive assistant messages")
    return None


def no_empty_content(chat: Chat) -> Refusal | None:
    for m in chat.messages:
        if is_empty(m.get("content")) and not (m.get("role") == "assistant" and m.get("tool_calls")):
            return Refusal(11151, "message content must not be empty")
    return None


def tool_choice_is_a_string(chat: Chat) -> Refusal | None:
    choice = chat.body.get("tool_choice")
    if choice is not None and not isinstance(choice, str):
        return Refusal(11101, "Parse message failed: 11101:invalid request (tool_choice)")
    return None


def _has_schema_refs(node: Any) -> bool:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("$ref", "$defs", "allOf") or _has_schema_refs(value):
                return True
    elif isinstance(node, list):
        return any(_has_schema_refs(item) for item in node)
    return False


def no_schema_refs(chat: Chat) -> Refusal | None:
    if _has_schema_refs(chat.body.get("tools")):
        return Refusal(400, "Invalid request parameters", status=400)
    return None


def tool_results_match_calls(chat: Chat) -> Refusal | None:
    seen: set[Any] = set()
    for m in chat.messages:
        if m.get("role") == "assistant" and isinstance(m.get("tool_calls"), list):
            seen.update(c.get("id") for c in m["tool_calls"] if isinstance(c, dict))
        elif m.get("role") == "tool" and m.get("tool_call_id") not in seen:
            return Refusal(11148, "invalid tool call sequence: tool result without a matching tool call")
    return None


def approved_channel(chat: Chat) -> Refusal | None:
    for m in chat.messages:
        if m.get("role") in ("system", "assistant"):
            text = text_of(m.get("content"))
            if any(phrase in text for phrase in CHANNEL_PHRASES):
                return Refusal.field("channel", Said(model=str(chat.body.get("model"))))
    return None


def known_model(chat: Chat) -> Refusal | None:
    model = chat.body.get("model")
    if isinstance(model, str) and (
        model in chat.state.models or model in ACCOUNT_MODELS or model in PICKERS or model.startswith("fake-")
    ):
        return None
    return Refusal(11102, "service info not found for the model")


def fits_the_window(chat: Chat) -> Refusal | None:
    window = input_window(str(chat.body.get("model")))
    if window is None:
        return None
    tokens = prompt_tokens(chat.messages)
    if tokens <= window:
        return None
    return Refusal.field("toolong", Said(model=str(chat.body.get("model")), prompt_tokens=tokens, window=window))


def _good_part(part: Any) -> bool:
    if not isinstance(part, dict):
        return False
    kind = part.get("type")
    if kind == "text":
        return isinstance(part.get("text"), str)
    if kind == "image_url":
        image = part.get("image_url")
        return (
            set(part) == {"type", "image_url"}
            and isinstance(image, dict)
            and set(image) == {"url"}
            and isinstance(image["url"], str)
        )
    return False


def content_parts(chat: Chat) -> Refusal | None:
    for m in chat.messages:
        content = m.get("content")
        if content is not None and not isinstance(content, (str, list)):
            return Refusal(11101, "Parse message failed: 11101:invalid request (content)")
        if isinstance(content, list) and not all(_good_part(p) for p in content):
            return Refusal(11101, "Parse message failed: 11101:invalid request (content part)")
    return None


def reasoning_effort(chat: Chat) -> Refusal | None:
    effort = chat.body.get("reasoning_effort")
    if effort is not None and not (isinstance(effort, str) and effort in ALL_EFFORTS):
        return Refusal(11150, "reasoning_effort value is not supported by this model")
    return None


PARAMETERS_REJECTED = "invalid parameter: parameters rejected"
MIN_MAX_TOKENS = 16


def effort_accepted(chat: Chat) -> Refusal | None:
    effort = chat.body.get("reasoning_effort")
    if effort is not None and effort not in efforts_of(str(chat.body.get("model"))):
        return Refusal(11133, PARAMETERS_REJECTED, param="reasoning_effort")
    return None


def max_tokens_at_least_16(chat: Chat) -> Refusal | None:
    limit = chat.body.get("max_tokens")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < MIN_MAX_TOKENS):
        return Refusal(11133, PARAMETERS_REJECTED, param="max_tokens")
    return None


CHECKS: tuple[Check, ...] = (
    stream_only,
    system_present,
    system_first,
    no_developer,
    no_consecutive_assistants,
    no_empty_content,
    tool_choice_is_a_string,
    no_schema_refs,
    tool_results_match_calls,
    approved_channel,
    known_model,
    fits_the_window,
    content_parts,
    reasoning_effort,
    effort_accepted,
    max_tokens_at_least_16,
)


def read_chat(body: Any, state: FakeState) -> Chat | Refusal:
    """The request as a :class:`Chat`, or the 11101 refusal of a body that is not one."""
    if not isinstance(body, dict):
        return Refusal(11101, "Parse message failed: 11101:invalid request (body is not a JSON object)")
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) for m in msgs):
        return Refusal(11101, "Parse message failed: 11101:invalid request (messages)")
    return Chat(body, msgs, [m.get("role") for m in msgs], state)


def validate(body: Any, state: FakeState) -> Refusal | None:
    """The first refusal among the reading and :data:`CHECKS`, or None when the request passes."""
    chat = read_chat(body, state)
    if isinstance(chat, Refusal):
        return chat
    for check in CHECKS:
        refusal = check(chat)
        if refusal is not None:
            return refusal
    return None
