"""No import cycles: among the services, among the blueprints, or through jobs/.

The graph is read from the source with ``ast``, not by importing it. Every import
counts, at the top of a module and inside a function alike: an import moved into a
function still makes the two modules depend on each other, it only hides the loop
from Python at start-up. An import under ``if TYPE_CHECKING:`` counts too.

An edge goes to the module named (``from webapp.services import ledger`` is an edge
to ``webapp.services.ledger``), not to the packages above it whose ``__init__``
Python also runs: ``webapp/__init__.py`` is where the app is put together
(``create_app`` imports every blueprint), so counting it under every
``from webapp.extensions import db`` would make everything one loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("webapp", "jobs")


def modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of webapp/ and jobs/."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of webapp/ and jobs/ it imports anywhere in its source."""
    known = modules()

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in known.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported.update(resolve(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                for alias in node.names:
                    named = f"{base}.{alias.name}"
                    imported.add(named if named in known else resolve(base))
        imported.discard(None)
        imported.discard(module)
        graph[module] = imported
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each
    sorted: every module in one of them is on a loop with the others."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.get(module, ())):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def within(graph: dict[str, set[str]], prefix: str) -> dict[str, set[str]]:
    """The part of the graph among the modules under ``prefix``."""
    inside = {module for module in graph if module.startswith(prefix)}
    return {module: graph[module] & inside for module in inside}


def test_the_graph_sees_late_imports():
    """A function-level import is an edge: create_app imports the CLI, whose worker
    command imports the worker."""
    graph = import_graph()
    assert "webapp.cli" in graph["webapp"]
    assert "jobs.worker" in graph["webapp.cli"]


def test_no_cycle_among_services():
    assert cycles(within(import_graph(), "webapp.services.")) == []


def test_no_cycle_among_blueprints():
    assert cycles(within(import_graph(), "webapp.blueprints")) == []


def test_no_cycle_through_jobs():
    through_jobs = [
        component
        for component in cycles(import_graph())
        if any(module == "jobs" or module.startswith("jobs.") for module in component)
    ]
    assert through_jobs == []


def test_the_guard_imports_no_other_service():
    """services/guard.py is at the bottom: every service may import it."""
    services = {module for module in import_graph() if module.startswith("webapp.services")}
    assert import_graph()["webapp.services.guard"] & services == set()
