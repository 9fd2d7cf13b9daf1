"""Operator commands: `flask --app main init-db | create-admin | create-user | audit verify …`."""

from __future__ import annotations

import sys
import time

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from flask_migrate import upgrade
from sqlalchemy.orm import Session

from app.audit.cli import audit_cli
from app.auth.users import create_user, enforce_password_policy, get_user_by_email
from app.compliance.cli import aml_cli, sanctions_cli
from app.core import context, seeds, uow
from app.core.errors import DomainError
from app.core.extensions import db
from app.core.idempotency import purge_expired
from app.core.outbox import backlog
from app.core.queue import QUEUES, get_redis, this_app
from app.ledger.engine import expire_holds
from app.ledger.verify import verify
from app.transactions import counters
from app.worker import run_maintenance_round, run_worker


def _session() -> Session:
    return db.session()


def register_cli(app: Flask) -> None:
    app.cli.add_command(init_db)
    app.cli.add_command(seed_demo)
    app.cli.add_command(create_admin)
    app.cli.add_command(create_user_cmd)
    app.cli.add_command(audit_cli)
    app.cli.add_command(ledger_cli)
    app.cli.add_command(worker)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(sanctions_cli)
    app.cli.add_command(aml_cli)


def run_reference_seeders() -> None:
    session = _session()
    for seeder in seeds.seeders(current_app).reference:
        seeder(session)
        uow.commit(session)


@click.command("init-db")
@with_appcontext
def init_db() -> None:
    """Apply all migrations and seed reference data; safe to run again."""
    upgrade(directory=current_app.extensions["migrate"].directory)
    run_reference_seeders()
    click.echo("database is at the latest migration; reference data seeded")


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Seed demo users and data for local development (refused in production)."""
    if current_app.config["FLOWLET_ENV"] == "production":
        raise click.ClickException("seed-demo is not available in production")
    session = _session()
    for seeder in seeds.seeders(current_app).demo:
        seeder(session)
        uow.commit(session)
    click.echo("demo data seeded")


def _create_user(email: str, password: str, role: str, first: str, last: str) -> None:
    session = _session()
    context.set_job_context(context.ActorContext(actor_role="cli"))
    try:
        existing = get_user_by_email(session, email)
        if existing is not None:
            if role not in existing.roles:
                raise click.ClickException(
                    f"a user with e-mail {email} exists without role {role}; "
                    "use the admin API to change roles"
                )
            click.echo(f"user {email} already exists with role {role}; nothing to do")
            return
        try:
            # Operators get no exemption: a staff password meets the same policy as a customer's.
            enforce_password_policy(password, email=email, first_name=first, last_name=last)
            user = create_user(
                session,
                email=email,
                password=password,
                first_name=first,
                last_name=last,
                roles=[role],
                email_verified=True,
            )
            uow.commit(session)
        except DomainError as exc:
            session.rollback()
            detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.details.items())
            raise click.ClickException(f"{exc.message} {detail}".strip()) from exc
        click.echo(f"created {role} {user.email} ({user.public_id})")
    finally:
        context.set_job_context(None)


@click.command("create-admin")
@with_appcontext
@click.option("--email", prompt=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--first-name", default="Admin", show_default=True)
@click.option("--last-name", default="User", show_default=True)
def create_admin(email: str, password: str, first_name: str, last_name: str) -> None:
    """Create an administrator, prompting for what is not given."""
    _create_user(email, password, "admin", first_name, last_name)


@click.command("create-user")
@with_appcontext
@click.option("--email", prompt=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option(
    "--role",
    type=click.Choice(["customer", "compliance_officer", "admin", "card_processor"]),
    default="customer",
    show_default=True,
)
@click.option("--first-name", default="Flowlet", show_default=True)
@click.option("--last-name", default="User", show_default=True)
def create_user_cmd(email: str, password: str, role: str, first_name: str, last_name: str) -> None:
    """Create a user with a role (compliance officers, the card processor)."""
    _create_user(email, password, role, first_name, last_name)


create_user_cmd.name = "create-user"

ledger_cli = AppGroup("ledger", help="Ledger commands.")


@ledger_cli.command("verify")
def ledger_verify() -> None:
    """Recompute every balance and running counter from the ledger; exit 1 on any difference."""
    session = _session()
    result = verify(session)
    result.problems.extend(counters.verify(session))
    for problem in result.problems:
        click.echo(f"ledger MISMATCH: {problem}", err=True)
    if not result.ok:
        sys.exit(1)
    click.echo(
        f"ledger consistent: {result.accounts_checked} accounts, "
        f"{result.transactions_checked} transactions"
    )


@ledger_cli.command("expire-holds")
def ledger_expire_holds() -> None:
    """Release the holds past their expiry (the `expire_holds` job does it too); safe to rerun."""
    click.echo(f"released {expire_holds(_session())} expired holds")


@ledger_cli.command("purge-idempotency-keys")
def ledger_purge_idempotency_keys() -> None:
    """Delete idempotency keys past their retention (run it hourly)."""
    session = _session()
    count = purge_expired(session)
    uow.commit(session)
    click.echo(f"purged {count} expired idempotency keys")


@click.command("worker")
@with_appcontext
@click.option("--queues", "-q", default="default,sync,notifications,maintenance", show_default=True)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
def worker(queues: str, burst: bool) -> None:
    """Run an RQ worker for the given queues."""
    run_worker([q.strip() for q in queues.split(",") if q.strip()], burst=burst)


outbox_cli = AppGroup("outbox", help="Job outbox commands.")


@outbox_cli.command("relay")
@click.option("--once", is_flag=True, help="One pass, then exit.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between passes.")
def outbox_relay(once: bool, interval: float) -> None:
    """Push pending outbox rows to RQ (every `flask worker` also does this)."""
    if get_redis() is None:
        raise click.ClickException("REDIS_URL is not set: jobs run inline, nothing to relay")
    app = this_app()
    while True:
        run_maintenance_round(app, list(QUEUES))
        if once:
            return
        time.sleep(interval)


@outbox_cli.command("status")
def outbox_status() -> None:
    """How many jobs wait for RQ, and the age of the oldest."""
    result = backlog(_session())
    click.echo(f"pending: {result.pending}, oldest: {result.oldest_age_seconds:.1f} s")
