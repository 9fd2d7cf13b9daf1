"""`flask cards …`: key rotation and card maintenance, for operators."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from app.cards import vault
from app.cards.issuing import expire_cards as expire
from app.cards.issuing import rotate_keys
from app.core import context
from app.core.extensions import db

cards_cli = AppGroup("cards", help="Card keys and card maintenance.")


@contextmanager
def _as_cli() -> Iterator[Session]:
    """The session, with audit records naming the command line as the actor."""
    context.set_job_context(context.ActorContext(actor_role="cli"))
    try:
        yield db.session()
    finally:
        context.set_job_context(None)


@cards_cli.command("rotate-key")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 10_000))
def rotate_key(batch_size: int) -> None:
    """Re-encrypt every stored PAN under the newest key of CARD_ENCRYPTION_KEYS."""
    with _as_cli() as session:
        count = rotate_keys(session, batch_size=batch_size)
    click.echo(f"{count} card numbers re-encrypted under key {vault.primary_key_id()!r}")


@cards_cli.command("expire-cards")
def expire_cards() -> None:
    """Mark cards past their expiry month `expired`."""
    with _as_cli() as session:
        click.echo(f"{expire(session)} cards expired")
