-- The SQL one approved `POST /api/v1/card-network/authorizations` runs, for pgbench
-- (bench/cards.py). Variables: lo, hi (card ids), hot (0/1), hot_id, proc (the processor's
-- user id). The Idempotency-Key is written with its answer in the authorization's own
-- transaction, as the unit of work does.
\set card random(:lo, :hi)
\if :hot
\set card :hot_id
\endif
-- authentication: the token's session is live, and the caller with their roles (one query)
BEGIN;
SELECT u.*, s.revoked_at, r.role FROM users u JOIN auth_sessions s ON s.user_id = u.id
  LEFT JOIN user_roles r ON r.user_id = u.id WHERE s.user_id = :proc LIMIT 1;
COMMIT;
-- the key is looked up first (a new one: nothing to replay)
BEGIN;
SELECT fingerprint, status FROM idempotency_keys
  WHERE user_id = :proc AND key = gen_random_uuid()::text;
-- the authorization: the card by fingerprint (locked), the month's spending, the account
SELECT c.*, a.currency FROM cards c JOIN accounts a ON a.id = c.account_id
  WHERE c.pan_fingerprint = (SELECT pan_fingerprint FROM cards WHERE id = :card)
  FOR NO KEY UPDATE OF c;
SELECT account_id AS acc, user_id AS owner FROM cards WHERE id = :card \gset
SELECT coalesce(sum(CASE WHEN created_at >= current_date THEN counted_amount ELSE 0 END), 0),
  coalesce(sum(counted_amount), 0)
  FROM card_authorizations WHERE card_id = :card
  AND created_at >= date_trunc('month', current_date);
-- the engine: the account, then the customer; the fraud rules' running activity (one query)
SELECT id AS clearing FROM accounts WHERE system_code = 'card_clearing' AND currency = 'USD' \gset
SELECT * FROM accounts WHERE id IN (:acc, :clearing) AND system_code IS NULL FOR UPDATE;
-- the customer's lock takes the ids the transaction and the hold will have
SELECT u.id AS locked, nextval('journal_transactions_id_seq') AS txn,
  nextval('holds_id_seq') AS hold FROM users u WHERE u.id = :owner FOR NO KEY UPDATE OF u \gset
SELECT
  (SELECT amount FROM daily_counters WHERE user_id = :owner AND currency = 'USD'
    AND day = current_date AND direction = 'out'),
  (SELECT amount FROM daily_counters WHERE user_id = :owner AND currency = 'USD'
    AND day = current_date AND direction = 'in'),
  (SELECT last_transfer_at FROM recent_activity WHERE user_id = :owner),
  (SELECT transfer_times FROM recent_activity WHERE user_id = :owner),
  (SELECT recent_amounts FROM recent_activity WHERE user_id = :owner),
  EXISTS (SELECT 1 FROM payees WHERE user_id = :owner AND beneficiary_key = '');
-- one write: the transaction, the hold, the held amount, the authorization row, the audit
-- record (no chain lock: the sealer chains it after commit), the key with its answer
WITH t AS (
  INSERT INTO journal_transactions (id, public_id, type, status, amount, currency,
    from_account_id, to_account_id, initiated_by_id, description, reference, counterparty_name,
    risk_score, risk_rules, attributes, created_at, updated_at)
  VALUES (:txn, gen_random_uuid(), 'card_authorization', 'pending', 100, 'USD', :acc,
    :clearing, :owner, 'Card: bench', 'card-auth:x', 'bench', 0, '[]', '{}', now(), now())
), h AS (
  INSERT INTO holds (id, public_id, account_id, transaction_id, amount, currency, status, reason,
    created_at, expires_at) VALUES (:hold, gen_random_uuid(), :acc, :txn, 100, 'USD', 'active',
    'card_authorization', now(), now() + interval '7 days')
), u AS (
  UPDATE accounts SET held = held + 100, updated_at = now()
    WHERE id = :acc AND system_code IS NULL
), c AS (
  INSERT INTO card_authorizations (public_id, card_id, account_id, processor_id, amount,
    currency, merchant_name, mcc, country, channel, approved, status, counted_amount, hold_id,
    transaction_id, created_at, expires_at)
  VALUES (gen_random_uuid(), :card, :acc, :proc, 100, 'USD', 'bench', '5411', 'DE', 'pos', true,
    'authorized', 100, :hold, :txn, now(), now() + interval '7 days')
), a AS (
  INSERT INTO audit_log (public_id, txid, occurred_at, actor_id, action, resource_type,
    resource_id, outcome, changes, digest)
  VALUES (gen_random_uuid(), pg_current_xact_id()::text::bigint, now(), 'bench',
    'card.authorization', 'card_authorization', 'x', 'success', '{}',
    md5(random()::text) || md5(random()::text))
), k AS (
  INSERT INTO idempotency_keys (user_id, key, fingerprint, status, response_status,
    response_headers, response_body, created_at, expires_at)
  VALUES (:proc, gen_random_uuid()::text, 'f', 'completed', 200, '{}', '\x00', now(),
    now() + interval '1 day')
  ON CONFLICT (user_id, key) DO NOTHING RETURNING id
)
SELECT count(*) FROM k;
COMMIT;
