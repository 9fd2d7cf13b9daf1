"""gunicorn settings for the crash tests: the project's own, plus a worker that kills itself.

`CRASH_DIR` names a directory. A file `<phase>` in it, holding an Idempotency-Key, arms one
SIGKILL of the worker when the request carrying that key reaches the phase (once: the file is
removed first). The phases, in the order a movement meets them: `after_lock` (its accounts
locked, nothing written), `before_commit` (the movement, its audit record and the key with its
response written, not committed) and `after_commit` (committed; the response not yet sent).
"""

import os
import signal
from pathlib import Path

_base = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"
exec(compile(_base.read_text(), str(_base), "exec"))  # the project's settings, unchanged

_base_post_worker_init = post_worker_init  # noqa: F821 - defined by the project's settings


def post_worker_init(worker):
    _base_post_worker_init(worker)
    import sqlalchemy as sa
    from flask import has_request_context, request
    from sqlalchemy.orm import Session

    armed = Path(os.environ["CRASH_DIR"])

    def kill_if_armed(phase: str) -> None:
        path = armed / phase
        if not has_request_context() or not path.exists():
            return
        if request.headers.get("Idempotency-Key") != path.read_text():
            return
        path.unlink()
        os.kill(os.getpid(), signal.SIGKILL)

    for phase in ("before_commit", "after_commit"):
        sa.event.listen(Session, phase, lambda *_, phase=phase: kill_if_armed(phase))

    def after_execute(conn, cursor, statement, *_):
        if "FOR UPDATE" in statement or "FOR NO KEY UPDATE" in statement:
            kill_if_armed("after_lock")

    sa.event.listen(sa.engine.Engine, "after_cursor_execute", after_execute)
