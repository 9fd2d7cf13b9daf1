"""The app with one more schedule entry, every PROBE_INTERVAL seconds, for the lease tests.

flask --app tests.lease.probe_app scheduler | worker
"""

from __future__ import annotations

from app import create_app
from app.core.schedule import Entry, schedule_of

PROBE_INTERVAL = 2
PROBE = Entry("lease-probe", "tests.lease.jobs.lease_probe", "default", interval=PROBE_INTERVAL)

app = create_app()
schedule_of(app).add(PROBE)
