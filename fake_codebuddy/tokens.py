"""Token counts the fake reports: an estimate of OpenAI's cl100k tokenizer, standard library only.

Text is cut like cl100k's pre-tokenizer (words with one leading space or sign, digit groups of up to three,
punctuation runs, whitespace), then each piece is priced: a plain word of up to 6 letters is 1 token, a longer
one 1 per 5 letters, an odd mix of letters (``AAAQSkZ``, ``getHTTPResponse``) 2 per 3, plus 1 when a sign or tab
leads it; CJK characters 1.3 each, other non-ASCII letters 1 per 2; a digit group 1; punctuation 1 per 2
characters; whitespace 1 per 16.  On prose, code and JSON this comes out at or somewhat above tiktoken's count
(the tests hold it to that), so a client that subtracts its own tiktoken prompt count from the fake's total is
left with a believable completion figure.

Messages are priced like ``litellm.token_counter``: 4 tokens per message plus 3 for the reply, 85 per image
(OpenAI's low-detail price) and each tool call's name and arguments plus 3; tool definitions as their JSON text.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .messages import images_in, text_of

_PIECE = re.compile(
    r"'(?i:[sdmt]|ll|ve|re)"  # contractions
    r"|(?:[^\r\n\w]|_)?[^\W\d_]+"  # a word, with one leading space or sign
    r"|\d{1,3}"  # digits, three at a time
    r"| ?(?:[^\s\w]|_)+[\r\n]*"  # punctuation
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"  # whitespace
)
_WORDLIKE = re.compile(r"[A-Z]?[a-z]+|[A-Z]{1,4}")
PER_MESSAGE = 4
PER_REPLY = 3
PER_IMAGE = 85
PER_TOOL_CALL = 3


def _letters(word: str) -> int:
    if word.isascii():
        if not _WORDLIKE.fullmatch(word):
            return math.ceil(len(word) * 2 / 3)
        return 1 if len(word) <= 6 else math.ceil(len(word) / 5)
    wide = sum(1 for c in word if c >= "\u2e80")
    return math.ceil(wide * 1.3) + math.ceil((len(word) - wide) / 2)


def _piece(piece: str) -> int:
    core = piece.strip()
    if not core:
        return 1 + len(piece) // 16
    if core[-1].isalpha():
        if piece[0].isalpha():
            return _letters(piece)
        return _letters(piece[1:]) + (piece[0] != " ")  # a sign or tab before a word is often a token of its own
    if core.isdigit():
        return 1
    return math.ceil(len(core) / 2)


def count_tokens(text: str) -> int:
    """The estimated token count of ``text``."""
    return sum(_piece(p) for p in _PIECE.findall(text))


def message_tokens(message: dict[str, Any]) -> int:
    """The estimated prompt tokens of one message (its text, images and tool calls)."""
    content = message.get("content")
    total = PER_MESSAGE + count_tokens(text_of(content)) + PER_IMAGE * images_in(content)
    calls = message.get("tool_calls")
    for call in calls if isinstance(calls, list) else ():
        func = call.get("function") if isinstance(call, dict) else None
        if isinstance(func, dict):
            total += PER_TOOL_CALL + sum(count_tokens(v) for v in func.values() if isinstance(v, str))
    return total


def tools_tokens(tools: Any) -> int:
    """The estimated prompt tokens of a request's tool definitions (the gateway bills them as prompt): their JSON
    text."""
    return count_tokens(json.dumps(tools)) if isinstance(tools, list) and tools else 0


def prompt_tokens(messages: list[dict[str, Any]], tools: Any = None) -> int:
    """The estimated prompt tokens of a chat request's messages and tools."""
    return PER_REPLY + tools_tokens(tools) + sum(message_tokens(m) for m in messages)
