"""The schema is made by the migrations, on PostgreSQL and on SQLite, and agrees with the models."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app import create_app
from app.core.extensions import db
from tests.conftest import create_pg_database, drop_pg_database, make_config, worker_id


def _check(app):
    """`flask db check` passes, and autogenerate finds no difference between models and schema."""
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


@pytest.mark.postgres
def test_migrations_build_an_empty_postgres_database_and_match_the_models():
    name = f"flowlet_migrate_{worker_id()}"
    url = create_pg_database(name)
    try:
        app = create_app(make_config(url))
        with app.app_context():
            directory = app.extensions["migrate"].directory
            upgrade(directory=directory)
            _check(app)
            tables = set(sa.inspect(db.engine).get_table_names())
            assert {
                "users",
                "user_roles",
                "audit_log",
                "audit_chain_head",
                "alembic_version",
            } <= tables
            # Down to nothing and up again: every migration is reversible.
            downgrade(directory=directory, revision="base")
            assert set(sa.inspect(db.engine).get_table_names()) == {"alembic_version"}
            upgrade(directory=directory)
            _check(app)
            db.engine.dispose()
    finally:
        drop_pg_database(name)


def test_migrations_build_a_fresh_sqlite_database_and_match_the_models(tmp_path):
    app = create_app(make_config(f"sqlite:///{tmp_path / 'flowlet.db'}"))
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        _check(app)
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO audit_log (public_id, txid, occurred_at, action, "
                    "outcome, digest) VALUES ('x', 0, '2026-01-01', 'a', 'success', 'd')"
                )
            )
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM audit_log"))
        db.engine.dispose()
