"""Background jobs: their status for the customers who asked for them (`/api/v1/jobs/{id}`), and
`flask scheduler`, which runs the periodic jobs the domains put in the schedule."""

from __future__ import annotations

from flask import Flask

from app.jobs.cli import scheduler


def init_app(app: Flask) -> None:
    """`flask scheduler` (the job status blueprint is registered with the other domains')."""
    app.cli.add_command(scheduler)
