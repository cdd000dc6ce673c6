"""The account features against the built-in fake (no mocks): discovery's endpoints and the international one's retries,
the credits command and doctor's credits line, and the codes that mean "no usable plan" or "model deprecated"."""

from __future__ import annotations

import json

import litellm
import pytest

from fake_codebuddy import FakeCodeBuddy
from litellm_codebuddy.account.discovery import (
    CONFIG_PATH,
    ENTERPRISE_MODELS_PATH,
    PERSONAL_MODELS_PATH,
    fetch_live_models,
)
from litellm_codebuddy.catalog import CATALOG
from litellm_codebuddy.cli import main
from litellm_codebuddy.cli.explain import EXIT_AUTH, EXIT_NETWORK, EXIT_OK

KEY = "ck_acct123.S3cretAccountKey"
USER = [{"role": "user", "content": "hello"}]

pytestmark = pytest.mark.usefixtures("home")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---------------------------------------------------------------- discovery


def test_the_official_endpoint_answers_first(fake: FakeCodeBuddy) -> None:
    models, endpoint = fetch_live_models(KEY, fake.base_url)
    assert endpoint == CONFIG_PATH
    assert [m.id for m in models] == list(CATALOG)


def test_the_international_endpoint_answers_when_v3_fails(fake: FakeCodeBuddy) -> None:
    fake.discovery_fail = "v3"
    models, endpoint = fetch_live_models(KEY, fake.base_url)
    assert endpoint == ENTERPRISE_MODELS_PATH
    ids = [m.id for m in models]
    assert {"gpt-5.5", "claude-sonnet-4.6", "hy3", "kimi-k2.6", "minimax-m3"} <= set(ids)
    assert all(m.max_input_tokens and m.max_output_tokens for m in models)
    assert any(m.supports_reasoning for m in models) and any(m.supports_tools for m in models)


def test_a_flaky_international_endpoint_is_retried(fake: FakeCodeBuddy) -> None:
    fake.discovery_fail = "v3"
    fake.personal_models_fail = 2  # "fails now and then": two 500s, then an answer
    models, endpoint = fetch_live_models(KEY, fake.base_url)
    assert endpoint == ENTERPRISE_MODELS_PATH and fake.personal_models_fail == 0
    assert "hy3" in [m.id for m in models]


def test_a_failing_international_endpoint_falls_back(fake: FakeCodeBuddy) -> None:
    fake.discovery_fail = "v3"
    fake.personal_models_fail = 100
    _, endpoint = fetch_live_models(KEY, fake.base_url)
    assert endpoint == PERSONAL_MODELS_PATH  # the oldest endpoint answered instead


# ---------------------------------------------------------------- credits


def test_credits_command(fake: FakeCodeBuddy, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("CODEBUDDY_API_KEY", KEY)
    fake.credits_remaining, fake.credits_size = 123.5, 300.0
    code, out, err = run(capsys, "credits", "--api-base", fake.base_url, "--json")
    assert code == EXIT_OK and json.loads(out)["remaining"] == 123.5
    assert KEY not in out + err


def test_credits_command_failure(
    fake: FakeCodeBuddy, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("CODEBUDDY_API_KEY", KEY)
    fake.credits_fail = True
    code, _, err = run(capsys, "credits", "--api-base", fake.base_url)
    assert code == EXIT_NETWORK and "could not read the credits" in err


def test_doctor_shows_the_fake_accounts_credits(
    fake: FakeCodeBuddy, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("CODEBUDDY_API_KEY", KEY)
    fake.credits_remaining = 42.0
    code, out, _ = run(capsys, "doctor", "--api-base", fake.base_url)
    assert code == EXIT_OK and "Credits: 42 left" in out


def test_doctor_survives_the_fake_credits_failing(
    fake: FakeCodeBuddy, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("CODEBUDDY_API_KEY", KEY)
    fake.credits_fail = True
    code, out, _ = run(capsys, "doctor", "--api-base", fake.base_url)
    assert code == EXIT_OK and "Credits: unknown (" in out and "All good." in out


# ---------------------------------------------------------------- codes


@pytest.mark.parametrize("code", [14017, 11212, 11216])
@pytest.mark.parametrize("status", [200, 429])
@pytest.mark.parametrize("stream", [False, True])
def test_no_usable_plan_is_permission_denied(fake: FakeCodeBuddy, code: int, status: int, stream: bool) -> None:
    fake.set_fault(f"code={code} status={status}")
    with pytest.raises(litellm.PermissionDeniedError) as info:
        resp = litellm.completion(
            model="codebuddy/gpt-5.5", messages=USER, api_key=KEY, api_base=fake.base_url, stream=stream
        )
        if stream:
            list(resp)
    assert info.value.codebuddy.code == code  # type: ignore[attr-defined]
    assert "retrying will not help" in (info.value.codebuddy.known.hint or "")  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", [200, 400, 500])
def test_an_unsupported_model_is_not_found(fake: FakeCodeBuddy, status: int) -> None:
    fake.set_fault(f"code=11103 status={status}")
    with pytest.raises(litellm.NotFoundError):
        litellm.completion(model="codebuddy/gpt-5.4", messages=USER, api_key=KEY, api_base=fake.base_url)


def test_the_cli_explains_a_plan_that_is_gone(
    fake: FakeCodeBuddy, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("CODEBUDDY_API_KEY", KEY)
    fake.set_fault("code=11216")
    code, _, err = run(capsys, "chat", "--api-base", fake.base_url, "hi")
    assert code == EXIT_AUTH and "CodeBuddy error 11216" in err and "What to do:" in err
