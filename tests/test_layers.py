"""Imports flow one way: intake -> pipeline -> store/outbound, and no module imports itself
back through another (house rule 7). Read from the source with ``ast``, so a change that
makes the store call up into a pipeline step, or the listener run pipeline code on its
event loop, fails here with the offending import named."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.configs import ROOT

PACKAGE = ROOT / "mailgate"

#: What each layer may never import (lazily or not), and why.
FORBIDDEN = {
    # the store is the bottom: SQL only, no decisions
    "store": {"pipeline", "processor", "intake", "daemon", "cli", "outbound", "replies",
              "workers", "spooler"},
    # intake only spools: processing happens in the processor, off the SMTP event loop
    "intake": {"pipeline", "processor", "outbound", "daemon", "cli", "workers", "replies"},
    # decisions never reach back into the front ends that feed them
    "pipeline": {"intake", "daemon", "cli", "processor", "workers", "spooler"},
    "replies": {"pipeline", "store", "intake", "daemon", "cli"},
    "message": {"pipeline", "store", "intake", "daemon", "cli", "replies"},
    "outbound": {"pipeline", "intake", "daemon", "cli", "processor"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name: str, path: Path, nodes: Iterator[ast.AST]) -> set[str]:
    """The mailgate modules these import statements name (``from x import module`` counted
    as the module, ``from x import name`` as ``x``)."""
    modules = _modules()
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in modules else base)
    return {m for m in found if m in modules and m != name}


def _top_level(tree: ast.Module) -> Iterator[ast.AST]:
    """Statements run at import time (``if TYPE_CHECKING:`` blocks are not)."""
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        yield node


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_layer_imports_what_sits_above_it() -> None:
    wrong = []
    for name, path in _modules().items():
        banned = FORBIDDEN.get(_layer(name), set())
        for target in _imports(name, path, ast.walk(ast.parse(path.read_text("utf-8")))):
            if _layer(target) in banned:
                wrong.append(f"{name} imports {target}")
    assert wrong == []


def test_no_import_cycles() -> None:
    """Tarjan's strongly connected components over import-time edges."""
    graph = {name: _imports(name, path, _top_level(ast.parse(path.read_text("utf-8"))))
             for name, path in _modules().items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = [stack.pop()]
            while component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    assert cycles == []


def test_the_checks_see_real_imports() -> None:
    """The reader finds the edges it must judge: a check that read nothing would pass."""
    path = PACKAGE / "pipeline" / "steps" / "record.py"
    found = _imports("mailgate.pipeline.steps.record", path,
                     ast.walk(ast.parse(path.read_text("utf-8"))))
    assert any(_layer(m) == "store" for m in found)
    assert "mailgate.daemon" not in found
