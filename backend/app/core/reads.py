"""Reads of one statement, on a connection of their own outside any transaction.

A single SELECT sees one snapshot by itself; it needs no transaction around it. Run on a pooled
connection in autocommit it costs no `BEGIN` and no `ROLLBACK` round trip and none of the ORM
session's bookkeeping (docs/performance.md, "The request edge"). Only for a read that is one
statement and whose rows the same request does not change; anything else belongs in the unit
of work.

On PostgreSQL those connections come from an engine of their own (`READS`, a flask-sqlalchemy
bind made in autocommit, with the app's engine options), so no connection is switched into
autocommit and back on every use: each worker holds up to one more connection per thread.
SQLite's connections cost no round trip: there the app's engine serves, switched per use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import Connection

from app.core.extensions import db

READS = "autocommit_reads"


def configure(app: Flask) -> None:
    """Declare the autocommit engine (before `db.init_app`)."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite"):
        return
    binds = dict(app.config.get("SQLALCHEMY_BINDS") or {})
    binds[READS] = {"url": uri, "isolation_level": "AUTOCOMMIT"}
    app.config["SQLALCHEMY_BINDS"] = binds


@contextmanager
def one_statement() -> Iterator[Connection]:
    """A pooled connection in autocommit for one statement, returned to the pool afterwards."""
    engine = db.engines.get(READS)
    if engine is not None:
        with engine.connect() as connection:
            yield connection
        return
    with db.engine.connect() as connection:
        yield connection.execution_options(isolation_level="AUTOCOMMIT")
