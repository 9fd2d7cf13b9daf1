"""Long downloads under gunicorn's sync workers.

A sync worker tells the arbiter it is alive only between requests; one request longer than
`GUNICORN_TIMEOUT` gets the worker killed, which would cut a long statement or audit export
off in the middle. `gunicorn.conf.py` hands each worker's heartbeat to `set_heartbeat`, and
`stream` beats it (at most once a second) between the chunks of a streamed response.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import AnyStr, TypeVar

from flask import stream_with_context

T = TypeVar("T")

_heartbeat: Callable[[], None] | None = None
_EVERY_SECONDS = 1.0


def set_heartbeat(beat: Callable[[], None] | None) -> None:
    """What tells this process's server that the worker is alive (gunicorn: `worker.notify`)."""
    global _heartbeat
    _heartbeat = beat


def _beating(chunks: Iterable[T]) -> Iterator[T]:
    last = time.monotonic()
    for chunk in chunks:
        if _heartbeat is not None and time.monotonic() - last >= _EVERY_SECONDS:
            _heartbeat()
            last = time.monotonic()
        yield chunk


def stream(chunks: Iterable[AnyStr]) -> Iterator[AnyStr]:
    """A response body streamed inside the request's context, keeping the worker alive."""
    return stream_with_context(_beating(chunks))
