"""The manual says what the code does: its generated tables are current, its links and anchors resolve, the
anchors the code cites exist, the tests it names exist, and the configs it quotes are the shipped ones."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


generate = _load_generator()
PAGES: list[Path] = generate.pages()
_TABLES: dict[str, str] = {}  # tables computed once for all pages


def _id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# ---------------------------------------------------------------- generated tables


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_every_generated_table_is_up_to_date(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert generate.render(text, _id(page), _TABLES) == text, f"{_id(page)} is out of date: run python docs/generate.py"


def test_the_generated_tables_are_used() -> None:
    used = {name for page in PAGES for name in generate.OPENING.findall(page.read_text(encoding="utf-8"))}
    assert used == set(generate.TABLES)


def test_an_edited_table_is_caught_and_rewritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = (DOCS / "errors.md").read_text(encoding="utf-8")
    row = next(line for line in original.splitlines() if line.startswith("| 11103 |"))
    page = tmp_path / "errors.md"
    page.write_text(original.replace(row, row.replace("`NotFoundError`", "`BadRequestError`")), encoding="utf-8")
    assert generate.out_of_date([page]) == [page]
    monkeypatch.setattr(generate, "pages", lambda: [page])
    assert generate.main(["--check"]) == 1
    assert page.read_text(encoding="utf-8") != original  # --check changes nothing
    assert generate.main([]) == 0
    assert page.read_text(encoding="utf-8") == original
    assert generate.main(["--check"]) == 0


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("<!-- generated: nonsense -->\n<!-- end generated -->\n", "unknown generated table 'nonsense'"),
        ("<!-- generated: codes -->\nno end\n", "without its '<!-- end generated -->'"),
    ],
)
def test_bad_markers_are_errors(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        generate.render(text)


def test_a_marker_quoted_in_prose_is_left_alone() -> None:
    text = "Tables sit between `<!-- generated: NAME -->` and `<!-- end generated -->` comments.\n"
    assert generate.render(text) == text


# ---------------------------------------------------------------- links and anchors

_FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)


def _prose(text: str) -> str:
    return _FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for heading in _HEADING.findall(_prose(page.read_text(encoding="utf-8"))):
        base = name = slug(heading)
        n = 0
        while name in found:
            n += 1
            name = f"{base}-{n}"
        found.add(name)
    return found


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_links_between_pages_resolve(page: Path) -> None:
    broken = []
    for target in _LINK.findall(_prose(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no such anchor")
    assert not broken, f"{_id(page)}: {broken}"


_CITED = re.compile(r"docs/([\w-]+\.md)(?:#([\w-]+))?")


def _code_files() -> list[Path]:
    files = [*ROOT.glob("*.yaml"), ROOT / "test.sh", ROOT / "pyproject.toml", DOCS / "generate.py"]
    for folder in ("litellm_codebuddy", "tests", "benchmarks"):
        files += (ROOT / folder).rglob("*.py")
    return files


def test_the_code_cites_pages_and_anchors_that_exist() -> None:
    cited = 0
    broken = []
    for path in _code_files():
        for page, anchor in _CITED.findall(path.read_text(encoding="utf-8")):
            cited += 1
            target = DOCS / page
            if not target.exists():
                broken.append(f"{_id(path)}: docs/{page} does not exist")
            elif anchor and anchor not in anchors(target):
                broken.append(f"{_id(path)}: docs/{page}#{anchor} does not exist")
    assert cited, "no citation found: the pattern is wrong"
    assert not broken, broken


def test_every_gateway_rule_has_its_parts() -> None:
    """Each rule of docs/gateway.md is a heading that is its anchor, and says the rule, what the provider does, what
    the fake does and which tests cover it."""
    text = (DOCS / "gateway.md").read_text(encoding="utf-8")
    rules = re.findall(r"^### ([\w-]+)$", text, re.MULTILINE)
    assert len(rules) >= 20 and all(rule in anchors(DOCS / "gateway.md") for rule in rules)
    for rule in rules:
        section = text.split(f"### {rule}\n", 1)[1].split("\n### ", 1)[0]
        for label in ("**Rule.**", "**Provider:**", "**Fake:**", "**Tests:**"):
            assert label in section, f"gateway.md#{rule} has no {label}"
        assert "tests/" in section.split("**Tests:**", 1)[1], f"gateway.md#{rule} names no test"


# ---------------------------------------------------------------- tests named in the manual

_TEST_REF = re.compile(r"tests/(\w+)/(test_\w+\.py)(?:::(test_\w+)(?:\[([^\]]+)\])?)?")


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_the_tests_a_page_names_exist(page: Path) -> None:
    missing = []
    for kind, name, function, param in _TEST_REF.findall(page.read_text(encoding="utf-8")):
        path = ROOT / "tests" / kind / name
        if not path.exists():
            missing.append(f"tests/{kind}/{name}")
            continue
        source = path.read_text(encoding="utf-8")
        if function and not re.search(rf"^(async )?def {function}\(", source, re.MULTILINE):
            missing.append(f"tests/{kind}/{name}::{function}")
        elif param and f'"{param}"' not in source:
            missing.append(f"tests/{kind}/{name}::{function}[{param}]")
    assert not missing, f"{_id(page)} names tests that do not exist: {missing}"


# ---------------------------------------------------------------- configs quoted in the manual


def _section(page: Path, heading: str) -> str:
    text = page.read_text(encoding="utf-8")
    assert heading in text, f"{_id(page)} has no {heading!r}"
    return text.split(heading, 1)[1].split("\n## ", 1)[0]


def _contains(lines: list[str], block: list[str]) -> bool:
    return any(lines[i : i + len(block)] == block for i in range(len(lines) - len(block) + 1))


@pytest.mark.parametrize(
    ("page", "heading", "config"),
    [
        ("proxy.md", "## The proxy config, line by line", "proxy_config.yaml"),
        ("teams.md", "## proxy_replicas.yaml: the lines added to proxy_config.yaml", "proxy_replicas.yaml"),
        ("teams.md", "## A team's set-up: proxy_team.yaml", "proxy_team.yaml"),
    ],
)
def test_the_config_a_page_explains_is_the_shipped_one(page: str, heading: str, config: str) -> None:
    lines = (ROOT / config).read_text(encoding="utf-8").splitlines()
    blocks = re.findall(r"^```yaml\n(.*?)^```", _section(DOCS / page, heading), re.DOTALL | re.MULTILINE)
    assert blocks
    for block in blocks:
        assert _contains(lines, block.splitlines()), f"docs/{page} quotes lines {config} does not have:\n{block}"
