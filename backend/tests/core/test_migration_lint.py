"""The migrations take no lock that stops traffic (migrations/lint.py), and the lint catches
each kind of offence it is meant to catch."""

import pytest

from migrations import lint


@pytest.fixture(scope="module")
def rendered():
    return lint.render()


def test_every_revision_renders_offline(rendered):
    assert list(rendered)[:3] == ["0001", "0002", "0003"]
    assert all(
        "UPDATE alembic_version" in sql or "INSERT INTO alembic_version" in sql
        for sql in rendered.values()
    )
    # The data migrations render past their queries: 0020's DDL after the re-digest is there.
    assert "CREATE INDEX ix_audit_log_txid_id" in rendered["0020"]


def test_the_migrations_take_no_lock_that_stops_traffic(rendered):
    offences, stale = lint.lint(rendered)
    assert offences == [], "\n".join(map(str, offences))
    assert stale == []


def test_every_allowed_offence_says_why():
    assert all(reason.strip() for reason in lint.ALLOWED.values())


@pytest.mark.parametrize(
    ("sql", "rule"),
    [
        ("CREATE INDEX ix_accounts_x ON accounts (x)", "index-without-concurrently"),
        ("CREATE UNIQUE INDEX ux ON public.accounts (x) WHERE y", "index-without-concurrently"),
        ("ALTER TABLE accounts ALTER COLUMN x TYPE bigint", "rewrite-column-type"),
        (
            "ALTER TABLE accounts ADD COLUMN k uuid DEFAULT gen_random_uuid()",
            "rewrite-volatile-default",
        ),
        ("ALTER TABLE accounts ADD COLUMN n bigserial", "rewrite-volatile-default"),
        ("ALTER TABLE accounts ALTER COLUMN x SET NOT NULL", "not-null"),
        ("ALTER TABLE accounts ADD COLUMN x integer NOT NULL", "not-null"),
        (
            "ALTER TABLE accounts ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES users (id)",
            "foreign-key-without-not-valid",
        ),
        (
            "ALTER TABLE accounts ADD COLUMN u bigint REFERENCES users (id)",
            "foreign-key-without-not-valid",
        ),
    ],
)
def test_a_new_offence_fails_the_lint(sql, rule):
    offences, _ = lint.lint({"9999": f"BEGIN;\n{sql};\nCOMMIT;"}, {})
    assert [(o.revision, o.rule, o.table) for o in offences] == [("9999", rule, "accounts")]


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE INDEX CONCURRENTLY ix_accounts_x ON accounts (x)",
        "ALTER TABLE accounts ADD COLUMN x integer",
        "ALTER TABLE accounts ADD COLUMN x integer NOT NULL DEFAULT 0",
        "ALTER TABLE accounts ADD COLUMN t timestamptz NOT NULL DEFAULT now()",
        "ALTER TABLE accounts ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES users (id) NOT VALID",
        "ALTER TABLE accounts VALIDATE CONSTRAINT fk",
        "ALTER TABLE accounts ALTER COLUMN x DROP NOT NULL",
        # A table created earlier in the same migration is new, hence empty.
        "CREATE TABLE fresh (id bigint); CREATE INDEX ix_fresh ON fresh (id); "
        "ALTER TABLE fresh ALTER COLUMN id SET NOT NULL; "
        "ALTER TABLE fresh ADD CONSTRAINT fk FOREIGN KEY (id) REFERENCES users (id)",
    ],
)
def test_safe_statements_pass(sql):
    assert lint.lint({"9999": sql}, {}) == ([], [])


def test_a_table_is_new_only_in_the_migration_that_created_it():
    offences, _ = lint.lint(
        {"9998": "CREATE TABLE fresh (id bigint)", "9999": "CREATE INDEX ix ON fresh (id)"}, {}
    )
    assert [o.key for o in offences] == [("9999", "index-without-concurrently", "fresh")]


def test_an_allow_list_entry_that_matches_nothing_fails():
    assert lint.lint({"9999": "SELECT 1"}, {("9999", "not-null", "x"): "why"}) == (
        [],
        [("9999", "not-null", "x")],
    )
