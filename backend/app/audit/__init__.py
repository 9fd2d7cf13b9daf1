"""The audit trail as compliance officers reach it: list, export and verify the audit log.

The log itself (writing, masking, sealing, verifying) lives in `app.core.audit`, since every
layer writes it. This package is the officers' side of it: the `/api/v1/compliance/audit-logs`
routes, the streamed offline-verifiable export, `flask audit …` and the periodic sealer job.
"""
