"""``EXIT_CODES`` is the one table of the command's exit codes: it lists every exit code the command has, and the
business codes and HTTP statuses its meanings name really give that exit code."""

from __future__ import annotations

import re

import pytest

from litellm_codebuddy.cli import commands, explain
from litellm_codebuddy.cli.explain import EXIT_CODES
from litellm_codebuddy.provider.errors import CODES, error_from_body, status_error


def test_every_exit_constant_is_in_the_table_once() -> None:
    constants = {value for name, value in vars(explain).items() if name.startswith("EXIT_") and isinstance(value, int)}
    codes = [row.code for row in EXIT_CODES]
    assert sorted(codes) == codes and len(set(codes)) == len(codes)
    assert set(codes) == constants
    assert len({row.name for row in EXIT_CODES}) == len(EXIT_CODES)


def test_help_lists_every_exit_code() -> None:
    epilog = " ".join(commands.EPILOG.split())
    for row in EXIT_CODES:
        assert f"{row.code} {row.name}" in epilog


def _named(meaning: str) -> tuple[set[int], set[int]]:
    """(business codes, HTTP statuses) a meaning names: ``11101``, ``6000-6008``, ``HTTP 401/403``."""
    business: set[int] = set()
    for first, last in re.findall(r"\b(\d{4,5})(?:-(\d{4,5}))?\b", meaning):
        business.update(range(int(first), int(last or first) + 1))
    statuses = {int(s) for group in re.findall(r"HTTP ((?:\d{3}/?)+)", meaning) for s in group.split("/") if s}
    return business, statuses


@pytest.mark.parametrize("row", EXIT_CODES, ids=lambda row: str(row.code))
def test_the_codes_a_meaning_names_give_that_exit_code(row: explain.ExitCode) -> None:
    business, statuses = _named(row.meaning)
    for code in business:
        assert code in CODES, f"exit {row.code} names {code}, which CODES does not know"
        assert explain.explain(error_from_body({"code": code, "msg": "m"}, 200, "m"))[0] == row.code, code
    for status in statuses:
        assert explain.explain(status_error(status, "m", "m"))[0] == row.code, status
