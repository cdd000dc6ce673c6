"""The coalescing window's spec (``coalesce_ms``: none, a fixed number of milliseconds, ``auto`` / ``auto:N``) and
the read meter that ``auto`` follows: 0 while the process is idle, the whole limit once it is busy, in proportion
between; a bad value from a call or deployment is refused, from the environment ignored."""

from __future__ import annotations

import litellm
import pytest

from litellm_codebuddy.provider.window import (
    AUTO_LIMIT_MS,
    BUSY_RATE,
    COALESCE_ENV,
    IDLE_RATE,
    Meter,
    Window,
    coalesce_window,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, Window()),
        ("", Window()),
        (0, Window()),
        (20, Window(0.02)),
        ("20", Window(0.02)),
        (12.5, Window(0.0125)),
        ("auto", Window(AUTO_LIMIT_MS / 1000, adaptive=True)),
        (" AUTO ", Window(AUTO_LIMIT_MS / 1000, adaptive=True)),
        ("auto:30", Window(0.03, adaptive=True)),
        ("auto:0", Window()),
    ],
)
def test_values(value: object, expected: Window, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(COALESCE_ENV, raising=False)
    assert coalesce_window(value) == expected
    assert coalesce_window(None, value) == expected  # the deployment's, the same way
    assert bool(expected) == (expected.limit > 0)


def test_the_call_wins_over_the_deployment_and_the_deployment_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(COALESCE_ENV, "auto")
    assert coalesce_window(10, 20) == Window(0.01)
    assert coalesce_window(None, 20) == Window(0.02)
    assert coalesce_window() == Window(AUTO_LIMIT_MS / 1000, adaptive=True)


@pytest.mark.parametrize("value", ["soon", -1, 10_001, "auto:x", "autox", "auto:-5", [20]])
def test_bad_values_from_a_call_or_deployment_are_refused(value: object) -> None:
    with pytest.raises(litellm.BadRequestError, match="coalesce_ms"):
        coalesce_window(value)
    with pytest.raises(litellm.BadRequestError, match="coalesce_ms"):
        coalesce_window(None, value)


def test_a_bad_environment_value_is_ignored(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(COALESCE_ENV, "auto:soon")
    assert coalesce_window() == Window()
    assert COALESCE_ENV in caplog.text


def test_the_meter_converges_on_the_rate_and_decays() -> None:
    meter = Meter()
    for k in range(5000):  # 5 s at 500 reads per second
        meter.tick(k / 500)
    assert meter.at(9.998) == pytest.approx(500, rel=0.02)
    assert meter.at(10.998) == pytest.approx(500 / 2.718, rel=0.03)  # a second of silence: 1/e of it
    assert meter.at(19.998) < 1


def _meter_at(rate: float) -> Meter:
    meter = Meter()
    meter.rate, meter.last = rate, 100.0
    return meter


def test_auto_holds_nothing_when_idle_everything_when_busy_and_in_proportion_between() -> None:
    auto = Window(0.05, adaptive=True)
    assert auto.seconds(100.0, _meter_at(0)) == 0
    assert auto.seconds(100.0, _meter_at(IDLE_RATE)) == 0
    middle = (IDLE_RATE + BUSY_RATE) / 2
    assert auto.seconds(100.0, _meter_at(middle)) == pytest.approx(0.025)
    assert auto.seconds(100.0, _meter_at(BUSY_RATE)) == pytest.approx(0.05)
    assert auto.seconds(100.0, _meter_at(50 * BUSY_RATE)) == 0.05  # never more than the limit
    assert Window(0.02).seconds(100.0, _meter_at(0)) == 0.02  # a fixed window ignores the meter
    assert str(auto) == "auto:50" and str(Window(0.02)) == "20"
