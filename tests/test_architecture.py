"""The layering that ARCHITECTURE.md describes, checked on the source: no import cycles, stages on the ground floor.

Imports are read with ``ast``, so the ones inside functions (lazy imports)
count as well, and so do the ``"module:Class"`` strings that the registry
imports by name.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ragkit"

# The folders whose modules are stages (or their protocols and helpers).
STAGE_FOLDERS = ("loaders", "chunkers", "embedders", "stores", "indexes", "retrievers", "rerankers", "augmenters", "generators")

# What a stage may never import: the layers above it.
ABOVE_STAGES = (
    "ragkit.config", "ragkit.pipeline", "ragkit.cli", "ragkit.server", "ragkit.ingest", "ragkit.query", "ragkit.conversation",
)

_BY_NAME = re.compile(r"(ragkit(?:\.\w+)+):\w+")


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The ragkit modules that ``path`` imports anywhere in it (the package itself when it imports a name from it)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (match := _BY_NAME.fullmatch(node.value)):
            found.add(match.group(1))
    return {name for name in found if name in modules}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None (depth-first search with colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for imported in sorted(graph[module]):
            if state.get(imported) == 1:
                return [*path[path.index(imported) :], imported]
            if imported not in state and (found := visit(imported)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_the_package_has_no_import_cycle(graph: dict[str, set[str]]) -> None:
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_check_finds_a_cycle_through_a_lazy_import() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_stages_import_nothing_above_them(graph: dict[str, set[str]]) -> None:
    offending = {
        module: sorted(imported for imported in graph[module] if imported.startswith(ABOVE_STAGES))
        for module in graph
        if module.split(".")[1:2] and module.split(".")[1] in STAGE_FOLDERS
    }
    assert {module: names for module, names in offending.items() if names} == {}


def test_the_ground_floor_imports_nothing_else_from_ragkit(graph: dict[str, set[str]]) -> None:
    for module in ("ragkit.types", "ragkit.stage"):
        assert graph[module] == set(), module
    assert graph["ragkit.settings"] == set()


def test_modules_stay_short_enough_to_read_in_one_go() -> None:
    lengths = {path.relative_to(PACKAGE).as_posix(): len(path.read_text(encoding="utf-8").splitlines()) for path in PACKAGE.rglob("*.py")}
    assert lengths["pipeline.py"] < 250
    assert {name: length for name, length in lengths.items() if length > 350} == {}
