"""The official CodeBuddy client (CodeBuddy Code 2.163.0, ``codebuddy-headless``) against the fake.

Every test runs the client once, in a loopback-only network namespace where ``www.codebuddy.ai`` is the fake on
127.0.0.1:443 over TLS (``support.official``), and checks both what the client printed (its ``stream-json`` events)
and what reached the fake. Each run also fails if the client looked up any other host or made a request the fake
did not answer (``Run.assert_only_the_fake``). Skipped, with the reason printed, where the client cannot be
downloaded or no such namespace can be made (not root, no ``unshare``).
"""

from __future__ import annotations

import base64
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from fake_codebuddy import FakeCodeBuddy
from fake_codebuddy.codes import business_message
from fake_codebuddy.models import CONFIG_ROWS

from support.official import KEY, OFFICIAL_X, Run, official, tiny_png
from support.proxy import marker

#: the output limits the official client sends as ``max_tokens`` (its built-in catalog)
OUTPUT_LIMITS = {"gpt-5.5": 128_000, "gpt-5.4": 72_000}
NO_TOOLS = ("--tools", "")
#: the fake's ``/v3/config`` rows, by id
CONFIG_ROW = {row["id"]: row for row in CONFIG_ROWS}


def test_a_plain_turn_on_gpt_5_5(tmp_path: Path) -> None:
    plain_turn(tmp_path, "gpt-5.5")


def test_a_plain_turn_on_gpt_5_4(tmp_path: Path) -> None:
    plain_turn(tmp_path, "gpt-5.4")


def plain_turn(tmp_path: Path, model: str) -> None:
    word = marker()
    with official(tmp_path, f"say {word}", *NO_TOOLS, model=model) as (ns, fake):
        done = ns.go()
    done.assert_only_the_fake()
    assert done.returncode == 0 and done.result["subtype"] == "success", done.tail()
    assert done.result["result"].startswith("Echo: ")
    assert done.result["result"].endswith(f"<user_query>say {word}</user_query>"), done.result["result"][-200:]
    (request,) = fake.requests
    assert request.headers["authorization"] == f"Bearer {KEY}" and request.headers["x-api-key"] == KEY
    assert request.headers["content-encoding"] == "gzip"  # the fake read it decoded
    body = request.body
    assert body["model"] == model and body["stream"] is True
    assert body["max_tokens"] == OUTPUT_LIMITS[model] == CONFIG_ROW[model]["maxOutputTokens"]
    assert body["stream_options"] == {"include_usage": True}
    assert body["reasoning_effort"] == "high" and body["reasoning_summary"] == "auto"
    assert "tools" not in body and "prompt_cache_key" not in body
    assert body["messages"][0]["role"] == "system"
    assert [(r.method, r.path.partition("?")[0]) for r in fake.account_requests] == [("GET", "/v3/config")]
    assert fake.telemetry >= 1  # POST /v1/traces, answered (and none unanswered)


def test_a_the_models_of_v3_config(tmp_path: Path) -> None:
    """The client reads ``GET /v3/config`` as the fake serves it: a model it does not ship, listed there (the cli
    agent's ids joined with the rows), is used with that row's output limit, input window and default effort."""
    word = marker()
    with official(tmp_path, f"say {word}", *NO_TOOLS, model="fake-official-x") as (ns, fake):
        fake.models_live = [OFFICIAL_X]
        done = ns.go()
    done.assert_only_the_fake()
    assert done.result["subtype"] == "success", done.tail()
    assert done.result["modelUsage"]["fake-official-x"]["contextWindow"] == 100_000
    (request,) = fake.requests
    assert request.body["model"] == "fake-official-x" and request.body["max_tokens"] == 7_777
    assert request.body["reasoning_effort"] == "medium"


def test_b_reasoning_shown(tmp_path: Path) -> None:
    """The fake's reasoning (``delta.reasoning_content``) is shown by the client as its thinking block, and the
    effort asked for on the command line is the one sent."""
    word = marker()
    with official(tmp_path, f"think {word}", *NO_TOOLS, "--effort", "low") as (ns, fake):
        done = ns.go()
    done.assert_only_the_fake()
    assert done.returncode == 0 and done.result["subtype"] == "success", done.tail()
    (thinking,) = done.blocks("thinking")
    assert thinking["thinking"].startswith("Thinking about: ")
    assert thinking["thinking"].endswith(f"<user_query>think {word}</user_query>")
    (request,) = fake.requests
    assert request.body["reasoning_effort"] == "low" and request.body["reasoning_summary"] == "auto"


def test_c_tool_turn_with_two_parallel_calls(tmp_path: Path) -> None:
    """Two parallel calls (each at its own index) are run by the client, and the follow-up carries both results and
    the first turn's reasoning as ``reasoning`` on the assistant message (no ``content``)."""
    word = marker()
    with official(tmp_path, f"look {word} PARALLEL", "--tools", "Read,Glob") as (ns, fake):
        done = ns.go()
    done.assert_only_the_fake()
    assert done.returncode == 0 and done.result["subtype"] == "success", done.tail()
    calls = done.blocks("tool_use")
    assert [call["name"] for call in calls] == ["Read", "Glob"] and len({call["id"] for call in calls}) == 2
    assert calls[0]["input"] == {"file_path": "test"} and calls[1]["input"] == {"pattern": "test"}
    results = {block["tool_use_id"] for block in done.user_blocks("tool_result")}
    assert results == {call["id"] for call in calls}
    assert (
        done.result["result"] == "Tool results: <tool_use_error>File does not exist.</tool_use_error>; No files found"
    )
    first, second = fake.requests
    assert [tool["function"]["name"] for tool in first.body["tools"]] == ["Read", "Glob"]
    assistant, *tools = second.body["messages"][-3:]
    assert assistant["role"] == "assistant" and "content" not in assistant
    assert [call["id"] for call in assistant["tool_calls"]] == [call["id"] for call in calls]
    thinking = done.blocks("thinking")[0]["thinking"]
    assert assistant["reasoning"] == thinking and f"look {word}" in thinking
    assert [(t["role"], t["tool_call_id"]) for t in tools] == [("tool", call["id"]) for call in calls]


# ------------------------------------------------------------------------------------------------ errors
# The fault goes in an X-Fake-Fault header (``-H``: the client adds it to every model request), so it applies to
# the retries and the compaction call too.


def refused(tmp_path: Path, spec: str) -> tuple[Run, FakeCodeBuddy, str]:
    """One turn against the fault ``spec``: (the run, the fake, the error the client reported)."""
    with official(tmp_path, "say hi", *NO_TOOLS, "-H", f"X-Fake-Fault: {spec}") as (ns, fake):
        done = ns.go()
    done.assert_only_the_fake()
    assert done.result["is_error"] and done.result["subtype"] == "error_during_execution", done.tail()
    (error,) = done.result["errors"]
    return done, fake, error


def gaps(fake: FakeCodeBuddy) -> list[float]:
    times = [r.received for r in fake.requests]
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def test_d_transient_429_retried_once_after_its_retry_after(tmp_path: Path) -> None:
    """6001 (tokens per second) under HTTP 429 is transient: retried once, after the Retry-After seconds."""
    _, fake, error = refused(tmp_path, "code=6001 status=429 retry_after=2")
    assert len(fake.requests) == 2, [r.headers.get("x-agent-type") for r in fake.requests]
    (gap,) = gaps(fake)
    assert 1.9 <= gap < 10, gap
    assert error.startswith(f"429 {business_message(6001)[0]}"), error


@pytest.mark.parametrize(
    ("code", "shown"),
    [(6004, "429 您的使用量已超出频率限制"), (14018, "429 insufficient credits: your credits are exhausted")],
)
def test_d_daily_limit_and_no_credits_not_retried(tmp_path: Path, code: int, shown: str) -> None:
    """6004 (tokens per day) and 14018 (credits exhausted) under HTTP 429 are not transient: one request."""
    _, fake, error = refused(tmp_path, f"code={code} status=429 retry_after=1")
    assert len(fake.requests) == 1
    assert error.startswith(shown), error


def test_d_retry_policy_false_is_not_retried(tmp_path: Path) -> None:
    """``retry_policy: {"retry": false}`` in the body forbids the retry a transient 6001 would get."""
    _, fake, error = refused(tmp_path, "code=6001 status=429 retry_policy=false")
    assert len(fake.requests) == 1
    assert error.startswith(f"429 {business_message(6001)[0]}"), error


def test_d_retry_policy_true_is_retried(tmp_path: Path) -> None:
    """``retry_policy: {"retry": true}`` raises a retryable error's retries from one to three (it does not make a
    final error retryable: 6004 with it is still sent once)."""
    _, fake, error = refused(tmp_path, "code=6001 status=429 retry_policy=true")
    assert len(fake.requests) == 4
    assert error.startswith(f"429 {business_message(6001)[0]}"), error


def test_d_context_too_long_then_the_clients_compaction(tmp_path: Path) -> None:
    """11115 makes the client compact: a summary call (X-Agent-Type: compaction), then the turn again."""
    _, fake, error = refused(tmp_path, "code=11115 status=400")
    kinds = [r.headers["x-agent-type"] for r in fake.requests]
    assert kinds[:3] == ["main", "compaction", "main"], kinds
    assert error.startswith("400 input length too long")


def test_d_unapproved_channel_shown(tmp_path: Path) -> None:
    done, fake, error = refused(tmp_path, "refuse=channel")
    assert len(fake.requests) == 1
    assert error.startswith("400 Illegal API invocation from an unapproved channel"), error
    assert any("unapproved channel" in text for text in done.texts())


def test_d_soft_block_shown(tmp_path: Path) -> None:
    """The soft block (a 200 stream of the content-safety notice, finished ``content_filter``) is shown: the
    gateway's notice, then the client's own."""
    with official(tmp_path, "say hi", *NO_TOOLS, "-H", "X-Fake-Fault: refuse=softblock") as (ns, fake):
        done = ns.go()
    done.assert_only_the_fake()
    assert len(fake.requests) == 1
    notice, own = done.texts()
    assert notice.startswith("抱歉，系统检测到您当前输入的信息存在敏感内容") and done.result["result"] == notice
    assert own.startswith("This topic is currently outside the scope of my capabilities")


def test_d_a_business_error_under_200_is_no_answer_to_it(tmp_path: Path) -> None:
    """The fake's default (a JSON error body under HTTP 200) is not read as an error by the client: it reports no
    answer at all, so the gateway most likely uses real statuses (the fake keeps 200 as the provider's worst case)."""
    _, fake, error = refused(tmp_path, "code=6004 status=200")
    assert len(fake.requests) == 1
    assert error == "No response received from model"


def test_d_stream_cut_short_reported_as_an_error(tmp_path: Path) -> None:
    """A stream that ends after 3 events, without a finish_reason or [DONE], is an empty stream to the client:
    retried 3 times, then reported as an error (the partial text is not taken as the answer)."""
    done, fake, error = refused(tmp_path, "cut=3")
    assert len(fake.requests) == 4
    assert error == "No response received from model"
    assert not done.texts()


# ------------------------------------------------------------------------------------------------ images


def test_e_image_in_the_prompt(tmp_path: Path) -> None:
    """An image block in the client's stream-json input is sent as an ``image_url`` part with a ``data:`` URL, and
    the fake's answer counts it."""
    word = marker()
    image = base64.b64encode(tiny_png()).decode()
    content = [
        {"type": "text", "text": f"what is this {word}"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": image}},
    ]
    line = json.dumps({"type": "user", "message": {"role": "user", "content": content}})
    with official(tmp_path, None, *NO_TOOLS, "--input-format", "stream-json", stdin=line + "\n") as (ns, fake):
        done = ns.go()
    done.assert_only_the_fake()
    assert done.result["subtype"] == "success", done.tail()
    assert done.result["result"].endswith(f"<user_query>what is this {word}</user_query> [images: 1]")
    (request,) = fake.requests
    parts = request.body["messages"][-1]["content"]
    assert {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image}"}} in parts


# ------------------------------------------------------------------------------------------------ device login


def _ack(event: dict[str, Any]) -> dict[str, Any]:
    """The SDK's answer to the client's control requests (``auth_url_callback``, ``auth_result_callback``)."""
    answer = {"received": True} if event["request"].get("subtype") == "auth_url_callback" else {"handled": True}
    return {
        "type": "control_response",
        "response": {"subtype": "success", "request_id": event["request_id"], "response": answer},
    }


def test_e_device_login(tmp_path: Path) -> None:
    """The agent SDK's login (control protocol: ``initialize``, then ``authenticate``) against the fake, without a
    key: the login state, token polls until approved (two pending), the account, and the token the fake issued."""
    first = [
        {"type": "control_request", "request_id": "auth_init", "request": {"subtype": "initialize"}},
        {
            "type": "control_request",
            "request_id": "auth_start",
            "request": {"subtype": "authenticate", "methodId": "external"},
        },
    ]
    with official(tmp_path, None, model=None, stdin="", sdk=True, env={"CODEBUDDY_API_KEY": ""}) as (ns, fake):
        fake.login_pending_polls = 2
        done = ns.converse(first, _ack, until="auth_result_callback")
    done.assert_only_the_fake()
    requests = [event["request"] for event in done.of_type("control_request")]
    url, result = (r for r in requests if r["subtype"] in ("auth_url_callback", "auth_result_callback"))
    state = url["authState"]["state"]
    assert url["authState"]["authUrl"].startswith(f"https://127.0.0.1/login?state={state}")
    assert result["success"] is True, result
    assert result["userinfo"]["token"] == fake.issued[0] and fake.issued[0].startswith("at_")
    paths = [(r.method, r.path) for r in fake.account_requests if r.path.startswith("/v2/plugin/")]
    assert paths == [
        ("POST", "/v2/plugin/auth/state?platform=CLI"),
        *[("GET", f"/v2/plugin/auth/token?state={state}")] * 3,
        ("GET", f"/v2/plugin/login/account?state={state}"),
        ("GET", "/v2/plugin/accounts"),
    ]
    assert fake.account_requests[-1].headers["authorization"] == f"Bearer {fake.issued[0]}"
