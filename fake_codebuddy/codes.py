"""The gateway's business codes: their messages and the error bodies that carry them.

Error bodies look like ``{"code", "msg", "requestId", "displayMsg": {"en", "zh"}}``.  The official client (CodeBuddy
Code 2.163) reads them only under a real error status, so ``code=N`` answers under :data:`STATUSES`' status for N
(429 for the limits, 403 for the refusals and plan codes, 401, 400, 503, ...; 400 for a code it does not list),
the way the official client handles them, unless the directive ``status=<n>`` says otherwise (``status=200``: the
worst case, a JSON error body under a success status).  The refusals and limits whose status the field reports show
are answered under that status instead (``refusals``, ``refuse=``).
"""

from __future__ import annotations

import uuid
from typing import Any

from .refusals import frequency_limit, reset_at

_MESSAGES: dict[int, tuple[str, str]] = {
    3003: ("model service is unavailable", "模型服务不可用"),
    6000: ("rate limit exceeded", "请求频率超限"),
    6001: ("tokens per second limit exceeded", "每秒 token 数超限"),
    6002: ("tokens per minute limit exceeded", "每分钟 token 数超限"),
    6003: ("tokens per hour limit exceeded", "每小时 token 数超限"),
    6005: ("requests per second limit exceeded", "每秒请求数超限"),
    6006: ("requests per minute limit exceeded", "每分钟请求数超限"),
    6007: ("requests per hour limit exceeded", "每小时请求数超限"),
    6008: ("requests per day limit exceeded", "每天请求数超限"),
    10105: ("conversation limit exceeded", "会话数超限"),
    11101: ("Parse message failed: 11101:invalid request", "请求参数无效"),
    11102: ("service info not found for the model", "未找到该模型的服务信息"),
    11103: ("model backend not supported", "不支持该模型后端"),
    11114: ("insufficient credits", "积分不足"),
    11115: ("input length too long", "输入长度过长"),
    11125: ("image rejected", "图片被拒绝"),
    11128: ("first message is not system prompt", "请求不合法：第一条消息不是系统提示词"),
    11133: ("invalid parameter: consecutive assistant messages", "参数无效：连续的助手消息"),
    11134: ("the model provider is temporarily unavailable, please retry later", "模型服务暂时不可用，请稍后重试"),
    11135: ("invalid image data", "图片数据无效"),
    11140: ("The content did not pass the safety review.", "内容未通过安全审核。"),
    11141: ("request refused", "请求被拒绝"),
    11142: ("request refused", "请求被拒绝"),
    11148: ("invalid tool call sequence: tool result without a matching tool call", "工具调用序列无效"),
    11150: ("reasoning_effort value is not supported by this model", "该模型不支持此 reasoning_effort 值"),
    11151: ("message content must not be empty", "消息内容不能为空"),
    11212: ("your license has expired", "您的授权已过期"),
    11216: ("your trial has expired", "您的试用已过期"),
    12153: ("session not found", "会话不存在"),
    12403: ("forbidden: unrecognised client", "禁止访问：无法识别的客户端"),
    14001: ("usage limit exceeded", "用量超限"),
    14002: ("too many conversation chats", "会话对话次数过多"),
    14003: ("rate limit: the model is temporarily limited, please retry later", "模型暂时限流，请稍后重试"),
    14012: ("enterprise usage limit exhausted", "企业额度已用尽"),
    14013: ("enterprise member usage limit exhausted", "企业成员额度已用尽"),
    14014: ("Tencent usage limit exhausted", "腾讯额度已用尽"),
    14015: ("your license has expired", "您的许可证已过期"),
    14016: ("enterprise not activated", "企业未激活"),
    14017: ("trial not activated: activate your free trial first", "试用未激活：请先激活免费试用"),
    14018: ("insufficient credits: your credits are exhausted", "额度不足：您的积分已用完"),
    14019: ("no token budget left", "token 预算不足"),
    15001: ("web search rate limit exceeded", "联网搜索频率超限"),
    **{c: ("request refused", "请求被拒绝") for c in range(17271, 17277)},
    1005: ("your plan has been exhausted", "您的套餐已用完"),
}

#: the HTTP status each code comes under (``code=N`` without ``status=``): the official client's handling (429 with
#: a limit code, 403 with a refusal code, ...); a code not listed: 400
STATUSES: dict[int, int] = {
    **{c: 429 for c in (*range(6000, 6009), 10105, 14001, 14002, 14003, 14012, 14013, 14014, 14018, 14019, 15001)},
    **{c: 403 for c in (11140, 11141, 11142, *range(17271, 17277), 14015, 14016, 14017, 11212, 11216, 12403)},
    **{c: 503 for c in (3003, 11134)},
    12153: 401,
    1005: 429,
}


def status_of(code: int) -> int:
    return STATUSES.get(code, 400)


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
