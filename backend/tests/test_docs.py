"""docs/configuration.md lists every setting the code has, and only those.

The names come from the code itself: the variables `app/config.py` and `gunicorn.conf.py` read
(with their literal defaults), the variables every other module, benchmark and script reads, the
attributes of each configuration class and the settings of `gunicorn.conf.py`. The page's tables
are read by their first column: `variable` tables (name, default, meaning), `setting` (the
config's attributes no variable sets directly) and `gunicorn setting`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.config import CONFIGS

BACKEND = Path(__file__).resolve().parent.parent
REPO = BACKEND.parent
PAGE = REPO / "docs" / "configuration.md"
CONFIG = BACKEND / "app" / "config.py"
GUNICORN = BACKEND / "gunicorn.conf.py"
SHELL_SCRIPTS = (BACKEND / "run.sh", REPO / "Makefile")

ENV_READERS = {"_env", "_env_int", "_env_bool"}  # app/config.py's helpers
NO_DEFAULT = object()


# --- the code ------------------------------------------------------------------------------------


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _env_call(node: ast.AST) -> ast.Call | None:
    """A call that reads a variable: `_env*(name, …)`, `os.environ.get(…)`, `os.getenv(…)`."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = node.func
    if isinstance(func, ast.Name) and func.id in ENV_READERS:
        return node
    if isinstance(func, ast.Attribute):
        if func.attr == "get" and _is_os_environ(func.value):
            return node
        if func.attr == "getenv" and isinstance(func.value, ast.Name) and func.value.id == "os":
            return node
    return None


def _literal(node: ast.AST | None) -> Any:
    """The value of a literal (constant arithmetic included), else NO_DEFAULT."""
    if node is None:
        return NO_DEFAULT
    allowed = (ast.Expression, ast.Constant, ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop)
    expression = ast.Expression(node)
    if not all(isinstance(part, allowed) for part in ast.walk(expression)):
        return NO_DEFAULT
    return eval(compile(expression, "<default>", "eval"), {"__builtins__": {}})


def _string_tuples(tree: ast.Module) -> dict[str, tuple[str, ...]]:
    """Module-level `NAME = ("A", "B", …)`: what a loop over NAME iterates."""
    found = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Tuple):
            values = [_literal(item) for item in statement.value.elts]
            if all(isinstance(value, str) for value in values):
                for target in statement.targets:
                    if isinstance(target, ast.Name):
                        found[target.id] = tuple(values)
    return found


def _loop_values(loop: ast.For, tuples: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    if isinstance(loop.iter, ast.Name):
        return tuples.get(loop.iter.id, ())
    if isinstance(loop.iter, ast.Tuple):
        values = [_literal(item) for item in loop.iter.elts]
        if all(isinstance(value, str) for value in values):
            return tuple(values)
    return ()


def env_reads(path: Path) -> dict[str, set[Any]]:
    """Variable name → the literal defaults it is read with (NO_DEFAULT when none is literal).

    A name held in a loop variable (`for name in CARD_SECRETS: _env(name, …)`) is resolved
    through the loop's tuple.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    tuples = _string_tuples(tree)
    loop_names: dict[int, tuple[str, ...]] = {}
    for loop in ast.walk(tree):
        if isinstance(loop, ast.For) and isinstance(loop.target, ast.Name):
            values = _loop_values(loop, tuples)
            for node in ast.walk(loop):
                if isinstance(node, ast.Name) and node.id == loop.target.id:
                    loop_names[id(node)] = values
    reads: dict[str, set[Any]] = {}
    for node in ast.walk(tree):
        call = _env_call(node)
        if call is not None:
            first = call.args[0]
            default = _literal(call.args[1] if len(call.args) > 1 else None)
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names: tuple[str, ...] = (first.value,)
            else:
                names = loop_names.get(id(first), ())
            for name in names:
                reads.setdefault(name, set()).add(default)
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and _is_os_environ(node.value)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            reads.setdefault(node.slice.value, set()).add(NO_DEFAULT)
    return reads


def python_files() -> Iterator[Path]:
    for root in (BACKEND, REPO / "bench"):
        for path in sorted(root.rglob("*.py")):
            if not {".venv", "node_modules", "__pycache__"} & set(path.parts):
                yield path


def every_variable_read() -> set[str]:
    """Every variable a module, benchmark, test or script of the backend reads."""
    names: set[str] = set()
    for path in python_files():
        names |= set(env_reads(path))
    for script in SHELL_SCRIPTS:
        names |= set(re.findall(r"\$\{(\w+)", script.read_text(encoding="utf-8")))
    return names


def config_settings() -> set[str]:
    """Every setting a configuration class hands to Flask (its upper-case attributes)."""
    names: set[str] = set()
    for cls in CONFIGS.values():
        names |= {name for name in dir(cls()) if name.isupper()}
    return names


def gunicorn_settings() -> set[str]:
    """The settings and hooks `gunicorn.conf.py` defines (private names left out)."""
    tree = ast.parse(GUNICORN.read_text(encoding="utf-8"))
    names = set()
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            names |= {t.id for t in statement.targets if isinstance(t, ast.Name)}
        elif isinstance(statement, ast.FunctionDef):
            names.add(statement.name)
    return {name for name in names if not name.startswith("_")}


# --- the page ------------------------------------------------------------------------------------


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def page_tables() -> list[tuple[str, list[list[str]]]]:
    """Each table of the page: its first header cell and its rows' cells."""
    tables: list[tuple[str, list[list[str]]]] = []
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        previous = lines[number - 1].strip() if number else ""
        if not line.strip().startswith("|"):
            continue
        if not previous.startswith("|"):
            tables.append((_cells(line)[0], []))
        elif not set(line.replace("|", "").strip()) <= set("-: "):
            tables[-1][1].append(_cells(line))
    return tables


def names_in(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def defaults_in(cell: str) -> list[str]:
    """`a`, 10, `b,c` → ["a", "10", "b,c"] (commas inside backticks stay)."""
    items = re.findall(r"`[^`]*`|[^,`]+", cell)
    return [item.strip().strip("`") for item in items if item.strip()]


def listed(kind: str) -> list[tuple[list[str], list[str]]]:
    """(names, cells) of every row of the page's tables whose header is `kind`."""
    return [
        (names_in(row[0]), row) for header, rows in page_tables() if header == kind for row in rows
    ]


def variable_rows() -> dict[str, tuple[list[str], str]]:
    """Variable → the names of its row and the row's default cell (the first row naming it)."""
    rows: dict[str, tuple[list[str], str]] = {}
    for names, cells in listed("variable"):
        for name in names:
            rows.setdefault(name, (names, cells[1]))
    return rows


def expected_text(value: Any) -> str | None:
    if value is NO_DEFAULT or value is None or value == "":
        return None  # no literal default: described in words ("unset", "development value")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- the checks ----------------------------------------------------------------------------------


def test_each_variable_is_listed_once():
    names = [name for names, _ in listed("variable") for name in names]
    twice = sorted({name for name in names if names.count(name) > 1})
    assert not twice, f"docs/configuration.md lists {twice} more than once"


def test_every_variable_the_code_reads_is_listed():
    missing = every_variable_read() - set(variable_rows())
    assert not missing, f"docs/configuration.md does not list {sorted(missing)}"


def test_every_listed_variable_is_read_by_the_code():
    unknown = set(variable_rows()) - every_variable_read()
    assert not unknown, f"docs/configuration.md lists {sorted(unknown)}, which nothing reads"


def test_the_listed_defaults_are_the_code_s():
    rows = variable_rows()
    wrong = []
    for path in (CONFIG, GUNICORN):
        for name, defaults in env_reads(path).items():
            if name not in rows:
                continue  # test_every_variable_the_code_reads_is_listed names it
            names, cell = rows[name]
            for default in defaults:
                expected = expected_text(default)
                if expected is None:
                    continue
                shown = defaults_in(cell)
                if len(names) > 1:
                    shown_here = shown[names.index(name)] if len(shown) == len(names) else cell
                else:
                    shown_here = cell.replace("`", "").strip()
                if shown_here != expected:
                    wrong.append(f"{name}: the page says {shown_here!r}, the code {expected!r}")
    assert not wrong, "\n".join(wrong)


def test_every_config_setting_is_listed():
    on_page = {name for names, _ in listed("variable") + listed("setting") for name in names}
    missing = config_settings() - on_page
    assert not missing, f"docs/configuration.md does not list {sorted(missing)}"


def test_every_setting_listed_as_set_in_the_code_exists():
    unknown = {name for names, _ in listed("setting") for name in names} - config_settings()
    assert not unknown, f"docs/configuration.md lists {sorted(unknown)}, which config.py lacks"


def test_every_gunicorn_setting_is_listed_and_exists():
    on_page = {name for names, _ in listed("gunicorn setting") for name in names}
    assert gunicorn_settings() - on_page == set(), "gunicorn settings missing from the page"
    assert on_page - gunicorn_settings() == set(), "the page lists gunicorn settings that are gone"
