"""The request property through the SDK, against the fake: for any conversation and parameters a client could
send, ``litellm.completion`` answers, or fails with nothing sent: a ``BadRequestError`` when the provider refuses
(never another class from the provider, never a refusal from the gateway, never a hang). LiteLLM looks at the
input before the provider does and refuses some of it in its own way (a ``TypeError``, or an ``APIConnectionError``
wrapping one: docs/sdk.md#known-limits); those come from no frame of the provider's. Few examples (each is a real
call over a socket), a fixed seed."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import litellm
import pytest
from hypothesis import HealthCheck, given, settings

import litellm_codebuddy  # registers the provider; its folder tells its frames apart
from fake_codebuddy import FakeCodeBuddy

from support.strategies import conversations, params
from support.upstream import KEY, MODEL

PROVIDER_CODE = str(Path(litellm_codebuddy.__file__).parent)


def raised_by_the_provider(exc: BaseException) -> bool:
    """Whether ``exc``, or an exception it was raised from, was raised in the provider's code."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        frames = traceback.extract_tb(current.__traceback__)
        if frames and frames[-1].filename.startswith(PROVIDER_CODE):
            return True
        todo += [current.__cause__, current.__context__]
    return False


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCodeBuddy]:
    with FakeCodeBuddy() as server:
        yield server


@settings(
    max_examples=40,
    deadline=10_000,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
@given(msgs=conversations(), optional=params)
def test_the_sdk_answers_or_refuses_before_sending(fake: FakeCodeBuddy, msgs: Any, optional: dict[str, Any]) -> None:
    before = len(fake.requests)
    try:
        response = litellm.completion(
            model=MODEL, messages=msgs, api_key=KEY, api_base=fake.base_url, timeout=30, **optional
        )
    except Exception as exc:
        assert len(fake.requests) == before, f"refused after sending: {type(exc).__name__}: {exc}"
        if raised_by_the_provider(exc):
            assert isinstance(exc, litellm.BadRequestError), f"the provider raised {type(exc).__name__}: {exc}"
        return
    assert len(fake.requests) == before + 1
    assert response.choices[0].finish_reason in ("stop", "length", "tool_calls")
