"""Old job path: jobs queued before this release name `app.compliance.audit_tasks`.

The sealer job lives in `app.core.audit.jobs`. RQ finds a job's function by the dotted path stored
with the job, so the runs already booked under this path still import it from here.
"""

from app.core.audit.jobs import SEAL_JOB_PREFIX, SEAL_QUEUE, schedule_audit_seal, seal_audit_chain

__all__ = ["SEAL_JOB_PREFIX", "SEAL_QUEUE", "schedule_audit_seal", "seal_audit_chain"]
