"""Lint the migrations' SQL for locks that stop traffic on a live PostgreSQL database.

Each revision is rendered by Alembic's offline mode (`upgrade <down>:<rev> --sql`, through this
directory's env.py) and its statements are parsed by pglast (PostgreSQL's own parser). A
statement offends when, on a table the migration did not create itself, it

- rewrites the table under an ACCESS EXCLUSIVE lock: `ALTER COLUMN … TYPE`, or `ADD COLUMN`
  with a volatile default (a function call PostgreSQL must run per row, a serial);
- builds an index without `CONCURRENTLY` (writes wait for the whole build);
- adds a NOT NULL (`SET NOT NULL` scans the table under its lock; `ADD COLUMN … NOT NULL`
  without a default fails outright on a filled table);
- adds a foreign key without `NOT VALID` (both tables locked against writes while every row
  is checked; add it `NOT VALID`, then `VALIDATE CONSTRAINT` in a later migration).

A table created earlier in the same migration is new, hence empty: anything goes on it.
Offences in migrations released before this lint are listed in `ALLOWED`, each with its
reason; an entry that matches nothing is an error too, so the list never outlives its use.

    cd backend && ../.venv/bin/python -m migrations.lint        # exit 1 on a new offence
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pglast
import sqlalchemy as sa
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pglast import ast
from pglast.enums import AlterTableType, ConstrType
from sqlalchemy.engine.mock import MockConnection

from app import create_app
from app.config import Config, TestingConfig

# The URL only picks the dialect: offline mode never connects.
OFFLINE_URL = "postgresql+psycopg://lint@127.0.0.1:1/offline"

# Functions whose value is the same for every row of one statement: a default calling only
# these keeps ADD COLUMN a catalogue change (PostgreSQL 11+ stores it once).
NON_VOLATILE = {
    "now",
    "transaction_timestamp",
    "statement_timestamp",
    "current_setting",
    "to_jsonb",
    "jsonb_build_object",
    "json_build_object",
    "lower",
    "upper",
    "coalesce",
}
SERIAL_TYPES = {"serial", "serial4", "bigserial", "serial8", "smallserial", "serial2"}


@dataclass(frozen=True)
class Offence:
    revision: str
    rule: str
    table: str
    statement: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.revision, self.rule, self.table)

    def __str__(self) -> str:
        text = " ".join(self.statement.split())
        return f"{self.revision}: {self.rule} on {self.table}: {text[:160]}"


# (revision, rule, table) -> why it may stay. Migrations are history: they are not rewritten.
# Every migration up to 0082 belongs to the first release (CHANGELOG.md has only its
# [Unreleased] section): a database that runs them is built from nothing by the whole chain,
# so the tables they lock are empty when they do.
_FIRST_RELEASE = "first release: the chain builds the database from nothing, the table is empty"
ALLOWED: dict[tuple[str, str, str], str] = {
    # Per-account history indexes on the movement tables of 0003.
    ("0010", "index-without-concurrently", "holds"): _FIRST_RELEASE,
    ("0010", "index-without-concurrently", "journal_transactions"): _FIRST_RELEASE,
    # The audit log of 0001, re-digested record by record: held still by design.
    ("0020", "not-null", "audit_log"): _FIRST_RELEASE,
    ("0020", "index-without-concurrently", "audit_log"): _FIRST_RELEASE,
    # Alert cases on the alerts of 0003.
    ("0040", "foreign-key-without-not-valid", "compliance_alerts"): _FIRST_RELEASE,
    ("0040", "index-without-concurrently", "compliance_alerts"): _FIRST_RELEASE,
    # One active version per kind on the sanctions lists of 0040.
    ("0080", "foreign-key-without-not-valid", "sanctions_lists"): _FIRST_RELEASE,
    ("0080", "not-null", "sanctions_lists"): _FIRST_RELEASE,
    ("0080", "index-without-concurrently", "sanctions_lists"): _FIRST_RELEASE,
}


def _walk(node: Any) -> Iterator[ast.Node]:
    if isinstance(node, ast.Node):
        yield node
        for name in node:
            yield from _walk(getattr(node, name))
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _walk(item)


def _names(items: Any) -> list[str]:
    return [n.sval.lower() for n in items or () if isinstance(n, ast.String)]


def _volatile(expr: Any) -> bool:
    return any(
        isinstance(n, ast.FuncCall) and _names(n.funcname)[-1] not in NON_VOLATILE
        for n in _walk(expr)
    )


def _column_offences(column: ast.ColumnDef) -> Iterator[str]:
    constraints = column.constraints or ()
    default = next((c for c in constraints if c.contype == ConstrType.CONSTR_DEFAULT), None)
    type_names = _names(column.typeName.names if column.typeName else ())
    if (default is not None and _volatile(default.raw_expr)) or (
        type_names and type_names[-1] in SERIAL_TYPES
    ):
        yield "rewrite-volatile-default"
    if default is None and any(c.contype == ConstrType.CONSTR_NOTNULL for c in constraints):
        yield "not-null"
    if any(c.contype == ConstrType.CONSTR_FOREIGN and not c.skip_validation for c in constraints):
        yield "foreign-key-without-not-valid"


def _alter_offences(cmd: ast.AlterTableCmd) -> Iterator[str]:
    if cmd.subtype == AlterTableType.AT_AlterColumnType:
        yield "rewrite-column-type"
    elif cmd.subtype == AlterTableType.AT_SetNotNull:
        yield "not-null"
    elif cmd.subtype == AlterTableType.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
        yield from _column_offences(cmd.def_)
    elif (
        cmd.subtype == AlterTableType.AT_AddConstraint
        and isinstance(cmd.def_, ast.Constraint)
        and cmd.def_.contype == ConstrType.CONSTR_FOREIGN
        and not cmd.def_.skip_validation
    ):
        yield "foreign-key-without-not-valid"


def lint_sql(revision: str, sql: str) -> list[Offence]:
    """The offences of one migration's SQL (the tables it creates are new, hence empty)."""
    new_tables: set[str] = set()
    offences = []
    for raw in pglast.parse_sql(sql):
        stmt = raw.stmt
        text = sql[raw.stmt_location : raw.stmt_location + raw.stmt_len].strip()
        if isinstance(stmt, ast.CreateStmt | ast.CreateTableAsStmt):
            relation = stmt.relation if isinstance(stmt, ast.CreateStmt) else stmt.into.rel
            new_tables.add(relation.relname.lower())
        elif isinstance(stmt, ast.IndexStmt):
            table = stmt.relation.relname.lower()
            if not stmt.concurrent and table not in new_tables:
                offences.append(Offence(revision, "index-without-concurrently", table, text))
        elif isinstance(stmt, ast.AlterTableStmt) and stmt.relation is not None:
            table = stmt.relation.relname.lower()
            if table in new_tables:
                continue
            for cmd in stmt.cmds or ():
                offences.extend(
                    Offence(revision, rule, table, text) for rule in _alter_offences(cmd)
                )
    return offences


class _NoRows:
    """What a query answers in offline mode: no rows, as on an empty database."""

    def all(self) -> list[Any]:
        return []

    fetchall = all

    def first(self) -> None:
        return None

    scalar = scalar_one_or_none = first

    def __iter__(self) -> Iterator[Any]:
        return iter(())


def _offline_connection(self: MigrationContext, connection: Any) -> MockConnection:
    """Alembic's offline connection, taught two things a data migration does: a query (0020
    re-digests the audit log, 0080 counts aliases) is written as a comment and answers no
    rows, and a statement's parameters are bound into its text, so the DDL after it renders."""

    def run(construct: Any, parameters: Any = None, *_: Any, **__: Any) -> Any:
        if isinstance(construct, str):
            construct = sa.text(construct)
        is_query = isinstance(construct, sa.Select) or (
            isinstance(construct, sa.TextClause) and construct.text.lstrip().upper()[:6] == "SELECT"
        )
        if is_query:
            self.impl.static_output("-- offline: a query the migration reads, no rows")
            return _NoRows()
        if isinstance(parameters, list | tuple):
            parameters = parameters[0] if parameters else None
        if parameters:
            if isinstance(construct, sa.TextClause):
                construct = construct.bindparams(**parameters)
            else:
                construct = construct.params(parameters)
        self.impl._exec(construct)
        return None

    return MockConnection(self.dialect, run)


def render(directory: str | None = None) -> dict[str, str]:
    """Every revision's upgrade SQL for PostgreSQL, from Alembic's offline mode, oldest first."""
    config = TestingConfig()
    config.SQLALCHEMY_DATABASE_URI = OFFLINE_URL
    config.SQLALCHEMY_ENGINE_OPTIONS = Config.engine_options(OFFLINE_URL)
    config.LOG_JSON = True
    app = create_app(config)
    rendered: dict[str, str] = {}
    original = MigrationContext._stdout_connection
    MigrationContext._stdout_connection = _offline_connection  # type: ignore[method-assign]
    try:
        with app.app_context():
            migrate = app.extensions["migrate"]
            alembic_config = migrate.migrate.get_config(directory or migrate.directory)
            script = ScriptDirectory.from_config(alembic_config)
            for revision in reversed(list(script.walk_revisions())):
                down = revision.down_revision
                if isinstance(down, tuple):  # a merge: render from its first parent
                    down = down[0]
                buffer = io.StringIO()
                alembic_config.output_buffer = buffer
                target = f"{down}:{revision.revision}" if down else revision.revision
                command.upgrade(alembic_config, target, sql=True)
                rendered[revision.revision] = buffer.getvalue()
    finally:
        MigrationContext._stdout_connection = original  # type: ignore[method-assign]
    return rendered


def lint(
    rendered: dict[str, str], allowed: dict[tuple[str, str, str], str] | None = None
) -> tuple[list[Offence], list[tuple[str, str, str]]]:
    """(offences not allowed, allow-list entries that matched nothing)."""
    allowed = ALLOWED if allowed is None else allowed
    offences = [o for revision, sql in rendered.items() for o in lint_sql(revision, sql)]
    seen = {o.key for o in offences}
    return [o for o in offences if o.key not in allowed], sorted(set(allowed) - seen)


def main() -> int:
    offences, stale = lint(render())
    for offence in offences:
        print(f"lock: {offence}")
    for key in stale:
        print(f"allow-list entry matches nothing (remove it): {key}")
    if not offences and not stale:
        print("migrations: no statement takes a lock that stops traffic")
    return 1 if offences or stale else 0


if __name__ == "__main__":
    sys.exit(main())
