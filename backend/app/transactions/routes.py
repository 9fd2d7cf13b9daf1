"""HTTP routes of the transactions domain (`/api/v1/transactions`)."""

from __future__ import annotations

import uuid
from typing import Any

from app.auth.permissions import current_user, current_user_id, require, token_is_fresh
from app.core.api import Blueprint
from app.core.extensions import db
from app.core.pagination import Page
from app.edge.idempotency import idempotent
from app.ledger import engine
from app.ledger.models import JournalTransaction
from app.ledger.schemas import TransactionSchema
from app.transactions import deposits, history, transfers
from app.transactions.schemas import (
    ConfirmationCreateSchema,
    ConfirmationSchema,
    DepositSchema,
    ReversalSchema,
    TransactionPageSchema,
    TransactionQueryArgsSchema,
    TransferSchema,
    WithdrawalSchema,
)

blp = Blueprint(
    "transactions",
    __name__,
    url_prefix="/api/v1/transactions",
    description="Money movements: deposits, withdrawals, transfers, reversals, history.",
)


@blp.route("", methods=["GET"])
@require("transactions:read")
@blp.arguments(TransactionQueryArgsSchema, location="query")
@blp.response(200, TransactionPageSchema)
def list_transactions(args: dict[str, Any]) -> Page:
    """List your transactions, filtered, newest first."""
    return history.list_transactions(db.session(), user=current_user(), **args)


@blp.route("/<uuid:transaction_id>", methods=["GET"])
@require("transactions:read")
@blp.response(200, TransactionSchema)
def get_transaction(transaction_id: uuid.UUID) -> JournalTransaction:
    """Get one transaction with its ledger entries."""
    return history.get_transaction(db.session(), user=current_user(), transaction_id=transaction_id)


@blp.route("/deposit", methods=["POST"])
@require("transactions:write")
@idempotent()
@blp.arguments(DepositSchema)
@blp.response(201, TransactionSchema)
def deposit(data: dict[str, Any]) -> JournalTransaction:
    """Deposit money into one of your accounts (needs an Idempotency-Key)."""
    return deposits.deposit(db.session(), user=current_user(), **data)


@blp.route("/withdrawal", methods=["POST"])
@require("transactions:write")
@idempotent()
@blp.arguments(WithdrawalSchema)
@blp.response(201, TransactionSchema)
def withdrawal(data: dict[str, Any]) -> JournalTransaction:
    """Withdraw money from one of your accounts (needs an Idempotency-Key)."""
    return deposits.withdraw(db.session(), user=current_user(), fresh=token_is_fresh(), **data)


@blp.route("/transfer", methods=["POST"])
@require("transactions:write")
@idempotent()
@blp.arguments(TransferSchema)
@blp.response(201, TransactionSchema)
def transfer(data: dict[str, Any]) -> JournalTransaction:
    """Transfer money to an account or an IBAN (needs an Idempotency-Key)."""
    return transfers.transfer(
        db.session(), user_id=current_user_id(), fresh=token_is_fresh(), **data
    )


@blp.route("/confirmations", methods=["POST"])
@require("transactions:write")
@blp.arguments(ConfirmationCreateSchema)
@blp.response(201, ConfirmationSchema)
def create_confirmation(data: dict[str, Any]) -> dict[str, Any]:
    """Start a payment confirmation: WebAuthn options whose challenge commits to the payment."""
    return transfers.confirm_transfer(db.session(), user=current_user(), **data)


@blp.route("/<uuid:transaction_id>/reverse", methods=["POST"])
@require("transactions:reverse")
@idempotent()
@blp.arguments(ReversalSchema)
@blp.response(201, TransactionSchema)
def reverse(data: dict[str, Any], transaction_id: uuid.UUID) -> JournalTransaction:
    """Reverse a completed transaction with a linked reversal (needs an Idempotency-Key)."""
    return engine.reverse(
        db.session(), transaction_id, reason=data["reason"], initiator_id=current_user().id
    )
