"""HTTP routes of the transactions domain (`/api/v1/transactions`)."""

from app.core.api import Blueprint
from app.edge.idempotency import idempotent
from app.edge.permissions import current_user, require, token_is_fresh
from app.extensions import db
from app.transactions import services
from app.transactions.schemas import (
    DepositSchema,
    TransactionPageSchema,
    TransactionQueryArgsSchema,
    TransactionSchema,
    TransferSchema,
    WithdrawalSchema,
)

blp = Blueprint(
    "transactions",
    __name__,
    url_prefix="/api/v1/transactions",
    description="Money movements: deposits, withdrawals, transfers, history.",
)


@blp.route("", methods=["GET"])
@require("transactions:read")
@blp.arguments(TransactionQueryArgsSchema, location="query")
@blp.response(200, TransactionPageSchema)
def list_transactions(args):
    """List your transactions, filtered, newest first."""
    return services.list_transactions(db.session, user=current_user(), **args)


@blp.route("/<uuid:transaction_id>", methods=["GET"])
@require("transactions:read")
@blp.response(200, TransactionSchema)
def get_transaction(transaction_id):
    """Get one transaction with its ledger entries."""
    return services.get_transaction(db.session, user=current_user(), transaction_id=transaction_id)


@blp.route("/deposit", methods=["POST"])
@require("transactions:write")
@idempotent()
@blp.arguments(DepositSchema)
@blp.response(201, TransactionSchema)
def deposit(data):
    """Deposit money into one of your accounts (needs an Idempotency-Key)."""
    return services.deposit(db.session, user=current_user(), **data)


@blp.route("/withdrawal", methods=["POST"])
@require("transactions:write")
@idempotent()
@blp.arguments(WithdrawalSchema)
@blp.response(201, TransactionSchema)
def withdrawal(data):
    """Withdraw money from one of your accounts (needs an Idempotency-Key)."""
    return services.withdraw(db.session, user=current_user(), fresh=token_is_fresh(), **data)


@blp.route("/transfer", methods=["POST"])
@require("transactions:write")
@idempotent()
@blp.arguments(TransferSchema)
@blp.response(201, TransactionSchema)
def transfer(data):
    """Transfer money to an account or an IBAN (needs an Idempotency-Key)."""
    return services.transfer(db.session, user=current_user(), fresh=token_is_fresh(), **data)
