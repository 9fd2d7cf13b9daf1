"""`flask cards …`: key rotation and the periodic card jobs, for operators."""

from __future__ import annotations

import click
from flask.cli import AppGroup

cards_cli = AppGroup("cards", help="Card keys and card maintenance.")


def _session():
    from app.extensions import db

    return db.session


def _as_cli():
    from app.core import context

    context.set_job_context(context.ActorContext(actor_role="cli"))


@cards_cli.command("rotate-key")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 10_000))
def rotate_key(batch_size: int) -> None:
    """Re-encrypt every stored PAN under the newest key of CARD_ENCRYPTION_KEYS."""
    from app.cards import vault
    from app.cards.issuing import rotate_keys

    _as_cli()
    count = rotate_keys(_session(), batch_size=batch_size)
    click.echo(f"{count} card numbers re-encrypted under key {vault.primary_key_id()!r}")


@cards_cli.command("expire-cards")
def expire_cards() -> None:
    """Mark cards past their expiry month `expired`."""
    from app.cards.issuing import expire_cards as expire

    _as_cli()
    click.echo(f"{expire(_session())} cards expired")
