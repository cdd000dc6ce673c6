"""The shape of the house, read from the packages' own imports: no circle (imports for the type checker count), each
wing imports only downwards, and the fake (``fake_codebuddy``) stands on the standard library alone."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "litellm_codebuddy"
NAME = "litellm_codebuddy"
FAKE = ROOT / "fake_codebuddy"

# modules that must stay free of I/O: they may not import the account wing (token file, login, network) or httpx
PURE = (
    "endpoint",
    "catalog",
    "provider.request",
    "provider.thinking",
    "provider.sse",
    "provider.stream",
    "provider.pump",
    "provider.images",
)
# the fake's one import from outside the standard library: ``cryptography``, inside the function that makes a
# certificate (LiteLLM's proxy installs it; the fake runs without it until asked for TLS, and --tls says so)
FAKE_LAZY_IMPORTS = {"tls": {"cryptography"}}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, root: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it (under ``if TYPE_CHECKING:`` too; relative imports resolved)."""
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            # ``from . import x`` / ``from .pkg import mod`` may name submodules
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def _graph(root: Path) -> dict[str, set[str]]:
    modules = {_module_name(p, root): p for p in root.rglob("*.py")}
    return {name: {m for m in _imports(path, root) if m in modules and m != name} for name, path in modules.items()}


def _circle(graph: dict[str, set[str]]) -> list[str] | None:
    """An import circle of ``graph`` (its modules in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            # a package's __init__ re-exporting its own modules is not a circle through the package
            if nxt == node.rpartition(".")[0] and nxt in path:
                continue
            if state.get(nxt) == 1 and not node.startswith(nxt + "."):
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


@pytest.mark.parametrize("root", [PACKAGE, FAKE], ids=["litellm_codebuddy", "fake_codebuddy"])
def test_no_import_circle(root: Path) -> None:
    circle = _circle(_graph(root))
    assert circle is None, "import circle: " + " -> ".join(circle or ())


def test_a_circle_hidden_under_type_checking_is_found(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import B\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from .a import A\n\nB = 1\n"
    )
    assert _circle(_graph(package)) == ["pkg.a", "pkg.b", "pkg.a"]


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_do_no_io(module: str) -> None:
    path = PACKAGE.joinpath(*module.split(".")).with_suffix(".py")
    imported = _imports(path, PACKAGE)
    forbidden = {m for m in imported if m.startswith(f"{NAME}.account") or m.split(".")[0] in ("httpx", "socket")}
    assert not forbidden, f"{module} imports {sorted(forbidden)}"


def test_the_account_wing_never_imports_the_provider() -> None:
    for path in (PACKAGE / "account").rglob("*.py"):
        wrong = {m for m in _imports(path, PACKAGE) if m.startswith((f"{NAME}.provider", f"{NAME}.cli"))}
        assert not wrong, f"{path.name} imports {sorted(wrong)}"


def test_the_provider_never_imports_the_command_line_the_local_setup_or_the_fake() -> None:
    for path in (PACKAGE / "provider").rglob("*.py"):
        imported = _imports(path, PACKAGE)
        wrong = {m for m in imported if m.split(".")[:2] in ([NAME, "cli"], [NAME, "local"], [NAME, "fake"])}
        wrong |= {m for m in imported if m.split(".")[0] == "fake_codebuddy"}
        assert not wrong, f"{path.name} imports {sorted(wrong)}"


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """The imports that run when the module is imported: all but those inside a function."""
    found: list[ast.Import | ast.ImportFrom] = []
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return found


def test_the_fake_imports_only_the_standard_library_and_itself() -> None:
    modules = sorted(FAKE.glob("*.py"))
    assert len(modules) > 10
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        outside = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                outside.add(str(node.module).split(".")[0])
            elif isinstance(node, ast.Import):
                outside.update(alias.name.split(".")[0] for alias in node.names)
        outside -= set(sys.stdlib_module_names)
        lazy = FAKE_LAZY_IMPORTS.get(path.stem, set())
        assert outside <= lazy, f"{path.name} imports {sorted(outside - lazy)}"
        at_import = set()
        for node in _top_level_imports(tree):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            at_import.update(n.split(".")[0] for n in names if not (isinstance(node, ast.ImportFrom) and node.level))
        assert not at_import & lazy, f"{path.name} imports {sorted(at_import & lazy)} when it is imported"
