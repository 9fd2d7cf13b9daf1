"""The movement engine: the whole life of every movement of money, in one place.

A `Movement` names its kind, the account money leaves (debit), the account it arrives in
(credit), the amount in minor units, the currency, who asked and what else the rules need
(`metadata`: channel, mcc, country, beneficiary, description, reference …). `execute` carries it
through one unit of work:

1. lock the customer accounts in ascending id order, then the customer's user row
   (`FOR NO KEY UPDATE`: one customer's movements are checked in turn);
2. check the accounts (open, same currency, funds) and run the policies registered for the
   kind: a policy raises a `DomainError` to refuse, or returns a `Review` to hold for review;
3. post the balanced entries (each with the account's running balance), or place a hold;
4. run the observers registered for the kind (counters, AML rules, alerts, jobs);
5. audit, spend the request's idempotency claim, and commit once.

A refusal rolls the movement back and is audited as a failure in a commit of its own.

Two-phase movements: `execute(..., hold=True)` reserves the amount (`pending`); `capture` posts
at most the held amount, once; `void` and `expire_holds` release it. A movement held for review
is decided by `decide_review`. `reverse` books a linked reversal and marks the original.

Lock order, everywhere: a transaction or hold row first (capture, void, review, reversal), then
the customer accounts by id, then the customer. System accounts are never locked nor cached.
The ledger imports no domain: the customer's model is registered with it (`owners`), and domains
call `register_facts`, `register_policy` and `register_observer` when the app is created.

This module is the engine's front: what callers use, from the modules that hold it —
`movement` (what a movement carries), `hooks` (the registries), `execution` (`execute`),
`holds` (capture, void, expiry) and `review` (an officer's decision, a reversal).
"""

from app.ledger.execution import default_hold_expiry, execute, system_account_id
from app.ledger.holds import capture, expire_holds, void
from app.ledger.hooks import register_facts, register_observer, register_policy
from app.ledger.movement import (
    Facts,
    FactsReader,
    Movement,
    Observer,
    Policy,
    PolicyContext,
    Result,
    Review,
    TransactionNotFound,
)
from app.ledger.review import decide_review, reverse

__all__ = [
    "Facts",
    "FactsReader",
    "Movement",
    "Observer",
    "Policy",
    "PolicyContext",
    "Result",
    "Review",
    "TransactionNotFound",
    "capture",
    "decide_review",
    "default_hold_expiry",
    "execute",
    "expire_holds",
    "register_facts",
    "register_observer",
    "register_policy",
    "reverse",
    "system_account_id",
    "void",
]
