"""The fake's state (``fake_codebuddy.state``): the changes routes make through its methods, and the attributes of
``FakeCodeBuddy`` that stand for its fields.  No socket: nothing here starts a server."""

from __future__ import annotations

import time
from typing import Any

import pytest

from fake_codebuddy import FakeCodeBuddy
from fake_codebuddy.http import Request
from fake_codebuddy.server import StateField
from fake_codebuddy.state import Account, LoginPoll, Traffic


def request(n: int) -> Request:
    return Request("POST", f"/v2/chat/completions?n={n}", "/v2/chat/completions", {"x": str(n)}, b"{}", True)


def test_every_attribute_standing_for_the_state_names_one_of_its_fields() -> None:
    fake = FakeCodeBuddy(api_key="ck_a.b", models=["extra"], max_requests=7)
    delegated = {name: attr for name, attr in vars(FakeCodeBuddy).items() if isinstance(attr, StateField)}
    assert len(delegated) > 20
    for name, attr in delegated.items():
        holder: Any = getattr(fake.state, attr.part) if attr.part else fake.state
        assert name in holder.__dataclass_fields__, name
        assert getattr(fake, name) is getattr(holder, name)
    assert fake.api_key == "ck_a.b" and "extra" in fake.models and fake.max_requests == 7
    fake.login_pending_polls = 3
    fake.discovery_fail = "v3"
    assert fake.state.account.login_pending_polls == 3 and fake.state.account.discovery_fail == "v3"


def test_requests_are_kept_up_to_max_requests() -> None:
    traffic = Traffic(max_requests=10)
    for n in range(11):
        traffic.record(request(n), {"n": n})
    assert [r.body["n"] for r in traffic.requests] == list(range(1, 11))  # the oldest tenth dropped
    off = Traffic(max_requests=0)
    off.record(request(0), None)
    assert off.requests == []
    traffic.record_account(request(5))
    assert traffic.account_requests[0].path == "/v2/chat/completions?n=5"  # with the query


def test_login_polls_refresh_and_tokens() -> None:
    account = Account(login_pending_polls=2)
    state = account.open_login()
    polls = [account.take_login_poll(state) for _ in range(4)]
    assert polls == [LoginPoll.PENDING, LoginPoll.PENDING, LoginPoll.APPROVED, LoginPoll.EXPIRED]
    assert account.take_login_poll("unknown") is LoginPoll.EXPIRED
    account.login_refuse = True
    assert account.take_login_poll(account.open_login()) is LoginPoll.REFUSED
    access, refresh = account.issue_token()
    assert account.token_valid(access) and account.issued == [access, refresh]
    assert account.take_refresh(refresh) and not account.token_valid(access)
    assert not account.take_refresh(refresh)  # used up
    short, _ = account.issue_token(expires_in=-1)
    assert not account.token_valid(short) and account.tokens[short] < time.time()


@pytest.mark.parametrize("fails", [0, 2])
def test_personal_models_failures_are_used_up(fails: int) -> None:
    account = Account(personal_models_fail=fails)
    assert [account.take_personal_models_failure() for _ in range(3)] == [True] * fails + [False] * (3 - fails)
