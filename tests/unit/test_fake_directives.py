"""The fake's directive table (``fake_codebuddy.directives``) and its pacing schedule (``fake_codebuddy.pacing``):
pure functions, no socket."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest

from fake_codebuddy import DIRECTIVES, Faults, directive_rows, parse_faults
from fake_codebuddy.directives import request_directives
from fake_codebuddy.pacing import Schedule


def user_body(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": text}]}


def test_the_table_is_every_field_of_faults_with_a_one_line_meaning() -> None:
    assert [d.name for d in DIRECTIVES] == [f.name for f in dataclasses.fields(Faults)]
    rows = directive_rows()
    assert [r[0] for r in rows] == [d.name for d in DIRECTIVES]
    for name, value, meaning in rows:
        assert meaning and "\n" not in meaning, name
        flag = isinstance(getattr(Faults(), name), bool)
        assert (value == "") == flag, name
    assert ("events", "N (default 10)") == directive_rows()[0][:2]
    assert {"jitter", "pace", "reset", "cut", "code"} <= {r[0] for r in rows}


@pytest.mark.parametrize("directive", DIRECTIVES, ids=[d.name for d in DIRECTIVES])
def test_every_directive_parses_bare_or_asks_for_a_value(directive: Any) -> None:
    if directive.default is None:
        with pytest.raises(ValueError, match=f"{directive.name}=None: needs a value"):
            parse_faults(directive.name)
    else:
        assert getattr(parse_faults(directive.name), directive.name) == directive.default


def test_values_are_typed() -> None:
    faults = parse_faults("events=5, pace=0.25 jitter=0.1 cut=reset midstream=11134 status=429 usage=full parallel")
    assert faults == Faults(
        events=5, pace=0.25, jitter=0.1, cut="reset", midstream=11134, status=429, usage="full", parallel="index"
    )
    assert parse_faults("FAKE:cut=7 crlf=whatever") == Faults(cut=7, crlf=True)  # a flag ignores a value
    assert parse_faults("") == Faults()


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("bogus", "unknown directive 'bogus'"),
        ("events=many", "events=many: invalid literal"),
        ("status=99", "status=99: not an HTTP status"),
        ("http=600", "http=600: not an HTTP status"),
        ("pace=-1", "pace=-1: must be >= 0"),
        ("jitter=nan", "jitter=nan: must be >= 0"),
        ("usage=most", "usage must be basic, full, thinking or none"),
        ("model=", "model=: needs a value"),
    ],
)
def test_bad_directives(spec: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_faults(spec)


def test_precedence_message_over_header_over_set_fault() -> None:
    base = parse_faults("events=2 crlf status=500")
    header = {"x-fake-fault": "events=3, pace=0.5 status=429"}
    got = request_directives(base, header, user_body("hello world FAKE:events=4 FAKE:pace=0"))
    assert got.faults == Faults(events=4, pace=0.0, crlf=True, status=429)  # a zero still overrides
    assert got.text == "hello world" and got.images == 0
    assert request_directives(base, header, user_body("hi")).faults == Faults(events=3, pace=0.5, crlf=True, status=429)
    assert request_directives(base, {}, user_body("hi")).faults == base
    assert request_directives(Faults(), {}, user_body("do it in PARALLEL")).faults == Faults(parallel="index")
    with pytest.raises(ValueError, match="unknown directive"):
        request_directives(base, {"x-fake-fault": "nope"}, user_body("hi"))


def test_only_the_last_user_message_carries_directives() -> None:
    body = user_body("first FAKE:events=9")
    body["messages"] += [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "second FAKE:cut"}]
    got = request_directives(Faults(), {}, body)
    assert got.faults == Faults(cut=3) and got.text == "second"


# ------------------------------------------------------------------------------------------------------- pacing


def offsets(schedule: Schedule, n: int) -> list[float]:
    return [schedule.next() for _ in range(n)]


def test_without_jitter_event_k_goes_at_k_times_pace() -> None:
    assert offsets(Schedule(0.25), 4) == [0.25, 0.5, 0.75, 1.0]


def test_jitter_stays_within_its_bounds_and_never_goes_back() -> None:
    pace, jitter = 0.1, 0.04
    got = offsets(Schedule(pace, jitter, b'{"a": 1}'), 200)
    for k, at in enumerate(got, start=1):
        assert k * pace - jitter <= at <= k * pace + jitter
    assert got == sorted(got)
    shifts = [at - k * pace for k, at in enumerate(got, start=1)]
    assert min(shifts) < -jitter / 2 and max(shifts) > jitter / 2  # it does move events both ways


def test_jitter_larger_than_pace_is_clamped_to_the_previous_event() -> None:
    got = offsets(Schedule(0.01, 0.05, b"seed"), 100)
    assert got == sorted(got)
    assert any(b == a for a, b in itertools.pairwise(got))  # held back: never earlier than the previous event
    assert all(k * 0.01 - 0.05 <= at <= k * 0.01 + 0.05 for k, at in enumerate(got, start=1))


def test_jitter_is_reproducible_per_request() -> None:
    same = offsets(Schedule(0.1, 0.03, b"request one"), 20)
    assert offsets(Schedule(0.1, 0.03, b"request one"), 20) == same
    assert offsets(Schedule(0.1, 0.03, b"request two"), 20) != same
