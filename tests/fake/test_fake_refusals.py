"""The gateway's refusals and limits as the fake acts them out (``fake_codebuddy.refusals``), and what a caller of
the provider meets for each, through the fake: the SDK on its four paths, and a ``litellm.Router`` with
content-policy and context-window fallbacks and a model group of two keys."""

from __future__ import annotations

import asyncio
import datetime
import json
import math
import time
from collections.abc import Iterator
from typing import Any

import httpx
import litellm
import pytest

from fake_codebuddy import FakeCodeBuddy
from fake_codebuddy.refusals import MODERATION_NOTICE, REFUSALS, UTC8
from fake_codebuddy.refusals import SOFT_BLOCK_NOTICE as FAKE_NOTICE
from fake_codebuddy.tokens import prompt_tokens
from litellm_codebuddy.catalog import CONTEXT_WINDOWS, SEED_IDS
from litellm_codebuddy.provider.errors import SOFT_BLOCK, SOFT_BLOCK_NOTICE, TOO_LONG, reset_delay, upstream_of

from support.upstream import MODES, STREAM_MODES, router_call, unchanged_apart_from_the_model, unwrap

KEY = "ck_test.secret"
KEY_A, KEY_B = "ck_teamA.secretA", "ck_teamB.secretB"
CLAUDE_CODE = "You are Claude Code, Anthropic's official CLI for Claude."
CODEX = "You are a coding agent running in the Codex CLI, a terminal-based coding assistant."
BILLING = "x-anthropic-billing-header: cc_version=2.1.197; cc_entrypoint=sdk-cli;"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCodeBuddy]:
    with FakeCodeBuddy() as server:
        yield server


@pytest.fixture(scope="module")
def client(fake: FakeCodeBuddy) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {KEY}", "X-API-Key": KEY}
    with httpx.Client(base_url=fake.base_url, headers=headers, timeout=30) as c:
        yield c


def body(*messages: tuple[str, Any], model: str = "gpt-5.5") -> dict[str, Any]:
    msgs = [{"role": role, "content": content} for role, content in messages]
    if msgs[0]["role"] != "system":
        msgs.insert(0, {"role": "system", "content": "You are a helpful assistant."})
    return {"model": model, "stream": True, "messages": msgs}


def content_of(raw: bytes) -> tuple[str, str]:
    """(content, finish_reason) of a stream body."""
    text, finish = [], ""
    for line in raw.decode().splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            choice = json.loads(line[6:])["choices"][0]
            text.append(choice["delta"].get("content") or "")
            finish = choice.get("finish_reason") or finish
    return "".join(text), finish


def test_the_fakes_notice_is_the_providers() -> None:
    assert FAKE_NOTICE == SOFT_BLOCK_NOTICE


# ---------------------------------------------------------------- the channel phrases


GIT_LINE = "gitStatus: clean\nMain branch (you will usually use this for PRs): main"


@pytest.mark.parametrize("role", ["system", "assistant"])
@pytest.mark.parametrize("phrase", [CLAUDE_CODE, CODEX, "Built with OhMyOpenCode.", BILLING, GIT_LINE])
def test_channel_phrases_in_system_or_assistant_text_are_refused(client: httpx.Client, role: str, phrase: str) -> None:
    turns = [("system", phrase), ("user", "hi")] if role == "system" else [("user", "a"), (role, phrase), ("user", "b")]
    r = client.post("/chat/completions", json=body(*turns))
    assert r.status_code == 400
    data = r.json()
    assert data["code"] == 11128 and data["msg"] == "Illegal API invocation from an unapproved channel"
    assert set(data["displayMsg"]) == {"en", "zh", "zh-hant"} and data["requestId"]
    assert (
        data["displayMsg"]["en"] == "The request was blocked by security policy. Please retry later or contact support."
    )


@pytest.mark.parametrize(
    "turns",
    [
        [("user", CLAUDE_CODE)],  # user text is not read
        [("user", "a"), ("assistant", None), ("tool", CODEX), ("user", "b")],  # nor tool content
        [("system", "You are Claude Code. Answer briefly."), ("user", "hi")],  # either half alone passes
        [("system", "This is Anthropic's official CLI for Claude."), ("user", "hi")],
        [("system", "Act like Cursor, Cline or Claude Code would."), ("user", "hi")],  # names alone pass
        [("system", "Main branch: main. You will usually use this for PRs."), ("user", "hi")],  # not the git line
        [("user", GIT_LINE)],  # the git line in user text
    ],
    ids=["user", "tool", "first-half", "second-half", "names", "git-words", "git-line-user"],
)
def test_the_same_words_elsewhere_pass(client: httpx.Client, turns: list[tuple[str, Any]]) -> None:
    request = body(*turns)
    for m in request["messages"]:
        if m["role"] == "assistant":
            m["tool_calls"] = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
        if m["role"] == "tool":
            m["tool_call_id"] = "c1"
    r = client.post("/chat/completions", json=request)
    assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream", r.text


def test_once_in_the_history_every_later_turn_fails(client: httpx.Client) -> None:
    turns = [("user", "a"), ("assistant", f"As I said: {CLAUDE_CODE}"), ("user", "b"), ("assistant", "ok")]
    for n in range(3):
        r = client.post("/chat/completions", json=body(*turns, *[("user", f"turn {n}")]))
        assert r.json()["code"] == 11128
        turns += [("user", f"turn {n}"), ("assistant", "x")]


# ---------------------------------------------------------------- the window


@pytest.mark.parametrize("model", sorted(SEED_IDS))  # the seed's: 200k to 1M (every window is the catalog's)
def test_a_prompt_longer_than_the_window_is_11115_naming_both(client: httpx.Client, model: str) -> None:
    window = CONTEXT_WINDOWS[model]
    ok = body(("user", "word " * 1000), model=model)
    assert client.post("/chat/completions", json=ok).status_code == 200
    long = body(("user", "word " * (window + 10)), model=model)
    r = client.post("/chat/completions", json=long)
    assert r.status_code == 400
    data = r.json()
    assert data["code"] == 11115 and data["extError"] == {"code": "context_length_exceeded"}
    assert data["msg"] == f"prompt is too long: {prompt_tokens(long['messages'])} tokens > {window} maximum"


def test_fake_models_have_no_window(client: httpx.Client) -> None:
    r = client.post("/chat/completions", json=body(("user", "word " * 130_000), model="fake-big"))
    assert r.status_code == 200


# ---------------------------------------------------------------- refuse=


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_every_refusal_under_its_reported_status(client: httpx.Client, name: str) -> None:
    r = client.post("/chat/completions", json=body(("user", f"hi FAKE:refuse={name}")))
    entry = REFUSALS[name]
    assert r.status_code == entry.status
    if entry.body is None:  # the soft block: a stream whose whole content is the notice
        assert r.headers["content-type"] == "text/event-stream"
        assert content_of(r.content) == (SOFT_BLOCK_NOTICE, "content_filter")
        return
    data = r.json()
    if name.startswith("moderation"):  # the JSON-RPC envelope: the reason under data.message
        assert data["code"] == -32603 and data["data"]["code"] == 0 and data["data"]["message"] == MODERATION_NOTICE
        return
    assert data == {"error": {"message": SOFT_BLOCK_NOTICE}} or (data["code"] and data["msg"] and data["requestId"])


@pytest.mark.parametrize("name", ["limit", "limit_en"])
def test_6004_names_a_reset_time_in_the_future(client: httpx.Client, name: str) -> None:
    data = client.post("/chat/completions", json=body(("user", f"hi FAKE:refuse={name}"))).json()
    assert data["code"] == 6004
    assert ("usage will reset at" in data["msg"]) == (name == "limit_en")
    assert ("将在" in data["msg"] and "重置" in data["msg"]) == (name == "limit")
    delay = reset_delay(data["msg"])
    assert delay is not None and 3590 <= delay <= 3601


def test_for_model_narrows_a_refusal_to_one_model(client: httpx.Client) -> None:
    text = "hi FAKE:refuse=channel FAKE:for_model=gpt-5.5"
    assert client.post("/chat/completions", json=body(("user", text))).status_code == 400
    other = client.post("/chat/completions", json=body(("user", text), model="gpt-5.4"))
    assert other.status_code == 200 and content_of(other.content)[0] == "Echo: hi"
    soft = "hi FAKE:refuse=softblock FAKE:for_model=gpt-5.4"
    assert content_of(client.post("/chat/completions", json=body(("user", soft))).content)[0] == "Echo: hi"


def test_a_limited_key_until_its_reset(fake: FakeCodeBuddy) -> None:
    reset = fake.limit(KEY_A, 2, lang="en")
    try:
        headers = {"Authorization": f"Bearer {KEY_A}", "X-API-Key": KEY_A}
        with httpx.Client(base_url=fake.base_url, headers=headers, timeout=10) as c:
            r = c.post("/chat/completions", json=body(("user", "hi")))
            assert r.status_code == 429 and r.json()["code"] == 6004
            assert f"{reset:%Y-%m-%d %H:%M:%S} UTC+8" in r.json()["msg"]
            other = {"Authorization": f"Bearer {KEY_B}", "X-API-Key": KEY_B}
            assert c.post("/chat/completions", json=body(("user", "hi")), headers=other).status_code == 200
            time.sleep(max(0.0, (reset - datetime.datetime.now(UTC8)).total_seconds()) + 0.1)
            assert c.post("/chat/completions", json=body(("user", "hi"))).status_code == 200
    finally:
        fake.limits.clear()


# ---------------------------------------------------------------- the SDK, through the fake


def sdk(mode: str, fake: FakeCodeBuddy, messages: list[dict[str, Any]], **kw: Any) -> tuple[str, str | None, int]:
    """(content, finish_reason, content chunks before the end) of one call on ``mode``."""
    kw = {"model": "codebuddy/gpt-5.5", "messages": messages, "api_key": KEY, "api_base": fake.base_url, **kw}
    if mode not in STREAM_MODES:
        resp = litellm.completion(**kw) if mode == "sync" else asyncio.run(litellm.acompletion(**kw))
        return resp.choices[0].message.content, resp.choices[0].finish_reason, 0

    async def collect() -> list[Any]:
        return [c async for c in await litellm.acompletion(stream=True, **kw)]

    chunks = list(litellm.completion(stream=True, **kw)) if mode == "sync_stream" else asyncio.run(collect())
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    finish = next(
        (c.choices[0].finish_reason for c in reversed(chunks) if c.choices and c.choices[0].finish_reason), None
    )
    return text, finish, len(chunks)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def refused(mode: str, fake: FakeCodeBuddy, messages: list[dict[str, Any]], expected: type, **kw: Any) -> BaseException:
    got: list[Any] = []
    with pytest.raises(Exception) as info:
        got.append(sdk(mode, fake, messages, **kw))
    exc = unwrap(info.value)
    assert isinstance(exc, expected), f"{mode}: {type(info.value).__name__}: {info.value}"
    return exc


@pytest.mark.parametrize("mode", MODES)
def test_sdk_soft_block_is_never_content(fake: FakeCodeBuddy, mode: str) -> None:
    chunks: list[Any] = []
    kw = {"model": "codebuddy/gpt-5.5", "messages": user("hi FAKE:refuse=softblock"), "api_key": KEY}
    kw["api_base"] = fake.base_url

    async def collect() -> None:
        async for c in await litellm.acompletion(stream=True, **kw):
            chunks.append(c)

    with pytest.raises(litellm.ContentPolicyViolationError) as info:
        if mode == "sync":
            litellm.completion(**kw)
        elif mode == "async":
            asyncio.run(litellm.acompletion(**kw))
        elif mode == "sync_stream":
            chunks.extend(litellm.completion(stream=True, **kw))
        else:
            asyncio.run(collect())
    assert not any(c.choices and c.choices[0].delta.content for c in chunks)
    assert upstream_of(info.value).known is SOFT_BLOCK  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        (user("hi FAKE:refuse=softblock400"), litellm.ContentPolicyViolationError),
        ([{"role": "system", "content": CLAUDE_CODE}, *user("hi")], litellm.ContentPolicyViolationError),
        (user("word " * 210_000), litellm.ContextWindowExceededError),  # claude-sonnet-4.6's window: 200k
        (user("hi FAKE:refuse=toolong4028"), litellm.ContextWindowExceededError),
        (user("hi FAKE:refuse=inputlong"), litellm.ContextWindowExceededError),
        (user("hi FAKE:refuse=limit"), litellm.RateLimitError),
        (user("hi FAKE:refuse=limit_en"), litellm.RateLimitError),
        (user("hi FAKE:refuse=busy"), litellm.RateLimitError),
        (user("hi FAKE:refuse=safety"), litellm.ContentPolicyViolationError),
        (user("hi FAKE:refuse=credits"), litellm.RateLimitError),
        (user("hi FAKE:refuse=session"), litellm.AuthenticationError),
        (user("hi FAKE:refuse=backend"), litellm.NotFoundError),
        (user("hi FAKE:refuse=image"), litellm.BadRequestError),
        (user("hi FAKE:refuse=plan"), litellm.RateLimitError),
    ],
    ids=[
        "softblock400", "channel", "window", "4028", "inputlong", "6004", "6004-en", "11140-busy", "11140-safety",
        "11114", "12153", "11103", "11135", "1005",
    ],
)  # fmt: skip
def test_sdk_refusals_and_limits(
    fake: FakeCodeBuddy, mode: str, messages: list[dict[str, Any]], expected: type
) -> None:
    long = "word" in str(messages)  # over a window: the model with the smallest of the seed's, 200k
    exc = refused(mode, fake, messages, expected, **({"model": "codebuddy/claude-sonnet-4.6"} if long else {}))
    said = upstream_of(exc)
    assert said is not None
    if expected is litellm.ContextWindowExceededError:
        assert said.known is TOO_LONG and "prompt is too long" in str(exc)
        if long:
            n = prompt_tokens([{"role": "system", "content": "You are a helpful assistant."}, *messages])
            assert f"prompt is too long: {n} tokens > 200000 maximum" in str(exc)
    if said.code == 6004:
        assert said.retry_after is not None and 3590 <= said.retry_after <= 3601


@pytest.mark.parametrize("mode", MODES)
def test_sdk_content_filter_after_content_is_kept(fake: FakeCodeBuddy, mode: str) -> None:
    """An answer the gateway finished with content_filter after real content reaches the caller as it is, with
    finish_reason content_filter (never stop), on every path."""
    text, finish, _ = sdk(mode, fake, user("part of an answer FAKE:finish=content_filter"))
    assert text == "Echo: part of an answer" and finish == "content_filter"


@pytest.mark.parametrize("mode", MODES)
def test_sdk_answer_opening_like_the_notice_is_an_answer(fake: FakeCodeBuddy, mode: str) -> None:
    text, finish, _ = sdk(mode, fake, user("抱歉，我不知道"))
    assert text == "Echo: 抱歉，我不知道" and finish == "stop"


# ---------------------------------------------------------------- a Router, through the fake


def router(fake: FakeCodeBuddy, main: str = "codebuddy/gpt-5.5", **kw: Any) -> litellm.Router:
    base = {"api_key": KEY, "api_base": fake.base_url}
    return litellm.Router(
        model_list=[
            {"model_name": "main", "litellm_params": {"model": main, **base}},
            {"model_name": "backup", "litellm_params": {"model": "codebuddy/claude-sonnet-4.6", **base}},
            {"model_name": "large", "litellm_params": {"model": "codebuddy/gemini-3.1-pro", **base}},
        ],
        num_retries=0,
        **kw,
    )


def marked(fake: FakeCodeBuddy, word: str) -> list[Any]:
    return [rec for rec in list(fake.requests) if word in (rec.raw or b"").decode()]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("refusal", ["softblock", "softblock400", "channel"])
def test_router_content_policy_fallback(fake: FakeCodeBuddy, mode: str, refusal: str) -> None:
    word = f"w{time.monotonic_ns()}"
    messages = user(f"{word} FAKE:refuse={refusal} FAKE:for_model=gpt-5.5")
    answer = router_call(router(fake, content_policy_fallbacks=[{"main": ["backup"]}]), mode, messages)
    assert answer == f"Echo: {word}"
    first, second = marked(fake, word)
    assert (first.body["model"], second.body["model"]) == ("gpt-5.5", "claude-sonnet-4.6")
    assert unchanged_apart_from_the_model(first, second)


@pytest.mark.parametrize("mode", MODES)
def test_router_context_window_fallback(fake: FakeCodeBuddy, mode: str) -> None:
    word = f"w{time.monotonic_ns()}"
    # over claude-sonnet-4.6's 200k, within gemini-3.1-pro's 1M; words that change from one to the next, so the
    # echo is not a run of identical chunks (LiteLLM ends a stream of 100 identical chunks as a repeating model)
    messages = user(f"{word} " + " ".join(f"word{i % 7}" for i in range(210_000)))
    main = "codebuddy/claude-sonnet-4.6"
    answer = router_call(router(fake, main, context_window_fallbacks=[{"main": ["large"]}]), mode, messages)
    assert answer.startswith(f"Echo: {word} word0 word1")
    first, second = marked(fake, word)
    assert (first.body["model"], second.body["model"]) == ("claude-sonnet-4.6", "gemini-3.1-pro")
    assert unchanged_apart_from_the_model(first, second)


def test_router_channel_phrase_refused_on_every_model(fake: FakeCodeBuddy) -> None:
    """The fingerprint does not depend on the model: a content-policy fallback to another CodeBuddy model is refused
    too, and the caller gets the refusal (the prompt went out unchanged both times)."""
    word = f"w{time.monotonic_ns()}"
    messages = [{"role": "system", "content": f"{CLAUDE_CODE} {word}"}, *user("hi")]
    with pytest.raises(litellm.ContentPolicyViolationError):
        router_call(router(fake, content_policy_fallbacks=[{"main": ["backup"]}]), "async_stream", messages)
    sent = marked(fake, word)
    assert [rec.body["model"] for rec in sent] == ["gpt-5.5", "claude-sonnet-4.6"]
    assert all(rec.body["messages"][0]["content"] == f"{CLAUDE_CODE} {word}" for rec in sent)


def test_router_keeps_a_limited_key_aside_until_the_reset(fake: FakeCodeBuddy) -> None:
    """Two keys in one group; the fake puts key A over its limit for a few seconds. The Router sends A's request
    to B at once, asks A nothing more before the reset (its own cooldown, 1 s, is far shorter), and uses A again
    after it."""
    reset_in = 4
    reset = fake.limit(KEY_A, reset_in)
    group = litellm.Router(
        model_list=[
            {
                "model_name": "main",
                "litellm_params": {"model": "codebuddy/gpt-5.5", "api_key": key, "api_base": fake.base_url},
            }
            for key in (KEY_A, KEY_B)
        ],
        num_retries=2,
        cooldown_time=1,
    )
    word = f"w{time.monotonic_ns()}"

    def asked(key: str) -> int:
        return sum(1 for rec in marked(fake, word) if rec.headers.get("x-api-key") == key)

    async def ask(n: int) -> list[str]:
        return [
            (await group.acompletion(model="main", messages=user(f"{word} {i}"))).choices[0].message.content
            for i in range(n)
        ]

    try:
        answers: list[str] = []
        while asked(KEY_A) == 0 and len(answers) < 40:
            answers += asyncio.run(ask(1))
        # the request that met the limit may be retried on key A once more before its cooldown is recorded
        tried = asked(KEY_A)
        assert tried in (1, 2), "the Router never tried key A"
        while datetime.datetime.now(UTC8) < reset - datetime.timedelta(seconds=1.5):
            answers += asyncio.run(ask(2))
            time.sleep(0.1)
        assert asked(KEY_A) == tried, "key A was asked again before its reset"
        assert all(a.startswith(f"Echo: {word}") for a in answers)  # every request answered (by B)
        time.sleep(max(0.0, (reset - datetime.datetime.now(UTC8)).total_seconds()) + 1.2)
        asyncio.run(ask(12))
        assert asked(KEY_A) > 1, "key A was not used again after its reset"
    finally:
        fake.limits.clear()


# ---------------------------------------------------------------- the official client's codes, retries and resets


@pytest.mark.parametrize(
    ("code", "status"),
    [(6001, 429), (6004, 429), (14018, 429), (14003, 429), (11141, 403), (17272, 403), (14015, 403), (3003, 503)],
)
def test_codes_come_under_the_status_the_official_client_handles(client: httpx.Client, code: int, status: int) -> None:
    r = client.post("/chat/completions", json=body(("user", f"hi FAKE:code={code}")))
    assert r.status_code == status and r.json()["code"] == code
    r = client.post("/chat/completions", json=body(("user", f"hi FAKE:code={code} FAKE:status=200")))
    assert r.status_code == 200 and r.json()["code"] == code


@pytest.mark.parametrize(("value", "policy"), [("false", {"retry": False}), ("true", {"retry": True})])
def test_retry_policy_and_reset_by_directive(client: httpx.Client, value: str, policy: dict[str, Any]) -> None:
    r = client.post(
        "/chat/completions", json=body(("user", f"hi FAKE:code=6001 FAKE:retry_policy={value} FAKE:ratelimit_reset=30"))
    )
    assert r.status_code == 429 and r.json()["retry_policy"] == policy
    assert 28 <= int(r.headers["x-ratelimit-reset"]) - time.time() <= 31
    r = client.post("/chat/completions", json=body(("user", "hi FAKE:refuse=moderation FAKE:retry_policy=other")))
    assert r.json()["retry_policy"] == {"maxRetries": 3} and r.json()["data"]["message"] == MODERATION_NOTICE


def test_a_key_over_a_quota_limit_names_its_reset_in_a_header(fake: FakeCodeBuddy) -> None:
    reset = fake.limit(KEY_A, 30, code=14018)
    try:
        headers = {"Authorization": f"Bearer {KEY_A}", "X-API-Key": KEY_A}
        r = httpx.post(f"{fake.base_url}/chat/completions", json=body(("user", "hi")), headers=headers, timeout=10)
        assert r.status_code == 429 and r.json()["code"] == 14018
        assert int(r.headers["x-ratelimit-reset"]) == math.ceil(reset.timestamp())
    finally:
        fake.limits.clear()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("refusal", ["moderation", "moderation500", "channel500"])
def test_sdk_moderation_and_11128_under_500_are_content_policy(fake: FakeCodeBuddy, mode: str, refusal: str) -> None:
    exc = refused(mode, fake, user(f"hi FAKE:refuse={refusal}"), litellm.ContentPolicyViolationError)
    if refusal.startswith("moderation"):
        assert MODERATION_NOTICE in str(exc)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("finish", ["error", "length"])
def test_sdk_empty_stream_is_a_retryable_error(fake: FakeCodeBuddy, mode: str, finish: str) -> None:
    refused(mode, fake, user(f"hi FAKE:events=0 FAKE:finish={finish}"), litellm.ServiceUnavailableError)


def test_sdk_error_finish_after_output_is_not_a_clean_end(fake: FakeCodeBuddy) -> None:
    refused("async_stream", fake, user("hi FAKE:events=3 FAKE:finish=error"), litellm.ServiceUnavailableError)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_sdk_num_retries_honours_a_forbidding_retry_policy(fake: FakeCodeBuddy, mode: str) -> None:
    from litellm_codebuddy.provider.handler import FORBIDDEN

    word = f"w{time.monotonic_ns()}"
    try:
        refused(mode, fake, user(f"{word} FAKE:code=6001 FAKE:retry_policy=false"), litellm.RateLimitError)
        with pytest.raises(litellm.RateLimitError, match="Not sent again"):
            sdk(mode, fake, user(f"{word} FAKE:code=6001 FAKE:retry_policy=false"), num_retries=2)
        assert len(marked(fake, word)) == 1
    finally:
        FORBIDDEN.clear()


KEYS3 = ("ck_keyA.secretA", "ck_keyB.secretB", "ck_keyC.secretC")


def three_keys(fake: FakeCodeBuddy, **kw: Any) -> litellm.Router:
    return litellm.Router(
        model_list=[
            {
                "model_name": "main",
                "litellm_params": {"model": "codebuddy/gpt-5.5", "api_key": key, "api_base": fake.base_url},
                "model_info": {"id": key[3:7]},
            }
            for key in KEYS3
        ],
        **kw,
    )


def keys_asked(fake: FakeCodeBuddy, word: str) -> list[str]:
    return [str(rec.headers.get("x-api-key")) for rec in marked(fake, word)]


@pytest.mark.parametrize("refusal", ["safety", "channel", "channel500", "moderation500", "softblock"])
def test_router_a_refusal_never_cools_a_key_of_three(fake: FakeCodeBuddy, refusal: str) -> None:
    """The refused request reaches one key (not retried on the others), and the next requests reach all three."""
    group = three_keys(fake, num_retries=2, retry_after=0, cooldown_time=30)
    word = f"w{time.monotonic_ns()}"
    mode = "async_stream" if refusal == "softblock" else "async"
    with pytest.raises(litellm.ContentPolicyViolationError):
        router_call(group, mode, user(f"{word} FAKE:refuse={refusal}"))
    assert len(keys_asked(fake, word)) == 1
    for n in range(30):
        router_call(group, "async", user(f"{word} {n}"))
    assert set(keys_asked(fake, word)) == set(KEYS3)


def test_router_parks_a_key_out_of_credits_until_its_reset(fake: FakeCodeBuddy) -> None:
    """14018 on key A with x-ratelimit-reset a few seconds ahead: the Router answers from B and C meanwhile (its
    own cooldown, 1 s, is far shorter), asks A nothing before the reset, and uses A again after it."""
    reset_in = 4
    reset = fake.limit(KEYS3[0], reset_in, code=14018)
    group = three_keys(fake, num_retries=2, retry_after=0, cooldown_time=1)
    word = f"w{time.monotonic_ns()}"
    try:
        answers: list[str] = []
        while KEYS3[0] not in keys_asked(fake, word) and len(answers) < 40:
            answers.append(router_call(group, "async", user(f"{word} {len(answers)}")))
        tried = keys_asked(fake, word).count(KEYS3[0])
        assert tried in (1, 2), "the Router never tried key A"
        while datetime.datetime.now(UTC8) < reset - datetime.timedelta(seconds=1.5):
            answers.append(router_call(group, "async", user(f"{word} {len(answers)}")))
            time.sleep(0.05)
        assert keys_asked(fake, word).count(KEYS3[0]) == tried, "key A was asked again before its reset"
        assert all(a.startswith(f"Echo: {word}") for a in answers)  # every request answered (by B or C)
        assert {KEYS3[1], KEYS3[2]} <= set(keys_asked(fake, word))
        time.sleep(max(0.0, (reset - datetime.datetime.now(UTC8)).total_seconds()) + 1.2)
        for n in range(15):
            router_call(group, "async", user(f"{word} after {n}"))
        assert keys_asked(fake, word).count(KEYS3[0]) > tried, "key A was not used again after its reset"
    finally:
        fake.limits.clear()


def test_router_never_retries_a_forbidden_request(fake: FakeCodeBuddy) -> None:
    from litellm_codebuddy.provider.handler import FORBIDDEN

    group = three_keys(fake, num_retries=3, retry_after=0)
    word = f"w{time.monotonic_ns()}"
    try:
        with pytest.raises(litellm.RateLimitError):
            router_call(group, "async", user(f"{word} FAKE:code=6001 FAKE:retry_policy=false"))
        assert len(keys_asked(fake, word)) == 1
    finally:
        FORBIDDEN.clear()


def test_router_retries_only_what_it_retries_anyway(fake: FakeCodeBuddy) -> None:
    """An 11101 is never retried, even when the gateway's retry_policy asks (the official client does the same);
    a 503 is retried on the group's keys, with or without it."""
    group = three_keys(fake, num_retries=2, retry_after=0)
    word = f"w{time.monotonic_ns()}"
    with pytest.raises(litellm.BadRequestError):
        router_call(group, "async", user(f"{word} FAKE:code=11101 FAKE:retry_policy=true"))
    assert len(keys_asked(fake, word)) == 1
    with pytest.raises(litellm.ServiceUnavailableError):
        router_call(group, "async", user(f"{word}c FAKE:code=19999 FAKE:status=503 FAKE:retry_policy=true"))
    assert len(keys_asked(fake, f"{word}c")) == 3
    with pytest.raises(litellm.BadRequestError):
        router_call(group, "async", user(f"{word}b FAKE:code=11101"))
    assert len(keys_asked(fake, f"{word}b")) == 1
