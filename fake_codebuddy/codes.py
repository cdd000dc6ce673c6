"""The gateway's business codes: their messages and the error bodies that carry them.

Error bodies look like ``{"code", "msg", "requestId", "displayMsg": {"en", "zh"}}``.  The gateway's HTTP status for
these bodies is undocumented; the fake answers them with **HTTP 200** (the worst case for a client: a JSON error
body under a success status) unless the directive ``status=<n>`` says otherwise.  The refusals and limits whose
status the field reports show are answered under that status instead (``refusals``, ``refuse=``).
"""

from __future__ import annotations

import uuid
from typing import Any

from .refusals import frequency_limit, reset_at

_MESSAGES: dict[int, tuple[str, str]] = {
    11101: ("Parse message failed: 11101:invalid request", "请求参数无效"),
    11102: ("service info not found for the model", "未找到该模型的服务信息"),
    11128: ("first message is not system prompt", "请求不合法：第一条消息不是系统提示词"),
    11133: ("invalid parameter: consecutive assistant messages", "参数无效：连续的助手消息"),
    11134: ("the model provider is temporarily unavailable, please retry later", "模型服务暂时不可用，请稍后重试"),
    11140: ("The content did not pass the safety review.", "内容未通过安全审核。"),
    11103: ("model backend not supported", "不支持该模型后端"),
    11114: ("insufficient credits", "积分不足"),
    11115: ("input length too long", "输入长度过长"),
    11135: ("invalid image data", "图片数据无效"),
    12153: ("session not found", "会话不存在"),
    1005: ("your plan has been exhausted", "您的套餐已用完"),
    11148: ("invalid tool call sequence: tool result without a matching tool call", "工具调用序列无效"),
    11150: ("reasoning_effort value is not supported by this model", "该模型不支持此 reasoning_effort 值"),
    11151: ("message content must not be empty", "消息内容不能为空"),
    11141: ("the model is deprecated, please switch to another model", "该模型已下线，请切换其他模型"),
    11212: ("your license has expired", "您的授权已过期"),
    11216: ("your trial has expired", "您的试用已过期"),
    14017: ("trial not activated: activate your free trial first", "试用未激活：请先激活免费试用"),
    14018: ("insufficient credits: your credits are exhausted", "额度不足：您的积分已用完"),
}


def request_id() -> str:
    return str(uuid.uuid4())


def business_message(code: int) -> tuple[str, str, str]:
    """(msg, en, zh) for a business code; 6004's msg is Chinese and names a reset time an hour ahead in UTC+8, in the
    gateway's words (``refusals.frequency_limit``)."""
    if code == 6004:
        reset = reset_at(3600)
        zh = frequency_limit(reset, "zh")
        return zh, frequency_limit(reset, "en"), zh
    en, zh = _MESSAGES.get(code, (f"request failed with code {code}", f"请求失败，错误码 {code}"))
    return en, en, zh


def error_body(code: int, msg: str | None = None) -> dict[str, Any]:
    """The gateway's error body for ``code``; ``msg`` replaces the code's usual (English) message."""
    default_msg, en, zh = business_message(code)
    if msg:
        en = msg
    else:
        msg = default_msg
    return {"code": code, "msg": msg, "requestId": request_id(), "displayMsg": {"en": en, "zh": zh}}
