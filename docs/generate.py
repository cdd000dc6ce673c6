"""Rewrite the tables of the manual that restate code, from the code itself.

    python docs/generate.py           # rewrite every out-of-date table in place (README.md and docs/*.md)
    python docs/generate.py --check   # change nothing; exit 1 naming each page that is out of date

A generated table sits between two marker comments in a page::

    <!-- generated: codes -->
    (whatever is here is replaced)
    <!-- end generated -->

The name after ``generated:`` picks a function from :data:`TABLES`; everything between the markers is replaced by
what it returns. Another table is one function returning Markdown and one entry in :data:`TABLES`. Every figure in
these tables is read from the package (or computed by calling it), so a table cannot say what the code does not do;
``tests/unit/test_docs.py`` fails when a page is out of date.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "litellm_codebuddy"
FAKE = ROOT / "fake_codebuddy"

# a marker is a whole line of its own (so prose can quote one)
MARKER = re.compile(r"^<!-- generated: ([\w-]+) -->\n(.*?)^<!-- end generated -->$", re.DOTALL | re.MULTILINE)
OPENING = re.compile(r"^<!-- generated: ([\w-]+) -->$", re.MULTILINE)


def _setup() -> None:
    """Importable without network: LiteLLM must not fetch its price map, and the package must be found."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------- Markdown helpers


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _code(value: Any) -> str:
    return f"`{value}`"


def _yes(flag: Any) -> str:
    return "yes" if flag is True else "no" if flag is False else "?"


def _spans(numbers: Iterable[int]) -> str:
    """``[6000, 6001, 6002, 6005]`` -> ``"6000–6002, 6005"``."""
    ordered = sorted(numbers)
    out: list[str] = []
    start = prev = ordered[0]
    for n in [*ordered[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(str(start) if start == prev else f"{start}, {prev}" if prev == start + 1 else f"{start}–{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(out)


def _rst_to_md(text: str) -> str:
    """A docstring's reST markup in Markdown: ``x`` and :role:`~.a.b` become `x` and `b`."""
    text = re.sub(r":\w+:`~?\.?([^`]+)`", lambda m: f"`{m.group(1).split('.')[-1]}`", text)
    return text.replace("``", "`")


# ---------------------------------------------------------------- the tables


def codes() -> str:
    """The gateway's business codes (``CODES`` in provider/errors.py): what the caller gets, and why; a code whose
    meaning depends on its message (``Code.when``) has a row per message, and the answers recognised by their words
    alone (``SOFT_BLOCK``, ``TOO_LONG``) close the table."""
    _setup()
    from litellm_codebuddy.cli.explain import explain
    from litellm_codebuddy.provider.errors import CODES, SOFT_BLOCK_NOTICE, error_from_body

    groups: dict[Any, list[int]] = {}
    for number, entry in CODES.items():
        groups.setdefault(entry, []).append(number)
    rows = []

    def row(label: str, body: dict[str, Any], status: int = 200) -> None:
        exc = error_from_body(body, status, "model")
        entry = exc.codebuddy.known  # type: ignore[attr-defined]
        rows.append((label, entry.status, _code(type(exc).__name__), explain(exc)[0], entry.meaning, entry.hint or ""))

    for entry, numbers in sorted(groups.items(), key=lambda item: min(item[1])):
        row(_spans(numbers), {"code": numbers[0], "msg": "m"})
        for needle, _variant in entry.when:
            row(f"{_spans(numbers)}, message with “{needle}”", {"code": numbers[0], "msg": needle})
    notice = {"error": {"message": SOFT_BLOCK_NOTICE}}
    row("none: the soft block's notice as the whole answer or an error's message", notice)
    row(
        "none: an error saying “prompt is too long”, “input length too long” or `context_length_exceeded`",
        {"error": {"message": "input length too long"}},
        400,
    )
    return table(("code", "status", "LiteLLM exception", "command exit", "meaning", "what to do"), rows)


#: HTTP statuses shown in the status table; the label says when one stands for its kind
_STATUSES = {409: "409 (any other 4xx)", 501: "501 (any other 5xx)"}


def statuses() -> str:
    """HTTP statuses without a known business code (provider/errors.py's ``status_error``)."""
    _setup()
    from litellm_codebuddy.cli.explain import explain
    from litellm_codebuddy.provider.errors import status_error

    rows = []
    for status in (400, 401, 402, 403, 404, 408, 409, 422, 429, 500, 501, 502, 503, 504):
        exc = status_error(status, "m", "model")
        rows.append((_STATUSES.get(status, str(status)), _code(type(exc).__name__), explain(exc)[0]))
    return table(("HTTP status", "LiteLLM exception", "command exit"), rows)


def _tokens(n: Any) -> str:
    return f"{n:,}" if isinstance(n, int) else "?"


def catalog() -> str:
    """The model catalog (catalog.py) as LiteLLM is told it (``model_info``), then its image models."""
    _setup()
    from litellm_codebuddy.catalog import CATALOG, GATEWAY_FLAGS, IMAGE_MODELS, default_effort, model_info
    from litellm_codebuddy.endpoint import PROVIDER

    rows = []
    for model_id, model in CATALOG.items():
        info = model_info(model_id)
        levels = info.get("reasoning_effort_levels")
        efforts = ", ".join(levels) if levels else ("none" if model.efforts == () else "not reported")
        default = default_effort(model_id)
        price = f"{info['input_cost_per_token']} / {info['output_cost_per_token']}"
        rows.append(
            (
                _code(f"{PROVIDER}/{model_id}"),
                _tokens(info.get("max_input_tokens")),
                _tokens(info.get("max_output_tokens")),
                f"{efforts} ({default})" if default else efforts,
                *(_yes(info.get(flag)) for flag in ("supports_function_calling", "supports_vision")),
                *(_yes(info.get(flag)) for flag in ("supports_reasoning", "supports_prompt_caching")),
                _yes(model.official),
                price,
            )
        )
    header = (
        "model",
        "context window",
        "max output",
        "efforts (default)",
        "tools",
        "vision",
        "reasoning",
        "prompt caching",
        "in the official list",
        "price per token (in / out)",
    )
    said = sorted(k for k, v in GATEWAY_FLAGS.items() if v)
    unsaid = sorted(k for k, v in GATEWAY_FLAGS.items() if not v)
    flags = (
        f"Every model also states {', '.join(map(_code, said))} (yes) and {', '.join(map(_code, unsaid))} (no), "
        "and the per-level effort flags (`supports_low_reasoning_effort`, ... `supports_max_reasoning_effort`) "
        "from its efforts: no capability is left for LiteLLM to answer from another provider's model of the same "
        "name (`GATEWAY_FLAGS` in catalog.py)."
    )
    images = table(
        ("image model", "kind", "mode", "source"),
        [(_code(f"{PROVIDER}/{m.id}"), m.kind, "image_generation", m.source) for m in IMAGE_MODELS.values()],
    )
    return f"{table(header, rows)}\n\n{flags}\n\n{images}"


def model_ids() -> str:
    """The catalog's model names, in one line."""
    _setup()
    from litellm_codebuddy.catalog import CONTEXT_WINDOWS
    from litellm_codebuddy.endpoint import PROVIDER

    return ", ".join(_code(f"{PROVIDER}/{model_id}") for model_id in CONTEXT_WINDOWS)


def _effort_groups() -> list[tuple[str, tuple[str, ...] | None]]:
    """The models whose efforts are known, grouped by what they accept, then every other model."""
    _setup()
    from litellm_codebuddy.catalog import EFFORTS, LIMITS, supported_efforts

    groups: dict[tuple[str, ...] | None, list[str]] = {}
    for model_id in dict.fromkeys([*EFFORTS, *LIMITS]):
        groups.setdefault(supported_efforts(model_id), []).append(model_id)
    named = [(", ".join(ids), levels) for levels, ids in groups.items() if levels is not None]
    others = ", ".join(groups.get(None, []))
    return [*named, (f"{others} and any other model" if others else "any other model", None)]


def thinking() -> str:
    """Anthropic ``thinking`` -> ``reasoning_effort``: ``effort_from_thinking`` called on each row's input, then
    what each model gets (``nearest_effort`` with the efforts it accepts)."""
    _setup()
    from litellm_codebuddy.provider.params import nearest_effort
    from litellm_codebuddy.provider.thinking import LOW_BELOW, MEDIUM_BELOW, effort_from_thinking

    enabled = {"type": "enabled"}
    adaptive = {"type": "adaptive"}
    cases: list[tuple[Any, Any]] = [
        *(({**enabled, "budget_tokens": n}, None) for n in (1024, LOW_BELOW - 1, LOW_BELOW, MEDIUM_BELOW - 1)),
        *(({**enabled, "budget_tokens": n}, None) for n in (MEDIUM_BELOW, 32000)),
        (enabled, None),
        ({**enabled, "budget_tokens": 0}, None),
        (adaptive, None),
        *((adaptive, {"effort": e}) for e in ("minimal", "low", "medium", "high", "xhigh", "max")),
        ({"type": "disabled"}, None),
        ({"type": "something-else"}, None),
    ]
    from litellm_codebuddy.catalog import SEED_IDS

    # the seed's models' groups only (every model's efforts are in the efforts table)
    groups = [(names, levels) for names, levels in _effort_groups() if any(m in names.split(", ") for m in SEED_IDS)]
    rows = []
    for value, output_config in cases:
        effort = effort_from_thinking(value, output_config)
        sent = [nearest_effort(effort, levels) if effort else None for _, levels in groups]
        rows.append(
            (
                _code(json.dumps(value)),
                _code(json.dumps(output_config)) if output_config is not None else "",
                _code(effort) if effort else "none",
                *(_code(e) if e else "none sent" for e in sent),
            )
        )
    header = ("`thinking`", "`output_config`", "effort", *(f"sent to {names}" for names, _ in groups))
    return table(header, rows)


def efforts() -> str:
    """The ``reasoning_effort`` each model gets for each effort asked (``nearest_effort`` on what it accepts)."""
    _setup()
    from litellm_codebuddy.provider.params import EFFORT_LADDER, nearest_effort

    rows = []
    for names, levels in _effort_groups():
        accepts = ", ".join(levels) if levels else ("none" if levels is not None else "not reported: low to max")
        sent = [nearest_effort(asked, levels) for asked in EFFORT_LADDER]
        rows.append((names, accepts, *(_code(e) if e else "none sent" for e in sent)))
    header = ("model", "accepts", *(f"`{asked}` asked" for asked in EFFORT_LADDER))
    return table(header, rows)


def catalog_sources() -> str:
    """Where each of the catalog's figures comes from (``LIMITS`` and ``EFFORTS`` in catalog.py)."""
    _setup()
    from litellm_codebuddy.catalog import LIMITS, REPORTED_EFFORTS

    rows = []
    for model_id, limits in LIMITS.items():
        rows.append(
            (
                _code(model_id),
                _tokens(limits.window.tokens),
                limits.window.source,
                _tokens(limits.output.tokens),
                limits.output.source,
            )
        )
    text = table(("model", "context window", "source", "max output", "source"), rows)
    reported = ", ".join(_code(m) for m in REPORTED_EFFORTS)
    note = (
        f"Reasoning efforts are the official configuration's (`reasoning.supportedEfforts`, or the one fixed "
        f"`reasoning.effort` it always sends) for its models; {reported} is a field report's (`max` rejected, "
        f"9router). The seed's models that the official list no longer carries report none."
    )
    return f"{text}\n\n{note}"


def exit_codes() -> str:
    """The command's exit codes (``EXIT_CODES`` in cli/explain.py)."""
    _setup()
    from litellm_codebuddy.cli.explain import EXIT_CODES

    return table(("code", "name", "meaning"), ((row.code, row.name, row.meaning) for row in EXIT_CODES))


def settings() -> str:
    """The per-call settings; every name and default is read from the package."""
    _setup()
    from litellm_codebuddy.endpoint import BASE_ENV, DEFAULT_API_BASE, KEY_ENV, PRIVATE_DATA_ENV
    from litellm_codebuddy.provider.cache_key import AUTO_CACHE_KEY_ENV
    from litellm_codebuddy.provider.call import DEFAULT_TIMEOUT
    from litellm_codebuddy.provider.coalesce import COALESCE_ENV
    from litellm_codebuddy.provider.window import AUTO_LIMIT_MS

    rows = [
        (
            "API key",
            f"`api_key=`, else `{KEY_ENV}`, else the stored login",
            "none: `AuthenticationError`, nothing sent",
        ),
        (
            "API base",
            f"`api_base=`, else `{BASE_ENV}`; with or without a trailing `/chat/completions`",
            _code(DEFAULT_API_BASE),
        ),
        ("model", "`codebuddy/<id>`: the id is sent as it is; your account decides which exist", ""),
        (
            "timeout",
            "`timeout=` (seconds or `httpx.Timeout`): the connect and between-bytes limits",
            f"{DEFAULT_TIMEOUT:g} s",
        ),
        ("retries", "`num_retries=` (SDK, sync and async), or the Router's / proxy's retries and fallbacks", "none"),
        (
            "TLS",
            '`ssl_verify=False`, or a CA bundle path (`ssl_verify="/path/ca.pem"`), or `litellm.ssl_verify`',
            "verify",
        ),
        (
            "headers",
            "`extra_headers=`: sent on top of the provider's, never replacing them "
            "([headers](sdk.md#headers-and-privacy))",
            "",
        ),
        (
            "privacy",
            f"`private_data=True` per call or deployment, or `{PRIVATE_DATA_ENV}=true`: `X-Private-Data: true`, "
            "opting out of the use of the requests to improve models ([headers](sdk.md#headers-and-privacy))",
            "`X-Private-Data: false`",
        ),
        (
            "stream coalescing",
            f"`coalesce_ms=` (milliseconds, `auto` or `auto:<ms>`) per call or deployment, else `{COALESCE_ENV}` "
            "([performance](performance.md#the-coalescing-window))",
            f"off (the shipped proxy configs: `auto`, up to {AUTO_LIMIT_MS:g} ms)",
        ),
        (
            "prompt-cache key",
            f"`prompt_cache_key=` is sent as it is; without one a key is derived per conversation, unless "
            f"`auto_prompt_cache_key=False` per call or deployment, or `{AUTO_CACHE_KEY_ENV}=0`"
            " ([the key](sdk.md#the-prompt-cache-key))",
            "derived",
        ),
        (
            "unsupported parameters",
            "`drop_params=True` (per call or deployment, or `litellm.drop_params`): `response_format` and "
            "`logprobs` are left out instead of refused ([why](sdk.md#response_format-and-logprobs))",
            "refused",
        ),
        (
            "HTTP client",
            "`client=`: an `httpx.Client` / `httpx.AsyncClient` (or LiteLLM's handler wrapping one)",
            "a pooled client per process (async: per event loop)",
        ),
    ]
    return table(("setting", "how", "default"), rows)


def environment() -> str:
    """The environment variables the package reads; names and defaults from the package."""
    _setup()
    from litellm_codebuddy.account.startup import BUDGET_ENV, DEFAULT_BUDGET
    from litellm_codebuddy.endpoint import BASE_ENV, CREDIT_COST_ENV, DEFAULT_API_BASE, KEY_ENV, PRIVATE_DATA_ENV
    from litellm_codebuddy.provider.cache_key import AUTO_CACHE_KEY_ENV
    from litellm_codebuddy.provider.coalesce import COALESCE_ENV

    rows = [
        (KEY_ENV, "the API key when a call gives none (it wins over a stored login)", "unset"),
        (BASE_ENV, "the API base when a call gives none", DEFAULT_API_BASE),
        (
            CREDIT_COST_ENV,
            "what one credit costs: usage gets `cost` = credits x this ([credits](credits-and-limits.md))",
            "unset: cost 0.0",
        ),
        (
            COALESCE_ENV,
            "the coalescing window for the process: milliseconds, `auto` or `auto:<ms>` "
            "([performance](performance.md#the-coalescing-window))",
            "unset: off",
        ),
        (
            AUTO_CACHE_KEY_ENV,
            "`0` (or `false`, `off`): no prompt-cache key is derived for the process "
            "([the key](sdk.md#the-prompt-cache-key))",
            "unset: derived",
        ),
        (
            PRIVATE_DATA_ENV,
            "`true` (or `1`, `yes`, `on`): every request opts out of the use of its data to improve models "
            "(`X-Private-Data: true`); no call or deployment can undo it ([headers](sdk.md#headers-and-privacy))",
            "unset: `X-Private-Data: false`",
        ),
        (
            BUDGET_ENV,
            "seconds the proxy start-up hook may spend on model discovery ([proxy](proxy.md))",
            f"{DEFAULT_BUDGET:g}",
        ),
        (
            "XDG_CONFIG_HOME",
            "where the stored login lives: `$XDG_CONFIG_HOME/litellm-codebuddy/token.json`",
            "`~/.config`",
        ),
    ]
    return table(("variable", "what it sets", "default"), ((_code(n), what, d) for n, what, d in rows))


def _first_paragraph(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return _rst_to_md(" ".join(doc.split("\n\n")[0].split()))


def _modules(package: Path) -> str:
    """A package's modules, each with the first paragraph of its own docstring."""
    rows = []
    for path in sorted(package.rglob("*.py"), key=lambda p: (p.parent.relative_to(package).parts, p.name)):
        name = path.relative_to(ROOT).as_posix()
        if path.name == "__init__.py":
            name = path.parent.relative_to(ROOT).as_posix() + "/"
        rows.append((_code(name), _first_paragraph(path)))
    return table(("module", "what it is (its docstring's first paragraph)"), rows)


def layout() -> str:
    """The provider package's modules (litellm_codebuddy/)."""
    return _modules(PACKAGE)


def fake_layout() -> str:
    """The fake's modules (fake_codebuddy/)."""
    return _modules(FAKE)


def directives() -> str:
    """The fake's fault directives, from its one table (``DIRECTIVES`` in fake_codebuddy/directives.py)."""
    _setup()
    from fake_codebuddy import directive_rows

    return table(("directive", "value", "what the fake does"), ((_code(n), v, m) for n, v, m in directive_rows()))


def kinds() -> str:
    """The kinds of tests: the pytest markers declared in pyproject.toml, each a folder under tests/."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    block = re.search(r"^markers = \[\n(.*?)^\]", text, re.DOTALL | re.MULTILINE)
    if block is None:
        raise ValueError("pyproject.toml: no pytest markers")
    rows = re.findall(r'^\s*"(\w+): (.*)",?$', block.group(1), re.MULTILINE)
    return table(("kind", "folder", "what the tests use"), ((n, _code(f"tests/{n}/"), what) for n, what in rows))


#: table name (in the page's marker) -> the function that writes it
TABLES: dict[str, Callable[[], str]] = {
    "codes": codes,
    "statuses": statuses,
    "catalog": catalog,
    "model-ids": model_ids,
    "thinking": thinking,
    "efforts": efforts,
    "catalog-sources": catalog_sources,
    "exit-codes": exit_codes,
    "settings": settings,
    "environment": environment,
    "layout": layout,
    "fake-layout": fake_layout,
    "directives": directives,
    "kinds": kinds,
}


# ---------------------------------------------------------------- pages


def pages() -> list[Path]:
    """The pages that may hold generated tables: the README and every page of the manual."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def render(text: str, where: str = "page", cache: dict[str, str] | None = None) -> str:
    """``text`` with every generated table rewritten. Raises ValueError for an unknown table or a lone marker."""
    cache = {} if cache is None else cache
    if len(OPENING.findall(text)) != len(MARKER.findall(text)):
        raise ValueError(f"{where}: a '<!-- generated: ... -->' marker without its '<!-- end generated -->'")

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in TABLES:
            raise ValueError(f"{where}: unknown generated table {name!r} (known: {', '.join(TABLES)})")
        if name not in cache:
            cache[name] = TABLES[name]()
        return f"<!-- generated: {name} -->\n\n{cache[name]}\n\n<!-- end generated -->"

    return MARKER.sub(fill, text)


def out_of_date(paths: Iterable[Path]) -> list[Path]:
    """The pages whose generated tables differ from what the code says now."""
    cache: dict[str, str] = {}
    stale = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if render(text, str(path), cache) != text:
            stale.append(path)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python docs/generate.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a page is out of date")
    args = parser.parse_args(argv)
    try:
        stale = out_of_date(pages())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in stale:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        if args.check:
            print(f"out of date: {shown} (run: python docs/generate.py)", file=sys.stderr)
        else:
            path.write_text(render(path.read_text(encoding="utf-8"), str(path)), encoding="utf-8")
            print(f"rewrote {shown}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
