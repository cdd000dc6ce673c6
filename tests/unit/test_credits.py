"""Credits (experimental): the billing endpoint, the ``credits`` command, doctor's credits line, the credit on
streamed responses, and credits counted as LiteLLM cost with ``CODEBUDDY_CREDIT_COST``; plus ``models --yaml``."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import litellm
import pytest
import respx
import yaml
from litellm.integrations.custom_logger import CustomLogger

from litellm_codebuddy.account.credits import CREDITS_BODY, CreditsError, fetch_credits, parse_credits
from litellm_codebuddy.catalog import CONTEXT_WINDOWS
from litellm_codebuddy.cli import main
from litellm_codebuddy.cli.explain import EXIT_AUTH, EXIT_NETWORK, EXIT_NOT_CONFIGURED, EXIT_OK, EXIT_RATE_LIMIT

from support.upstream import FULL_USAGE, KEY, MODES, STREAM_MODES, URL, USER, call, ok_response

BILLING = "https://www.codebuddy.ai/v2/billing/meter/get-user-resource"
USAGE = {**FULL_USAGE, "credit": 0.25}

pytestmark = pytest.mark.usefixtures("home")


def accounts(*rows: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"code": 0, "data": {"Response": {"Data": {"Accounts": list(rows)}}}})


PRO = {
    "PackageName": "Pro monthly",
    "CycleCapacityRemain": "812.5",
    "CycleCapacitySize": 1000,
    "CycleCapacityUsed": 187.5,
    "CycleEndTime": "2026-01-01 00:00:00",
}
TRIAL = {"PackageName": "Trial", "CapacityRemain": 50, "CapacitySize": 50}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CODEBUDDY_API_KEY", KEY)
    return KEY


# ---------------------------------------------------------------- the endpoint


def test_parse_packages() -> None:
    found = parse_credits(accounts(PRO, TRIAL).json())
    pro, trial = found.packages
    assert (pro.name, pro.remaining, pro.total, pro.used, pro.ends) == (
        "Pro monthly",
        812.5,
        1000.0,
        187.5,
        "2026-01-01 00:00:00",
    )
    assert (trial.remaining, trial.total, trial.used, trial.ends) == (50.0, 50.0, None, None)
    assert found.remaining == 862.5


@pytest.mark.parametrize(
    "body",
    [{"code": 0, "data": {}}, {}, {"code": 0, "data": {"Response": {"Data": {}}}}, accounts().json()],
    ids=["empty-data", "empty", "empty-inner", "no-accounts"],
)
def test_empty_answer_means_no_packages(body: dict[str, Any]) -> None:
    found = parse_credits(body)
    assert found.packages == [] and found.remaining is None


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"code": 14015, "msg": "login expired"}, "code 14015: login expired"),
        ({"code": 0, "data": {"Response": {"Error": {"Code": "AuthFailure", "Message": "no"}}}}, "AuthFailure"),
        ({"code": 0, "data": {"Response": {"Data": {"Accounts": "x"}}}}, "not a list"),
        ([], "not a JSON object"),
    ],
)
def test_unexpected_answers(body: Any, words: str) -> None:
    with pytest.raises(CreditsError) as info:
        parse_credits(body)
    assert words in str(info.value) and info.value.kind == "protocol"


def test_fetch_sends_the_filter_and_the_key(upstream: respx.MockRouter) -> None:
    route = upstream.post(BILLING).mock(return_value=accounts(PRO))
    assert fetch_credits(KEY).remaining == 812.5
    request = route.calls[0].request
    assert json.loads(request.content) == CREDITS_BODY == {"ProductCode": "p_tcaca", "Status": [0, 3]}
    assert request.headers["authorization"] == f"Bearer {KEY}" and request.headers["x-api-key"] == KEY


@pytest.mark.parametrize(
    ("answer", "kind"),
    [(httpx.Response(401), "refused"), (httpx.Response(503), "network"), (httpx.ConnectError("down"), "network")],
)
def test_fetch_failures(upstream: respx.MockRouter, answer: Any, kind: str) -> None:
    upstream.post(BILLING).mock(side_effect=[answer])
    with pytest.raises(CreditsError) as info:
        fetch_credits(KEY)
    assert info.value.kind == kind and KEY not in str(info.value)


# ---------------------------------------------------------------- the command


def test_credits_command(upstream: respx.MockRouter, key: str, capsys: pytest.CaptureFixture[str]) -> None:
    upstream.post(BILLING).mock(return_value=accounts(PRO, TRIAL))
    code, out, err = run(capsys, "credits")
    assert code == EXIT_OK
    lines = out.splitlines()
    assert lines[0].split() == ["PACKAGE", "LEFT", "TOTAL", "USED", "ENDS"]
    assert "Pro monthly" in lines[1] and "812.5" in lines[1] and "1,000" in lines[1]
    assert lines[-1] == "Credits left: 862.5"
    assert "experimental" in err and key not in out + err


def test_credits_json(upstream: respx.MockRouter, key: str, capsys: pytest.CaptureFixture[str]) -> None:
    upstream.post(BILLING).mock(return_value=accounts(PRO))
    code, out, _ = run(capsys, "credits", "--json")
    data = json.loads(out)
    assert code == EXIT_OK and data["remaining"] == 812.5 and data["packages"][0]["name"] == "Pro monthly"


def test_credits_none(upstream: respx.MockRouter, key: str, capsys: pytest.CaptureFixture[str]) -> None:
    upstream.post(BILLING).mock(return_value=httpx.Response(200, json={"code": 0, "data": {}}))
    code, out, _ = run(capsys, "credits")
    assert code == EXIT_OK and out.strip() == "No credit packages on this account."


@pytest.mark.parametrize(
    ("answer", "exit_code"), [(httpx.Response(403), EXIT_AUTH), (httpx.Response(502), EXIT_NETWORK)]
)
def test_credits_failures(
    upstream: respx.MockRouter, key: str, capsys: pytest.CaptureFixture[str], answer: httpx.Response, exit_code: int
) -> None:
    upstream.post(BILLING).mock(return_value=answer)
    code, _, err = run(capsys, "credits")
    assert code == exit_code and "could not read the credits" in err


def test_credits_rate_limited(upstream: respx.MockRouter, key: str, capsys: pytest.CaptureFixture[str]) -> None:
    upstream.post(BILLING).mock(return_value=httpx.Response(429))
    code, _, err = run(capsys, "credits")
    assert code == EXIT_RATE_LIMIT and "could not read the credits: rate limited (HTTP 429)" in err


def test_credits_without_a_key(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "credits")
    assert code == EXIT_NOT_CONFIGURED and "CODEBUDDY_API_KEY" in err


def test_doctor_shows_credits(upstream: respx.MockRouter, key: str, capsys: pytest.CaptureFixture[str]) -> None:
    upstream.post(URL).mock(return_value=ok_response())
    upstream.post(BILLING).mock(return_value=accounts(PRO))
    code, out, _ = run(capsys, "doctor")
    assert code == EXIT_OK and "Credits: 812.5 left in 1 package(s)" in out


@pytest.mark.parametrize("answer", [httpx.Response(500), httpx.ConnectError("down")], ids=["500", "connect"])
def test_doctor_survives_a_failing_credits_endpoint(
    upstream: respx.MockRouter, key: str, capsys: pytest.CaptureFixture[str], answer: Any
) -> None:
    upstream.post(URL).mock(return_value=ok_response())
    upstream.post(BILLING).mock(side_effect=[answer])
    code, out, _ = run(capsys, "doctor")
    assert code == EXIT_OK and "Credits: unknown (" in out and "All good." in out


# ---------------------------------------------------------------- models --yaml


def test_models_yaml_is_a_model_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "models", "--yaml")
    assert code == EXIT_OK
    config = yaml.safe_load(out)
    entries = config["model_list"]
    assert [e["model_name"] for e in entries] == [f"codebuddy/{m}" for m in CONTEXT_WINDOWS]
    gpt = next(e for e in entries if e["model_name"] == "codebuddy/gpt-5.5")
    assert gpt["litellm_params"] == {"model": "codebuddy/gpt-5.5", "api_key": "os.environ/CODEBUDDY_API_KEY"}
    assert gpt["model_info"]["max_input_tokens"] == CONTEXT_WINDOWS["gpt-5.5"]
    assert gpt["model_info"]["supports_function_calling"] is True


def test_models_live_yaml(upstream: respx.MockRouter, key: str, capsys: pytest.CaptureFixture[str]) -> None:
    row = {
        "id": 'odd "name"',
        "maxInputTokens": 64_000,
        "supportsToolCall": False,
        "supportsReasoning": True,
        "reasoning": {"supportedEfforts": ["low", "high"]},
    }
    config = {"agents": [{"name": "cli", "models": ['odd "name"']}], "models": [row]}
    upstream.get("https://www.codebuddy.ai/v3/config").mock(
        return_value=httpx.Response(200, json={"code": 0, "data": config})
    )
    code, out, _ = run(capsys, "models", "--live", "--yaml")
    assert code == EXIT_OK and "your account (/v3/config)" in out
    (entry,) = yaml.safe_load(out)["model_list"]
    assert entry["model_name"] == 'codebuddy/odd "name"'
    assert entry["model_info"] == {
        "max_input_tokens": 64_000,
        "supports_function_calling": False,
        "supports_reasoning": True,
        "reasoning_effort_levels": ["low", "high"],
    }


# ---------------------------------------------------------------- credits on responses, and as cost


class Costs(CustomLogger):
    def __init__(self) -> None:
        super().__init__()
        self.costs: list[Any] = []
        self.only: str | None = None  # the answer text of this test's call: other tests' late logging is left out

    def _record(self, kwargs: Any, response_obj: Any) -> None:
        try:
            text = response_obj.choices[0].message.content
        except (AttributeError, IndexError, TypeError):
            text = None
        if self.only is None or text == self.only:
            self.costs.append(kwargs.get("standard_logging_object", {}).get("response_cost"))

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._record(kwargs, response_obj)

    async def async_log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._record(kwargs, response_obj)


COSTS = Costs()  # registered once per process: LiteLLM takes its callbacks in at the first call


@pytest.fixture
def costs() -> Costs:
    if COSTS not in litellm.callbacks:
        litellm.callbacks.append(COSTS)
    COSTS.costs.clear()
    COSTS.only = None
    return COSTS


def wait_for(costs: Costs, n: int) -> None:
    """LiteLLM logs success in a background thread: wait (bounded) until it has."""
    deadline = time.monotonic() + 20
    while len(costs.costs) < n and time.monotonic() < deadline:
        time.sleep(0.02)


def credit_of(result: Any, mode: str) -> Any:
    if mode in STREAM_MODES:
        chunks = [c for c in result.chunks if c.choices]
        fields = [c.choices[0].delta.provider_specific_fields for c in chunks]
        found = [f["credit"] for f in fields if f and "credit" in f]
        assert len(found) == 1, fields
        # once, on the chunk just before the one with the finish_reason (LiteLLM's stream wrapper splits the
        # provider's finishing chunk in two): a chunk without content
        at = next(i for i, f in enumerate(fields) if f and "credit" in f)
        finish = [i for i, c in enumerate(chunks) if c.choices[0].finish_reason]
        assert finish == [at + 1], (at, finish)
        assert not chunks[at].choices[0].delta.content and chunks[at].choices[0].finish_reason is None
        assert result.response.choices[0].message.provider_specific_fields == {"credit": found[0]}
        return found[0]
    return result.usage.credit


def test_credit_reaches_the_caller(mode: str, upstream: respx.MockRouter) -> None:
    upstream.post(URL).mock(return_value=ok_response(usage=USAGE))
    result = call(mode)
    assert credit_of(result, mode) == 0.25
    assert result.content == "Hello world" and result.finish_reason == "stop"


def test_no_credit_no_field(upstream: respx.MockRouter) -> None:
    upstream.post(URL).mock(return_value=ok_response(usage=FULL_USAGE))
    result = call("sync_stream")
    assert not any(c.choices and c.choices[0].delta.provider_specific_fields for c in result.chunks or [])


@pytest.mark.parametrize("mode", MODES)
def test_credit_cost_is_the_response_cost(
    mode: str, upstream: respx.MockRouter, monkeypatch: pytest.MonkeyPatch, costs: Costs
) -> None:
    monkeypatch.setenv("CODEBUDDY_CREDIT_COST", "2")
    costs.only = f"priced {uuid.uuid4().hex}"
    upstream.post(URL).mock(return_value=ok_response(costs.only, usage=USAGE))
    result = call(mode)
    usage = result.chunks[-1].usage if result.chunks else result.usage
    assert usage.cost == 0.5  # 0.25 credits at 2 each, on the final usage the caller sees
    if mode not in STREAM_MODES:
        assert result.response._hidden_params["response_cost"] == 0.5
    if not mode.startswith("async"):  # the async logging runs on the loop: test_async_cost_in_logging
        wait_for(costs, 1)
        assert costs.costs == [0.5]  # what LiteLLM's logging (and the proxy's spend) records


@pytest.mark.parametrize("value", [None, "not-a-number", "-1"])
def test_without_a_usable_credit_cost_tokens_are_priced(
    value: str | None, upstream: respx.MockRouter, monkeypatch: pytest.MonkeyPatch, costs: Costs
) -> None:
    if value is not None:
        monkeypatch.setenv("CODEBUDDY_CREDIT_COST", value)
    upstream.post(URL).mock(return_value=ok_response(usage=USAGE))
    result = call("sync")
    assert getattr(result.usage, "cost", None) is None and result.usage.credit == 0.25
    wait_for(costs, 1)
    assert costs.costs == [0.0]


def test_async_stream_cost_in_logging(
    upstream: respx.MockRouter, monkeypatch: pytest.MonkeyPatch, costs: Costs
) -> None:
    """The async success logging runs on the loop: collect within it."""
    monkeypatch.setenv("CODEBUDDY_CREDIT_COST", "4")
    upstream.post(URL).mock(return_value=ok_response(usage=USAGE))
    logger = costs

    async def run_stream() -> None:
        stream = await litellm.acompletion(
            model="codebuddy/gpt-5.5", messages=USER, api_key=KEY, stream=True, stream_options={"include_usage": True}
        )
        async for _ in stream:
            pass
        for _ in range(200):
            if logger.costs:
                return
            await asyncio.sleep(0.02)

    asyncio.run(run_stream())
    assert logger.costs == [1.0]
