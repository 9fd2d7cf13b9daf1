-- The SQL one `POST /api/v1/transactions/transfer` runs, for pgbench (bench/transfers.py).
-- Variables: lo, hi (customer account ids), hot (0/1), hot_id. The idempotency store's
-- connection runs with synchronous_commit=off; here SET LOCAL does the same.
\set src random(:lo, :hi)
\set dst random(:lo, :hi)
\if :hot
\set src :hot_id
\endif
-- authentication: the token's session is live, and the caller with their roles (one query)
BEGIN;
SELECT u.id AS uid FROM users u JOIN accounts a ON a.user_id = u.id WHERE a.id = :src \gset
SELECT u.*, s.revoked_at, r.role FROM users u JOIN auth_sessions s ON s.user_id = u.id
  LEFT JOIN user_roles r ON r.user_id = u.id WHERE s.user_id = :uid;
COMMIT;
-- claim the Idempotency-Key
BEGIN;
SET LOCAL synchronous_commit TO OFF;
INSERT INTO idempotency_keys (user_id, key, fingerprint, status, created_at, expires_at,
  claim_token, claimed_at)
  VALUES (:uid, gen_random_uuid()::text, 'f', 'in_flight', now(), now() + interval '1 day',
  'bench', now())
  ON CONFLICT (user_id, key) DO NOTHING RETURNING id AS key_id \gset
COMMIT;
-- the movement: lock the customer, then the accounts in id order; limits, fraud rules, post
BEGIN;
SELECT id FROM users WHERE id = :uid FOR NO KEY UPDATE;
SELECT * FROM accounts WHERE id IN (:src, :dst) AND system_code IS NULL ORDER BY id FOR UPDATE;
SELECT
  (SELECT coalesce(sum(amount), 0) FROM journal_transactions
    WHERE initiated_by_id = :uid AND created_at >= current_date
    AND type IN ('transfer', 'withdrawal')
    AND status IN ('completed', 'pending', 'pending_review') AND currency = 'USD'),
  (SELECT count(*) FROM journal_transactions
    WHERE initiated_by_id = :uid AND type = 'transfer'
    AND created_at >= now() - interval '600 seconds'),
  (SELECT count(*) FROM (SELECT amount FROM journal_transactions
    WHERE initiated_by_id = :uid AND type = 'transfer' AND status IN ('completed', 'pending')
    AND currency = 'USD' ORDER BY created_at DESC LIMIT 20) r),
  (SELECT avg(amount) FROM (SELECT amount FROM journal_transactions
    WHERE initiated_by_id = :uid AND type = 'transfer' AND status IN ('completed', 'pending')
    AND currency = 'USD' ORDER BY created_at DESC LIMIT 20) r);
-- the journal transaction, its two entries and both cached balances: one statement
WITH t AS (
  INSERT INTO journal_transactions (public_id, type, status, amount, currency, from_account_id,
    to_account_id, initiated_by_id, description, reference, counterparty_iban,
    counterparty_name, beneficiary_key, risk_score, risk_rules, created_at, updated_at,
    posted_at)
  VALUES (gen_random_uuid(), 'transfer', 'completed', 100, 'USD', :src, :dst, :uid, 'bench',
    NULL, NULL, NULL, 'k', 0, '[]', now(), now(), now())
  RETURNING id),
e AS (
  INSERT INTO ledger_entries (transaction_id, account_id, amount, currency, created_at)
  SELECT t.id, :src, -100, 'USD', now() FROM t
  UNION ALL SELECT t.id, :dst, 100, 'USD', now() FROM t),
u AS (
  UPDATE accounts SET balance = balance + CASE WHEN id = :src THEN -100 ELSE 0 END
    + CASE WHEN id = :dst THEN 100 ELSE 0 END, updated_at = now()
  WHERE id IN (:src, :dst) AND system_code IS NULL)
SELECT id FROM t;
-- the audit record: one insert with its transaction id and digest (sealed after commit)
INSERT INTO audit_log (public_id, txid, occurred_at, actor_id, action, resource_type,
  resource_id, outcome, changes, digest)
VALUES (gen_random_uuid(), pg_current_xact_id()::text::bigint, now(), 'bench',
  'transaction.transfer', 'transaction', 'x', 'success', '{}',
  md5(random()::text) || md5(random()::text));
-- the claim is spent by this same transaction (or the commit fails)
UPDATE idempotency_keys SET status = 'committed'
  WHERE id = :key_id AND claim_token = 'bench' AND status = 'in_flight';
COMMIT;
-- store the response for replay
BEGIN;
SET LOCAL synchronous_commit TO OFF;
UPDATE idempotency_keys SET status = 'completed', response_status = 201,
  response_headers = '{}', response_body = '\x00' WHERE id = :key_id AND claim_token = 'bench';
COMMIT;
