"""`flask audit …`: verify the chain, seal it now, verify an exported file offline."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from app.core import audit
from app.core.extensions import db

audit_cli = AppGroup("audit", help="Audit log commands.")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Seal, then check the audit hash chain; exit 1 naming the first broken record."""
    result = audit.verify(db.session())
    staleness = f"{result.unsealed} unsealed"
    if result.unsealed_oldest_seconds is not None:
        staleness += f" (oldest {result.unsealed_oldest_seconds:.1f} s)"
    if result.valid:
        click.echo(
            f"audit chain valid: {result.records_checked} records, head {result.head_hash}, "
            f"{staleness}"
        )
        return
    where = (
        f"record {result.first_invalid_id} (sequence {result.first_invalid_sequence})"
        if result.first_invalid_id or result.first_invalid_sequence
        else "chain head"
    )
    click.echo(f"audit chain BROKEN at {where}: {result.reason}", err=True)
    sys.exit(1)


@audit_cli.command("seal")
def audit_seal() -> None:
    """Chain every committed record now (the workers do it every few seconds)."""
    click.echo(f"sealed {audit.seal(db.engine)} records")


@audit_cli.command("verify-export")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def audit_verify_export(file: Path) -> None:
    """Verify an exported audit file (CSV or JSON Lines) without the database."""
    report = audit.verify_file(file)
    click.echo(report.summary(), err=not report.valid)
    if not report.valid:
        sys.exit(1)
