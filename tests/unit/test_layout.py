"""The shape of the house, read from the package's own imports: no circle, and each wing imports only downwards."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "litellm_codebuddy"
NAME = "litellm_codebuddy"

# modules that must stay free of I/O: they may not import the account wing (token file, login, network) or httpx
PURE = (
    "endpoint",
    "catalog",
    "provider.request",
    "provider.thinking",
    "provider.sse",
    "provider.stream",
    "provider.pump",
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; relative imports resolved)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
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


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (imports for the type checker only)."""
    nodes: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return nodes


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {m for m in _imports(path) if m in modules and m != name}
    return graph


def test_the_package_has_no_import_circle() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            # a package's __init__ re-exporting its own modules is not a circle through the package
            if nxt == node.rpartition(".")[0] and nxt in path:
                continue
            if state.get(nxt) == 1 and not node.startswith(nxt + "."):
                raise AssertionError("import circle: " + " -> ".join([*path[path.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_do_no_io(module: str) -> None:
    path = PACKAGE.joinpath(*module.split(".")).with_suffix(".py")
    imported = _imports(path)
    forbidden = {m for m in imported if m.startswith(f"{NAME}.account") or m.split(".")[0] in ("httpx", "socket")}
    assert not forbidden, f"{module} imports {sorted(forbidden)}"


def test_the_account_wing_never_imports_the_provider() -> None:
    for path in (PACKAGE / "account").rglob("*.py"):
        wrong = {m for m in _imports(path) if m.startswith(f"{NAME}.provider") or m.startswith(f"{NAME}.cli")}
        assert not wrong, f"{path.name} imports {sorted(wrong)}"


def test_the_provider_never_imports_the_command_line_or_the_local_setup() -> None:
    for path in (PACKAGE / "provider").rglob("*.py"):
        wrong = {m for m in _imports(path) if m.split(".")[:2] in ([NAME, "cli"], [NAME, "local"], [NAME, "fake"])}
        assert not wrong, f"{path.name} imports {sorted(wrong)}"
