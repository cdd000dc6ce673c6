"""The package reads only public names of the libraries below it (httpx, httpcore, h11, anyio, asyncio, json,
LiteLLM, ...), read from its own source: every ``x._name`` is on ``self`` or ``cls`` and names an attribute this
package defines, no ``getattr(x, "_name")`` of another package's object, no private module or name imported from
outside, and every package it imports is declared (tests/faults/test_public_only.py shows the same at run time)."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "litellm_codebuddy"
OURS = ("litellm_codebuddy", "fake_codebuddy")  # one wheel

# private names of other packages read by a string, each with why it is allowed
ALLOWED_FOREIGN = {
    # LiteLLM documents ``response._hidden_params`` (e.g. ``["response_cost"]``) as where a response's cost and
    # provider details live; it is how a provider hands them over
    "_hidden_params",
}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _trees() -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(PACKAGE.rglob("*.py"))}


def _defined(trees: dict[Path, ast.Module]) -> set[str]:
    """Every attribute name this package gives its own objects: ``self.x = ``, methods, class attributes, slots."""
    names: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                        names.add(item.name)
                    elif isinstance(item, (ast.Assign, ast.AnnAssign)):
                        targets = item.targets if isinstance(item, ast.Assign) else [item.target]
                        names.update(t.id for t in targets if isinstance(t, ast.Name))
                        if any(isinstance(t, ast.Name) and t.id == "__slots__" for t in targets) and item.value:
                            names.update(
                                c.value for c in ast.walk(item.value) if isinstance(c, ast.Constant) and c.value
                            )
    return {n for n in names if isinstance(n, str)}


def _foreign_reads(trees: dict[Path, ast.Module]) -> list[str]:
    defined = _defined(trees)
    found: list[str] = []
    for path, tree in trees.items():
        where = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _private(node.attr):
                owner = node.value
                own = isinstance(owner, ast.Name) and owner.id in ("self", "cls") and node.attr in defined
                if not own:
                    found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) > 1:
                    name = node.args[1]
                    if isinstance(name, ast.Constant) and isinstance(name.value, str) and _private(name.value):
                        if name.value not in ALLOWED_FOREIGN:
                            found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
                    elif not isinstance(name, ast.Constant):
                        found.append(f"{where}:{node.lineno}: {ast.unparse(node)} (a name read by a variable)")
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if not node.module.startswith(OURS):
                    if any(_private(part) for part in node.module.split(".")):
                        found.append(f"{where}:{node.lineno}: from {node.module} import ...")
                    found.extend(
                        f"{where}:{node.lineno}: from {node.module} import {a.name}"
                        for a in node.names
                        if _private(a.name)
                    )
            elif isinstance(node, ast.Import):
                found.extend(
                    f"{where}:{node.lineno}: import {a.name}"
                    for a in node.names
                    if not a.name.startswith(OURS) and any(_private(p) for p in a.name.split("."))
                )
    return found


def test_nothing_private_of_another_package_is_read() -> None:
    assert _foreign_reads(_trees()) == []


@pytest.mark.parametrize(
    "source",
    [
        "def f(resp):\n    return resp.stream._httpcore_stream\n",
        "def f(conn):\n    return getattr(conn, '_h11_state', None)\n",
        "import json\nmake = json.encoder.c_make_encoder\nscan = json.decoder.JSONDecoder()._scan\n",
        "from litellm.litellm_core_utils.token_counter import _count_messages\n",
        "from httpx._transports import default\n",
        "class C(object):\n    def f(self):\n        return self._transport\n",  # a base class's private
    ],
)
def test_the_check_finds_a_private_read(source: str, tmp_path: Path) -> None:
    """The check is not blind: each of these is one that the provider made, or could."""
    assert _foreign_reads({ROOT / "litellm_codebuddy" / "x.py": ast.parse(source)})


def _top_imports(trees: dict[Path, ast.Module]) -> set[str]:
    found: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - set(OURS)


def test_every_imported_package_is_declared() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M)
    assert block is not None
    names = re.findall(r'^\s*"([A-Za-z0-9_.-]+)', block.group(1), re.M)
    declared = {name.lower().replace("-", "_") for name in names}
    # the proxy's doors run only inside the proxy: what they import is declared in the proxy extra
    proxy = re.search(r"^proxy = \[(.*?)^\]", text, re.S | re.M)
    assert proxy is not None
    extra = {n.lower().replace("-", "_") for n in re.findall(r'^\s*"([A-Za-z0-9_.-]+)', proxy.group(1), re.M)}
    doors = {p: t for p, t in _trees().items() if "doors" in p.parts}
    assert _top_imports(doors) <= declared | extra
    assert _top_imports({p: t for p, t in _trees().items() if p not in doors}) <= declared
