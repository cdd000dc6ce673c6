"""Reading OpenAI chat messages: the text of a content, its images, its words."""

from __future__ import annotations

import re
from typing import Any

_WORD_RE = re.compile(r"\s*\S+")


def text_of(content: Any) -> str:
    """A string content as is; the text parts of a list joined with a space; anything else ``""``."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return " ".join(parts)
    return ""


def images_in(content: Any) -> int:
    if isinstance(content, list):
        return sum(1 for p in content if isinstance(p, dict) and p.get("type") == "image_url")
    return 0


def is_empty(content: Any) -> bool:
    return content is None or content == "" or content == []


def words(text: str) -> list[str]:
    """``text`` cut before each run of whitespace: the pieces join back to exactly ``text``."""
    pieces = _WORD_RE.findall(text)
    rest = text[sum(len(p) for p in pieces) :]
    if rest:
        if pieces:
            pieces[-1] += rest
        else:
            pieces = [rest]
    return pieces
