"""`flask events …`: the stream server."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

events_cli = AppGroup("events", help="The live event stream.")


@events_cli.command("serve")
@click.option("--host", default=None, help="Address to listen on (EVENTS_HOST).")
@click.option("--port", type=int, default=None, help="Port to listen on (EVENTS_PORT).")
def serve(host: str | None, port: int | None) -> None:
    """Serve /api/v1/events/stream to thousands of clients (asyncio; docs/events.md)."""
    # Here, not at the top: aiohttp is loaded only by the process that serves streams, not
    # by every web worker and job that builds the app.
    from app.events import server

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    server.serve(
        app, host=host or app.config["EVENTS_HOST"], port=port or app.config["EVENTS_PORT"]
    )
