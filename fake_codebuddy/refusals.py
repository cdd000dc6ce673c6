"""The gateway's refusals and limits as the field reports show them, acted out deterministically.

:data:`REFUSALS` is the one table: a name, the HTTP status the reports show it under (200 where none is reported,
the fake's usual worst case), what it is, and the answer. ``refuse=<name>`` answers any of them (``for_model=X``
narrows it to one model, so a fallback to another model is answered). Three have triggers of their own, like the
gateway's:

* ``channel``: fixed phrases (:data:`CHANNEL_PHRASES`) in the text of a system or assistant message, never in user
  or tool content: HTTP 400 11128 "Illegal API invocation from an unapproved channel" with ``displayMsg`` in three
  languages (a request check, ``checks.approved_channel``);
* ``toolong``: a prompt longer than the model's window (``models.input_window``; the fake's own token count): HTTP
  400 11115 "prompt is too long: N tokens > M maximum" (``checks.fits_the_window``);
* ``limit``: a key set over its frequency limit (``FakeCodeBuddy.limit``): HTTP 429 6004 naming the reset time in
  UTC+8, until that time.

The soft block (``softblock``) is an answer, not an error body: a 200 stream whose whole content is
:data:`SOFT_BLOCK_NOTICE`, finished with ``content_filter`` (``answer``). Pure: no I/O.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CHANNEL_PHRASES",
    "MODERATION_NOTICE",
    "REFUSALS",
    "SOFT_BLOCK_NOTICE",
    "UTC8",
    "FieldRefusal",
    "Said",
    "frequency_limit",
    "reset_at",
]

UTC8 = datetime.timezone(datetime.timedelta(hours=8))

#: the content-safety notice (9router #2341, CN; OmniRoute): the whole content of a refused answer
SOFT_BLOCK_NOTICE = "抱歉，系统检测到您当前输入的信息存在敏感内容，我无法响应您的请求，请检查后重新输入。"

#: what the gateway fingerprints in system and assistant text (ccLoad #154, workbuddy2api #36, 9router's
#: ``codebuddySanitise.js``): Claude Code's opening sentence as a whole (either half alone passes), Codex CLI's
#: opening sentence, OhMyOpenCode's name, Claude Code's billing-header line, and the git line Claude Code writes into
#: its system prompt inside a git repository (all three pieces together; buddy-proxy v0.3.10, Parrot #31)
CHANNEL_PHRASES: tuple[str, ...] = (
    "You are Claude Code, Anthropic's official CLI for Claude",
    "You are a coding agent running in the Codex CLI",
    "OhMyOpenCode",
    "x-anthropic-billing-header:",
    "Main branch (you will usually use this for PRs):",
)

_SECURITY = {
    "en": "The request was blocked by security policy. Please retry later or contact support.",
    "zh": "请求被安全策略拦截，请稍后重试或联系客服。",
    "zh-hant": "請求被安全策略攔截，請稍後重試或聯繫客服。",
}
_TOO_LONG = {
    "en": "The input is too long for this model.",
    "zh": "输入内容超出模型上下文长度限制",
    "zh-hant": "輸入內容超出模型上下文長度限制",
}


@dataclass(frozen=True)
class Said:
    """What an answer may name: the requested model, the prompt's and the window's token counts, the reset time."""

    model: str = ""
    prompt_tokens: int = 0
    window: int = 0
    reset: datetime.datetime | None = None


def reset_at(seconds: float = 3600.0) -> datetime.datetime:
    """A reset time ``seconds`` from now in UTC+8, rounded up to the whole second (the gateway names whole
    seconds; rounding up keeps the named time from coming before the real one)."""
    when = datetime.datetime.now(UTC8) + datetime.timedelta(seconds=seconds)
    return when.replace(microsecond=0) + datetime.timedelta(seconds=1 if when.microsecond else 0)


def frequency_limit(reset: datetime.datetime, lang: str = "zh") -> str:
    """6004's message, in the gateway's words (both languages are reported), naming ``reset`` in UTC+8."""
    when = reset.astimezone(UTC8).strftime("%Y-%m-%d %H:%M:%S")
    if lang == "en":
        return (
            f"usage exceeds frequency limit, but don't worry, your usage will reset at {when} UTC+8, alternatively, "
            "you can switch to the other models to continue using it."
        )
    return f"您的使用量已超出频率限制，将在 {when} UTC+8 重置，您也可以切换其他模型继续使用。"


def _body(code: int, msg: str, display: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "msg": msg, **extra}
    body["displayMsg"] = display or {"en": msg, "zh": msg}
    body["requestId"] = str(uuid.uuid4())
    return body


def _too_long(code: int) -> Callable[[Said], dict[str, Any]]:
    def body(said: Said) -> dict[str, Any]:
        msg = f"prompt is too long: {said.prompt_tokens} tokens > {said.window} maximum"
        return _body(code, msg, _TOO_LONG, extError={"code": "context_length_exceeded"})

    return body


def _limit(lang: str) -> Callable[[Said], dict[str, Any]]:
    return lambda said: _body(6004, frequency_limit(said.reset or reset_at(), lang))


#: the moderation refusal's reason: "the content did not pass the safety review, adjust it and retry"
MODERATION_NOTICE = "内容未通过安全审核，请调整后重试。"


def _moderation(status: int) -> dict[str, Any]:
    data = {"code": 0, "message": MODERATION_NOTICE, "statusCode": status, "requestId": str(uuid.uuid4())}
    return {"code": -32603, "message": "Internal error", "data": data}


def _fixed(code: int, msg: str, display: dict[str, str] | None = None) -> Callable[[Said], dict[str, Any]]:
    return lambda said: _body(code, msg, display)


@dataclass(frozen=True)
class FieldRefusal:
    """One refusal or limit: its HTTP status, what it is and where it was seen, and its error body (None: the soft
    block's answer stream)."""

    status: int
    what: str
    body: Callable[[Said], dict[str, Any]] | None


#: name -> the refusal as the field reports show it
REFUSALS: dict[str, FieldRefusal] = {
    "softblock": FieldRefusal(
        200, "the content-safety soft block: a 200 stream whose whole content is the notice (9router #2341)", None
    ),
    "softblock400": FieldRefusal(
        400,
        'the soft block as an error: `{"error":{"message": <notice>}}` (9router\'s and OmniRoute\'s tests)',
        lambda said: {"error": {"message": SOFT_BLOCK_NOTICE}},
    ),
    "channel": FieldRefusal(
        400,
        "11128 unapproved channel, with `displayMsg` in three languages (ccLoad #154, workbuddy2api #36)",
        _fixed(11128, "Illegal API invocation from an unapproved channel", _SECURITY),
    ),
    "illegal": FieldRefusal(400, "11128 in its other wording", _fixed(11128, "request illegal", _SECURITY)),
    "toolong": FieldRefusal(
        400, "11115 context too long, naming the prompt's tokens N and the window M", _too_long(11115)
    ),
    "toolong4028": FieldRefusal(400, "the same under code 4028 (reported on hy3)", _too_long(4028)),
    "inputlong": FieldRefusal(
        400, "11115 worded as on some CN models", _fixed(11115, "input length too long", _TOO_LONG)
    ),
    "limit": FieldRefusal(429, "6004 frequency limit in Chinese, resetting in an hour (UTC+8)", _limit("zh")),
    "limit_en": FieldRefusal(429, "6004 frequency limit in English, resetting in an hour (UTC+8)", _limit("en")),
    "busy": FieldRefusal(200, "11140 as a rate limit", _fixed(11140, "The model provider is rate-limiting requests.")),
    "safety": FieldRefusal(
        403, "11140 as an account or device flag", _fixed(11140, "The content did not pass the safety review.")
    ),
    "credits": FieldRefusal(400, "11114 credits exhausted", _fixed(11114, "insufficient credits")),
    "session": FieldRefusal(401, "12153 session not found", _fixed(12153, "session not found")),
    "backend": FieldRefusal(200, "11103 model backend not supported", _fixed(11103, "model backend not supported")),
    "image": FieldRefusal(200, "11135 invalid image data", _fixed(11135, "invalid image data")),
    "plan": FieldRefusal(200, "1005 plan exhausted", _fixed(1005, "your plan has been exhausted")),
    "moderation": FieldRefusal(
        400,
        "a moderation refusal in a JSON-RPC envelope, the reason under `data.message` (workbuddy2api, WorkBuddy)",
        lambda said: _moderation(400),
    ),
    "moderation500": FieldRefusal(500, "the same envelope under HTTP 500", lambda said: _moderation(400)),
    "channel500": FieldRefusal(
        500,
        "11128 under HTTP 500 (workbuddy2api #6)",
        _fixed(11128, "Illegal API invocation from an unapproved channel"),
    ),
}
