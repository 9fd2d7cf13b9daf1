"""Rolling deploys: which migrations the release before them cannot run on.

During a rolling deploy the previous release's web and worker processes keep running on the
new schema until they are replaced. A migration that only adds (a table, a nullable column or
one with a server default, an index, a looser constraint) is an *expand* step: the old code
never notices. One that drops or renames what the old code reads or writes, or makes a column
it does not write NOT NULL, is a *contract* step: it must ship a release after the code that
stopped using it, never with it.

This test reads every migration's `upgrade()` and finds its contract steps. Each must be
declared below with the reason the release before it is safe (or is not, and how it was
deployed). A new contract step that is not declared fails the test: the author says how it is
rolled out, or splits it into expand now and contract in a later release. docs/operations.md
("Migrations and rolling deploys") lists the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

VERSIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"

# revision → the contract steps it takes, and why the previous release survives them.
DECLARED: dict[str, tuple[set[str], str]] = {
    "0020": (
        {
            "drop column audit_chain_head.hash",
            "drop column audit_chain_head.prev_hash",
            "drop column audit_chain_head.sequence",
            "not null audit_chain_head.digest",
            "not null audit_chain_head.txid",
        },
        "breaks the previous release: it locks and rewrites the chain head on every audit "
        "record. Deployed with a stop: every old process stopped, migrate, start the new "
        "release (before any release was tagged)",
    ),
    "0070": (
        {
            "data change",
            "drop column idempotency_keys.claim_token",
            "drop column idempotency_keys.claimed_at",
        },
        "breaks the previous release: it claims keys through the dropped columns, and the "
        "delete removes keys it may still hold. Deployed with a stop, like 0020",
    ),
    "0080": (
        {"not null sanctions_lists.kind"},
        "the previous release screens on (reads only) but cannot load a list: its insert "
        "has no kind. Do not load or fetch a list while the deploy rolls",
    ),
}


def _string(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_false(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _column_steps(call: ast.Call, table: str | None, method: str) -> set[str]:
    args = [_string(a) for a in call.args]
    if method == "drop_column":
        column = args[-1]
        owner = table or args[0]
        return {f"drop column {owner}.{column}"}
    if method == "alter_column":
        column = args[-1] if table else args[1]
        owner = table or args[0]
        steps = set()
        if _is_false(_keyword(call, "nullable")):
            steps.add(f"not null {owner}.{column}")
        if _keyword(call, "new_column_name") is not None or _keyword(call, "type_") is not None:
            steps.add(f"rename or retype {owner}.{column}")
        return steps
    if method == "add_column":
        column = call.args[-1]
        if isinstance(column, ast.Call):
            required = _is_false(_keyword(column, "nullable"))
            if required and _keyword(column, "server_default") is None:
                name = _string(column.args[0]) if column.args else "?"
                return {f"required column {table or args[0]}.{name}"}
    return set()


def _steps(function: ast.FunctionDef) -> set[str]:
    steps: set[str] = set()
    tables: dict[str, str] = {}  # `with op.batch_alter_table("t") as batch_op`
    for node in ast.walk(function):
        if isinstance(node, ast.With):
            for item in node.items:
                call = item.context_expr
                batch = isinstance(call, ast.Call) and getattr(call.func, "attr", "") == (
                    "batch_alter_table"
                )
                if batch and isinstance(item.optional_vars, ast.Name):
                    tables[item.optional_vars.id] = _string(call.args[0]) or "?"
    for node in ast.walk(function):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        method, owner = node.func.attr, node.func.value
        table = tables.get(owner.id) if isinstance(owner, ast.Name) else None
        if method in ("drop_table", "rename_table"):
            steps.add(f"{method.replace('_', ' ')} {_string(node.args[0])}")
        elif method in ("drop_column", "alter_column", "add_column"):
            steps |= _column_steps(node, table, method)
        elif method == "execute":
            text = (_string(node.args[0]) or "") if node.args else ""
            # A backfill (UPDATE) or a trigger replaced is an expand step; a delete or a drop
            # written as SQL is not.
            words = ("DELETE FROM", "DROP TABLE", "DROP COLUMN", "RENAME ")
            if any(word in text.upper() for word in words):
                steps.add("data change")
    return steps


def contract_steps() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted(VERSIONS.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        revision = next(
            _string(n.value)
            for n in tree.body
            if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "revision"
        )
        upgrade = next(
            n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"
        )
        steps = _steps(upgrade)
        # Helpers called by upgrade() in the same file are part of it.
        called = {
            c.func.id
            for c in ast.walk(upgrade)
            if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
        }
        for helper in tree.body:
            if isinstance(helper, ast.FunctionDef) and helper.name in called:
                steps |= _steps(helper)
        if steps:
            found[str(revision)] = steps
    return found


def test_every_contract_step_is_declared_with_its_rollout():
    found = contract_steps()
    assert found == {revision: steps for revision, (steps, _) in DECLARED.items()}


def test_the_checker_sees_a_contract_step(tmp_path):
    source = """
revision = "9999"
def upgrade():
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_column("name")
        batch_op.alter_column("currency", nullable=False)
    op.add_column("users", sa.Column("nickname", sa.String(), nullable=False))
    op.add_column("users", sa.Column("score", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE users SET nickname = email")
    op.execute("DELETE FROM sessions WHERE revoked")
"""
    tree = ast.parse(source)
    upgrade = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    assert _steps(upgrade) == {
        "drop column accounts.name",
        "not null accounts.currency",
        "required column users.nickname",
        "data change",
    }
