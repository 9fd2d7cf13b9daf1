"""The append-only audit log, chained after commit by a sealer.

Every layer writes the log (the ledger included), so it lives in core and knows no domain.

- `models`: the records (`audit_log`), their seals (`audit_seal`) and the chain's head.
- `masks`: what a record may not keep in clear; each domain names its fields on the app's
  `AuditMasks` (`audit.masks(app)`) from its `init_app`.
- `recorder`: `record`, `fail`, `refuse`, and the unit of work's hook that writes the records
  in the caller's transaction.
- `chain`: the canonical form and the chain hash in standard-library Python, and the offline
  verifier of exported files (one file an auditor can run alone).
- `sql`: the same hashing as PostgreSQL computes it.
- `sealer`: the sealer, which chains committed records in `(txid, id)` order.
- `verifier`: the whole chain checked, in SQL on PostgreSQL, walked in Python elsewhere.

`from app.core import audit; audit.record(...)`: the names below are the log's interface.
docs/audit-log.md explains the design.
"""

from app.core.audit.chain import (
    EXPORT_COLUMNS,
    EXPORT_FORMAT,
    GENESIS_HASH,
    HASHED_FIELDS,
    TRAILER_MARK,
    ExportReport,
    RowsHash,
    canonical,
    canonical_json,
    chain_hash,
    content_digest,
    format_time,
    verify_file,
)
from app.core.audit.masks import (
    ERASED_MARK,
    NEUTRAL_SECRETS,
    PERSONAL_MARK,
    AuditMasks,
    Hint,
    birth_year,
    current_masks,
    email_address,
    first_letter,
    join_personal,
    last_four,
    login_name,
    mask_pii,
    masks,
)
from app.core.audit.models import AuditChainHead, AuditLog, AuditSeal
from app.core.audit.recorder import fail, personal_digest, record, refuse
from app.core.audit.sealer import SEAL_BATCH, seal
from app.core.audit.sql import CANONICAL_SQL, DIGEST_SQL, UNSEALED_SQL
from app.core.audit.verifier import VerifyResult, iter_chain, verify, verify_in_python

__all__ = [
    "CANONICAL_SQL",
    "DIGEST_SQL",
    "ERASED_MARK",
    "EXPORT_COLUMNS",
    "EXPORT_FORMAT",
    "GENESIS_HASH",
    "HASHED_FIELDS",
    "NEUTRAL_SECRETS",
    "PERSONAL_MARK",
    "SEAL_BATCH",
    "TRAILER_MARK",
    "UNSEALED_SQL",
    "AuditChainHead",
    "AuditLog",
    "AuditMasks",
    "AuditSeal",
    "ExportReport",
    "Hint",
    "RowsHash",
    "VerifyResult",
    "birth_year",
    "canonical",
    "canonical_json",
    "chain_hash",
    "content_digest",
    "current_masks",
    "email_address",
    "fail",
    "first_letter",
    "format_time",
    "iter_chain",
    "join_personal",
    "last_four",
    "login_name",
    "mask_pii",
    "masks",
    "personal_digest",
    "record",
    "refuse",
    "seal",
    "verify",
    "verify_file",
    "verify_in_python",
]
