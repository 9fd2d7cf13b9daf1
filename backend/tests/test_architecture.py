"""The house as docs/architecture.md draws it is the house the code is: the drawing and the
import-linter layers agree, the import graph is at most six floors deep, and an import inside
a function is rare and says why."""

from __future__ import annotations

import ast
import re
import tomllib
from functools import cache
from pathlib import Path

import grimp

BACKEND = Path(__file__).resolve().parents[1]
DRAWING = BACKEND.parent / "docs" / "architecture.md"


def _contract(name: str) -> dict:
    config = tomllib.loads((BACKEND / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["name"] == name)


def _drawn_floors() -> list[str]:
    text = DRAWING.read_text()
    block = re.search(r"<!-- floors:.*?-->\s*```\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md has lost its floors drawing"
    return [re.sub(r"^\d+\s+", "", line).strip() for line in block.group(1).splitlines()]


def test_the_drawing_is_the_layers_contract():
    drawn = _drawn_floors()
    assert drawn[0] == "app (create_app)"
    assert drawn[1:] == _contract("the house, floor by floor")["layers"]


def test_the_independence_contract_names_the_fourth_floor():
    fourth = _drawn_floors()[2]
    packages = [name.strip() for name in fourth.split("|")]
    independent = [
        m.removeprefix("app.") for m in _contract("the domains stand side by side")["modules"]
    ]
    # web and worker sit on the fourth floor too, but import nothing of a domain's anyway
    assert sorted(independent) == sorted(set(packages) - {"web", "worker"})


@cache
def _package_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph("app", cache_dir=None)
    top = lambda module: ".".join(module.split(".")[:2])  # noqa: E731
    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if top(module) != top(imported):
                edges.setdefault(top(module), set()).add(top(imported))
    return edges


def test_the_house_is_at_most_six_floors_deep():
    edges = _package_graph()
    depth: dict[str, int] = {}

    def floor(package: str, path: tuple[str, ...] = ()) -> int:
        assert package not in path, f"packages import one another: {' -> '.join(path)}"
        if package not in depth:
            below = [floor(p, (*path, package)) for p in edges.get(package, ())]
            depth[package] = 1 + max(below, default=0)
        return depth[package]

    assert floor("app") <= 6, depth


def _imports_in_functions() -> list[tuple[Path, int, list[str]]]:
    found = []
    for path in sorted((BACKEND / "app").rglob("*.py")):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import | ast.ImportFrom):
                        found.append((path, inner.lineno, lines[inner.lineno - 4 : inner.lineno]))
    return found


def test_an_import_inside_a_function_is_rare_and_says_why():
    found = _imports_in_functions()
    assert len(found) <= 3, [f"{p.relative_to(BACKEND)}:{n}" for p, n, _ in found]
    for path, line, context in found:
        assert any(text.strip().startswith("#") for text in context), (
            f"{path.relative_to(BACKEND)}:{line} imports inside a function without a comment"
        )
