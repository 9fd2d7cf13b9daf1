-- The reference for `make bench` (bench/transfers.py): the minimal transfer a ledger cannot do
-- without, as PostgreSQL alone runs it. In one transaction: lock the two account rows in id
-- order, update both balances, insert the transaction, its two entries, one audit row and one
-- idempotency row. No global lock; synchronous_commit stays on.
-- Variables: lo, hi (customer account ids), hot (0/1), hot_id, uid (any customer's user id).
\set src random(:lo, :hi)
\set step random(1, :hi - :lo)
\if :hot
\set src :hot_id
\endif
\set dst :lo + ((:src - :lo + :step) % (:hi - :lo + 1))
BEGIN;
SELECT id, balance FROM accounts WHERE id IN (:src, :dst) ORDER BY id FOR UPDATE;
UPDATE accounts SET balance = balance - 100 WHERE id = :src;
UPDATE accounts SET balance = balance + 100 WHERE id = :dst;
INSERT INTO journal_transactions (public_id, type, status, amount, currency, from_account_id,
  to_account_id, description, risk_score, risk_rules, attributes, created_at, updated_at,
  posted_at)
  VALUES (gen_random_uuid(), 'transfer', 'completed', 100, 'USD', :src, :dst, 'bench', 0, '[]',
  '{}', now(), now(), now())
  RETURNING id AS txn_id \gset
INSERT INTO ledger_entries (transaction_id, account_id, amount, currency, created_at)
  VALUES (:txn_id, :src, -100, 'USD', now()), (:txn_id, :dst, 100, 'USD', now());
INSERT INTO audit_log (public_id, txid, occurred_at, action, resource_type, resource_id,
  outcome, changes, digest)
  VALUES (gen_random_uuid(), pg_current_xact_id()::text::bigint, now(), 'transaction.transfer',
  'transaction', 'x', 'success', '{}', md5(random()::text) || md5(random()::text));
INSERT INTO idempotency_keys (user_id, key, fingerprint, status, created_at, expires_at)
  VALUES (:uid, gen_random_uuid()::text, 'f', 'completed', now(), now() + interval '1 day');
COMMIT;
