"""End to end: the gateway's refusals and limits through the real LiteLLM proxy, on the three front-ends agents
use: ``/v1/chat/completions`` (the openai client: Aider, OpenCode), ``/v1/messages`` (the anthropic SDK: Claude
Code) and ``/v1/responses`` (the openai Responses API: Codex CLI), plain and streamed.

Two proxies in front of one fake: the project's proxy_config.yaml (one key, no fallbacks: what each client gets
for each refusal), and the team's proxy_team.yaml as shipped (two keys per model group, content-policy and
context-window fallbacks: the refused request answered by another model, unchanged, and a limited key kept aside
until its reset). Each test checks what the client got and what reached the fake.
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
import yaml

from fake_codebuddy import FakeCodeBuddy
from fake_codebuddy.refusals import UTC8
from fake_codebuddy.tokens import prompt_tokens

from support.proxy import CLIENT_TIMEOUT, PROJECT_CONFIG, REPO, Proxy, marker, running_proxy
from support.upstream import unchanged_apart_from_the_model

TEAM_CONFIG = REPO / "proxy_team.yaml"
KEY_A, KEY_B = "ck_teamA.secretA", "ck_teamB.secretB"
GPT = "codebuddy/gpt-5.5"
CLAUDE_CODE = "You are Claude Code, Anthropic's official CLI for Claude."
# Claude Code's own test of an API error (read from its bundle): it compacts the conversation on this
CLAUDE_CODE_TOO_LONG = re.compile(r"prompt is too long[^0-9]*(\d+)\s*tokens?\s*>\s*(\d+)", re.IGNORECASE)
STREAM = pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
FRONTS = ("chat", "messages", "responses")
LONG = "word " * 210_000  # over claude-sonnet-4.6's window (200k), within gpt-5.5's (1M)
SONNET = "codebuddy/claude-sonnet-4.6"
# LiteLLM records a deployment's cooldown from its failure callback, a moment after the failure; under load a
# request sent within that moment can still be routed to the failed deployment (and is then retried on the other)
COOLDOWN_RECORDED = 1.0  # over gpt-5.5's 128k window, well inside gemini-3.1-pro's 1M


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCodeBuddy]:
    with FakeCodeBuddy() as server:  # any ck_ key: the team's two keys
        yield server


@pytest.fixture(scope="module")
def plain(fake: FakeCodeBuddy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """proxy_config.yaml as shipped (LiteLLM's default retries: a limit is retried twice on the one key, a refusal,
    a 400, never)."""
    env = {"CODEBUDDY_API_KEY": KEY_A, "CODEBUDDY_API_BASE": fake.base_url}
    with running_proxy(tmp_path_factory.mktemp("e2e-refusals"), env=env) as running:
        yield running


@pytest.fixture(scope="module")
def team(fake: FakeCodeBuddy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """proxy_team.yaml as shipped."""
    env = {"CODEBUDDY_API_KEY": KEY_A, "CODEBUDDY_API_KEY_2": KEY_B, "CODEBUDDY_API_BASE": fake.base_url}
    with running_proxy(tmp_path_factory.mktemp("e2e-team"), config=TEAM_CONFIG, env=env, name="team") as running:
        yield running


def test_team_config_is_the_project_config_with_a_second_key() -> None:
    """proxy_team.yaml serves proxy_config.yaml's deployments unchanged but for the privacy opt-out, each model also
    with the second key, and keeps its provider map and master key: the two files cannot drift apart."""
    single, team = yaml.safe_load(PROJECT_CONFIG.read_text()), yaml.safe_load(TEAM_CONFIG.read_text())
    first, second = team["model_list"][: len(single["model_list"])], team["model_list"][len(single["model_list"]) :]
    private = [{**d, "litellm_params": {**d["litellm_params"], "private_data": True}} for d in single["model_list"]]
    assert first == private
    expected = [
        {**d, "litellm_params": {**d["litellm_params"], "api_key": "os.environ/CODEBUDDY_API_KEY_2"}}
        for d in private
        if "*" not in d["model_name"]
    ]
    assert second == expected
    assert team["litellm_settings"]["custom_provider_map"] == single["litellm_settings"]["custom_provider_map"]
    assert team["general_settings"] == single["general_settings"]
    groups = {d["model_name"] for d in single["model_list"]}
    for setting in ("content_policy_fallbacks", "context_window_fallbacks"):
        for rule in team["router_settings"][setting]:
            ((source, targets),) = rule.items()
            assert source in groups and set(targets) <= groups, rule


# ------------------------------------------------------------------------------------------------ the three clients


def chat_client(proxy: Proxy) -> openai.OpenAI:
    return proxy.client()


def claude_client(proxy: Proxy) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=proxy.base_url,
        api_key=proxy.master_key,
        max_retries=0,
        timeout=CLIENT_TIMEOUT,
        http_client=anthropic.DefaultHttpxClient(trust_env=False),
    )


class Outcome:
    """What a client got: the text, or the error (its HTTP status, class and message, a header's value)."""

    def __init__(self) -> None:
        self.text = ""
        self.error: BaseException | None = None
        self.status: int | None = None
        self.message = ""
        self.code: str | None = None  # a streamed failure's error code (Responses: response.failed)
        self.kind: str | None = None  # an Anthropic error's type
        self.retry_after: str | None = None

    def failed(self, exc: BaseException) -> Outcome:
        self.error = exc
        self.status = getattr(exc, "status_code", None)
        self.message = str(getattr(exc, "message", "") or exc)
        response = getattr(exc, "response", None)  # an httpx response (the openai client may vendor its own httpx)
        if response is not None and hasattr(response, "headers"):
            self.retry_after = response.headers.get("retry-after")
            try:
                body = response.json()
            except Exception:  # not JSON, or a stream's body (an error event after HTTP 200)
                body = {}
            error = body.get("error") if isinstance(body, dict) else None
            if isinstance(error, dict):
                self.kind = error.get("type")
                self.message = str(error.get("message") or self.message)
        body = getattr(exc, "body", None)
        if isinstance(body, dict) and body.get("type") == "error":  # anthropic SDK: an error event in a 200 stream
            self.kind = (body.get("error") or {}).get("type") or self.kind
        return self


def send(proxy: Proxy, front: str, stream: bool, text: str, *, system: str | None = None, model: str = GPT) -> Outcome:
    """One request on one front-end, as its client sends it; the outcome, never raising."""
    out = Outcome()
    try:
        if front == "chat":
            messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
            with chat_client(proxy) as client:
                if stream:
                    chunks = client.chat.completions.create(model=model, messages=messages, stream=True)  # type: ignore[arg-type]
                    out.text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
                else:
                    resp = client.chat.completions.create(model=model, messages=messages)  # type: ignore[arg-type]
                    out.text = resp.choices[0].message.content or ""
        elif front == "messages":
            kw: dict[str, Any] = {"model": model, "max_tokens": 256, "messages": [{"role": "user", "content": text}]}
            if system:
                kw["system"] = system
            with claude_client(proxy) as claude:
                if stream:
                    with claude.messages.stream(**kw) as events:
                        out.text = "".join(events.text_stream)
                else:
                    msg = claude.messages.create(**kw)
                    out.text = "".join(b.text for b in msg.content if b.type == "text")
        else:
            kw = {"model": model, "input": text}
            if system:
                kw["instructions"] = system
            with chat_client(proxy) as client:
                if stream:
                    for event in client.responses.create(stream=True, **kw):
                        if event.type == "response.output_text.delta":
                            out.text += event.delta
                        elif event.type == "response.failed":
                            error = event.response.error
                            out.code, out.message = (error.code, error.message) if error else (None, "")
                else:
                    out.text = client.responses.create(**kw).output_text
    except (openai.APIError, anthropic.APIError) as exc:
        return out.failed(exc)
    return out


def reached(fake: FakeCodeBuddy, word: str) -> list[Any]:
    return [rec for rec in list(fake.requests) if word.encode() in rec.raw]


# ------------------------------------------------------------------------------------------------ without fallbacks


@pytest.mark.parametrize("front", FRONTS)
@STREAM
@pytest.mark.parametrize("refusal", ["softblock", "softblock400", "channel"])
def test_content_refusals_reach_each_client_as_content_policy_errors(
    plain: Proxy, fake: FakeCodeBuddy, front: str, stream: bool, refusal: str
) -> None:
    word = marker()
    if refusal == "channel":  # the real trigger: Claude Code's opening sentence in the system prompt
        out = send(plain, front, stream, f"{word} hi", system=CLAUDE_CODE)
    else:
        out = send(plain, front, stream, f"{word} hi FAKE:refuse={refusal}")
    assert out.text == ""  # the notice never reaches a client as content (the error message quotes it)
    if front == "responses" and stream:  # LiteLLM's Responses bridge: HTTP 200, then response.failed
        assert out.code == "content_policy_violation", out.message
    else:
        assert out.status == 400, (out.status, out.message)
        assert "ContentPolicyViolationError" in out.message
        if front == "messages":
            assert out.kind == "invalid_request_error"
    assert ("11128" in out.message) == (refusal == "channel")
    (rec,) = reached(fake, word)  # refused once, never retried
    if refusal == "channel":
        assert rec.body["messages"][0] == {"role": "system", "content": CLAUDE_CODE}  # sent as written


@pytest.mark.parametrize("front", FRONTS)
@STREAM
def test_context_too_long_reaches_each_client_in_anthropics_words(
    plain: Proxy, fake: FakeCodeBuddy, front: str, stream: bool
) -> None:
    word = marker()
    out = send(plain, front, stream, f"{word} {LONG}", model=SONNET)
    (rec,) = reached(fake, word)
    tokens = prompt_tokens(rec.body["messages"])
    assert tokens > 200_000
    match = CLAUDE_CODE_TOO_LONG.search(out.message)
    assert match is not None and match.groups() == (str(tokens), "200000"), out.message
    if front == "responses" and stream:
        assert out.code == "context_length_exceeded"  # OpenAI's code, which Codex CLI acts on
    else:
        assert out.status == 400 and "ContextWindowExceededError" in out.message
        if front == "messages":
            assert out.kind == "invalid_request_error"  # with "prompt is too long": what Claude Code compacts on


@pytest.mark.parametrize("front", FRONTS)
@STREAM
@pytest.mark.parametrize("lang", ["limit", "limit_en"])
def test_frequency_limit_reaches_each_client_with_the_reset(
    plain: Proxy, fake: FakeCodeBuddy, front: str, stream: bool, lang: str
) -> None:
    word = marker()
    out = send(plain, front, stream, f"{word} hi FAKE:refuse={lang}")
    assert out.text == "" and "6004" in out.message
    # LiteLLM's Router retries a limit twice on the one key before the response starts (3 requests); once a
    # /v1/messages or /v1/responses stream has started, not at all (1)
    assert len(reached(fake, word)) in (1, 3)
    if front == "responses" and stream:
        assert out.code == "rate_limit_exceeded"
    elif front == "messages" and stream:  # LiteLLM's bridge: HTTP 200, message_start, then an error event
        assert out.kind == "rate_limit_error", (out.status, out.message)
    else:
        assert out.status == 429
        if front == "messages":
            assert out.kind == "rate_limit_error"
        else:  # the seconds until the named reset, an hour ahead
            assert out.retry_after is not None and 3590 <= int(out.retry_after) <= 3601


# ------------------------------------------------------------------------------------------------ the team's set-up


# Where LiteLLM 1.108.7 runs a fallback for a refusal met before the first token. Chat completions: plain and
# streamed (the Router reads a stream's first chunk inside its fallback chain). /v1/messages and /v1/responses:
# plain; streamed, only from the envelope the provider raises a Router's stream refusal in (MidStreamFallbackError,
# errors.routed_refusal): the Responses bridge unwraps a content-policy refusal from it, not a context-window one,
# and the Anthropic bridge's SSE adapter unwraps it before the Router looks, so a 400 passes through unchanged.
NO_CONTENT_POLICY_FALLBACK = {("messages", True)}
NO_CONTEXT_WINDOW_FALLBACK = {("messages", True), ("responses", True)}


@pytest.mark.parametrize("front", FRONTS)
@STREAM
@pytest.mark.parametrize("refusal", ["softblock", "softblock400", "channel"])
def test_team_content_policy_fallback(team: Proxy, fake: FakeCodeBuddy, front: str, stream: bool, refusal: str) -> None:
    word = marker()
    out = send(team, front, stream, f"{word} FAKE:refuse={refusal} FAKE:for_model=gpt-5.5")
    sent = reached(fake, word)
    if (front, stream) in NO_CONTENT_POLICY_FALLBACK:  # Claude Code gets the refusal
        assert out.status == 400 and out.kind == "invalid_request_error" and out.text == ""
        assert "ContentPolicyViolationError" in out.message
        assert [rec.body["model"] for rec in sent] == ["gpt-5.5"]
        return
    assert out.error is None and out.code is None, out.message
    assert out.text == f"Echo: {word}"
    first, second = sent
    assert (first.body["model"], second.body["model"]) == ("gpt-5.5", "claude-sonnet-4.6")
    assert unchanged_apart_from_the_model(first, second)


@pytest.mark.parametrize("front", FRONTS)
@STREAM
def test_team_context_window_fallback(team: Proxy, fake: FakeCodeBuddy, front: str, stream: bool) -> None:
    word = marker()
    out = send(team, front, stream, f"{word} {LONG}", model=SONNET)
    sent = reached(fake, word)
    if (front, stream) in NO_CONTEXT_WINDOW_FALLBACK:  # the client gets Anthropic's and OpenAI's own words
        assert CLAUDE_CODE_TOO_LONG.search(out.message), out.message[:300]
        assert out.kind == "invalid_request_error" if front == "messages" else out.code == "context_length_exceeded"
        assert [rec.body["model"] for rec in sent] == ["claude-sonnet-4.6"]
        return
    assert out.error is None and out.code is None, out.message[:500]
    assert out.text.startswith(f"Echo: {word} word word")
    first, second = sent
    assert (first.body["model"], second.body["model"]) == ("claude-sonnet-4.6", "gpt-5.5")
    assert unchanged_apart_from_the_model(first, second)


@STREAM
def test_team_channel_phrase_is_refused_by_the_fallback_too(team: Proxy, fake: FakeCodeBuddy, stream: bool) -> None:
    """The gateway fingerprints the text whatever the model: the fallback to another CodeBuddy model is refused as
    well, and the client gets the refusal (docs/teams.md: point content_policy_fallbacks at another provider for
    this); the prompt went out unchanged both times."""
    word = marker()
    out = send(team, "chat", stream, f"{word} hi", system=CLAUDE_CODE)
    assert out.status == 400 and "11128" in out.message and "ContentPolicyViolationError" in out.message
    sent = reached(fake, word)
    assert [rec.body["model"] for rec in sent] == ["gpt-5.5", "claude-sonnet-4.6"]
    assert all(rec.body["messages"][0]["content"] == CLAUDE_CODE for rec in sent)


def test_team_keeps_a_limited_key_aside_until_its_reset(team: Proxy, fake: FakeCodeBuddy) -> None:
    """Key A meets 6004 on gpt-5.4 (reset in 10 s). Every request is answered (the Router sends A's to B at once);
    A is not asked again before the reset, although the Router's own cooldown (5 s) ends well before it; after
    the reset A serves again."""
    word = marker()
    reset = fake.limit(KEY_A, 10, model="gpt-5.4")

    def asked(key: str) -> int:
        return sum(1 for rec in reached(fake, word) if rec.headers.get("x-api-key") == key)

    def ask() -> str:
        return send(team, "chat", False, f"{word} {time.monotonic_ns()}", model="codebuddy/gpt-5.4").text

    try:
        answers = []
        while asked(KEY_A) == 0 and len(answers) < 40:  # the Router picks at random: until it has tried A once
            answers.append(ask())
        # the request that met the limit may be retried on key A once more before its cooldown is recorded
        tried = asked(KEY_A)
        assert tried in (1, 2), "the proxy never tried key A"
        time.sleep(COOLDOWN_RECORDED)
        while datetime.datetime.now(UTC8) < reset - datetime.timedelta(seconds=1.5):
            answers.append(ask())
            time.sleep(0.2)
        assert asked(KEY_A) == tried, "key A was asked again before its reset"
        assert all(a.startswith(f"Echo: {word}") for a in answers), answers
        time.sleep(max(0.0, (reset - datetime.datetime.now(UTC8)).total_seconds()) + 1.5)
        later = [ask() for _ in range(12)]
        assert all(a.startswith(f"Echo: {word}") for a in later)
        assert asked(KEY_A) > 1, "key A was not used again after its reset"
    finally:
        fake.limits.clear()


@pytest.mark.parametrize(("front", "model"), [("messages", "claude-sonnet-4.6"), ("responses", "gemini-3.1-pro")])
def test_team_limited_key_on_the_agent_front_ends(team: Proxy, fake: FakeCodeBuddy, front: str, model: str) -> None:
    """The same on /v1/messages and /v1/responses, streamed and plain: the limited key is tried once (its cooldown,
    the hour until its reset, holds for the rest of the module) and every later request is answered by the other.
    The request that met the limit: on /v1/messages LiteLLM retries it on the other key; on a /v1/responses stream it
    fails with response.failed "rate_limit_exceeded" (LiteLLM's Responses bridge sends a stream's 429 to the
    fallbacks, not to the group's other deployment), and Codex retries it itself."""
    word = marker()
    fake.limit(KEY_A, 3600, model=model)

    def asked(key: str) -> int:
        return sum(1 for rec in reached(fake, word) if rec.headers.get("x-api-key") == key)

    try:
        first: list[Outcome] = []
        while asked(KEY_A) == 0 and len(first) < 30:
            first.append(send(team, front, True, f"{word} {len(first)}", model=f"codebuddy/{model}"))
        # the request that met the limit may be retried on key A once more before the cooldown is recorded
        tried = asked(KEY_A)
        assert tried in (1, 2), "the proxy never tried key A"
        time.sleep(COOLDOWN_RECORDED)
        limited = first.pop()
        if front == "messages":
            assert limited.error is None and limited.text.startswith(f"Echo: {word}"), limited.message[:300]
        else:
            assert limited.code == "rate_limit_exceeded" and "6004" in limited.message
        later = [
            send(team, front, s, f"{word} {i}", model=f"codebuddy/{model}") for i, s in enumerate([True, False] * 3)
        ]
        for out in first + later:
            assert out.error is None and out.code is None and out.text.startswith(f"Echo: {word}"), out.message[:300]
        assert asked(KEY_A) == tried, "key A was asked again before its reset"
    finally:
        fake.limits.pop(KEY_A, None)
