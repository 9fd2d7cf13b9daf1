"""The chain's hashing as PostgreSQL computes it, and the unsealed tail.

PostgreSQL builds the same canonical bytes as `chain.canonical` (json_build_array writes `, `
between elements, escapes strings as Python's json does, and copies a `json` value's stored
text verbatim), so the database recomputes digests and hashes itself. The expressions read an
`audit_log` row as `l` (and an `audit_seal` row as `s`).
"""

from __future__ import annotations

CANONICAL_SQL = (
    "json_build_array(l.public_id::text, "
    "to_char(l.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "l.actor_id, l.actor_role, l.action, l.resource_type, l.resource_id, l.outcome, "
    "l.request_id, l.changes, l.personal_digest)::text"
)
DIGEST_SQL = f"encode(sha256(convert_to({CANONICAL_SQL}, 'UTF8')), 'hex')"
DIGEST_BYTES_SQL = f"sha256(convert_to({CANONICAL_SQL}, 'UTF8'))"
SEAL_HASH_SQL = (
    "sha256(convert_to(s.prev_hash || E'\\n' || s.sequence::text || E'\\n' || l.digest, 'UTF8'))"
)

# Committed records after the sealed position: how many, and since when.
UNSEALED_SQL = """
SELECT count(*) AS n, min(l.occurred_at) AS oldest
FROM audit_log l
WHERE (l.txid, l.id) > (SELECT last_txid, last_record_id FROM audit_chain_head WHERE id = 1)
"""
