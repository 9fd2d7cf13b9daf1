"""HTTP routes of the accounts domain (`/api/v1/accounts`)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response

from app.accounts import services, statements
from app.accounts.schemas import (
    AccountCreateSchema,
    AccountPageSchema,
    AccountSchema,
    AccountUpdateSchema,
    BalanceArgsSchema,
    BalanceSchema,
    StatementArgsSchema,
    StatementJobSchema,
    StatementSchema,
)
from app.auth.permissions import current_user, current_user_id, require
from app.core import replica
from app.core.api import Blueprint
from app.core.extensions import db
from app.core.pagination import Page, PageArgsSchema
from app.ledger import opening, queries
from app.ledger.accounts import Account

blp = Blueprint(
    "accounts",
    __name__,
    url_prefix="/api/v1/accounts",
    description="Customer accounts: opening, renaming, closing, statements.",
)


@blp.route("", methods=["GET"])
@require("accounts:read")
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, AccountPageSchema)
def list_accounts(args: dict[str, Any]) -> Page:
    """List your accounts."""
    return services.list_accounts(user_id=current_user_id(), **args)


@blp.route("", methods=["POST"])
@require("accounts:write")
@blp.arguments(AccountCreateSchema)
@blp.response(201, AccountSchema)
def open_account(data: dict[str, Any]) -> Account:
    """Open an account."""
    return opening.open_account(db.session(), user=current_user(), **data)


@blp.route("/<uuid:account_id>", methods=["GET"])
@require("accounts:read")
@blp.response(200, AccountSchema)
def get_account(account_id: uuid.UUID) -> Account:
    """Get one of your accounts."""
    return queries.get_own_account(db.session(), user=current_user(), account_id=account_id)


@blp.route("/<uuid:account_id>", methods=["PATCH"])
@require("accounts:write")
@blp.arguments(AccountUpdateSchema)
@blp.response(200, AccountSchema)
def rename_account(data: dict[str, Any], account_id: uuid.UUID) -> Account:
    """Rename one of your accounts."""
    return services.rename_account(db.session(), user=current_user(), account_id=account_id, **data)


@blp.route("/<uuid:account_id>/close", methods=["POST"])
@require("accounts:write")
@blp.response(200, AccountSchema)
def close_account(account_id: uuid.UUID) -> Account:
    """Close an account with a zero balance and no pending holds."""
    return services.close_account(db.session(), user=current_user(), account_id=account_id)


@blp.route("/<uuid:account_id>/statement", methods=["GET"])
@require("accounts:read")
@blp.arguments(StatementArgsSchema, location="query")
@blp.response(200, StatementSchema)
@blp.alt_response(202, schema=StatementJobSchema, description="A long PDF, built by a job")
def account_statement(args: dict[str, Any], account_id: uuid.UUID) -> Response:
    """Statement for a period (default: this calendar month) as JSON, CSV or PDF (`format`)."""
    session = db.session()
    return statements.respond(
        session,
        reader=replica.tolerating_lag(session),
        user=current_user(),
        account_id=account_id,
        start=args["start"],
        end=args["end"],
        fmt=args["format"],
    )


@blp.route("/<uuid:account_id>/statements/<uuid:document_id>", methods=["GET"])
@require("accounts:read")
@blp.response(200)
@blp.alt_response(202, schema=StatementJobSchema, description="Still being built")
def statement_document(account_id: uuid.UUID, document_id: uuid.UUID) -> Response:
    """Download a statement built by a job (202 while it is being built)."""
    return statements.download_document(
        db.session(), user=current_user(), account_id=account_id, document_id=document_id
    )


@blp.route("/<uuid:account_id>/balance", methods=["GET"])
@require("accounts:read")
@blp.arguments(BalanceArgsSchema, location="query")
@blp.response(200, BalanceSchema)
def account_balance(args: dict[str, Any], account_id: uuid.UUID) -> services.BalanceAt:
    """Balance and available balance at an instant (`at`, ISO 8601; now by default)."""
    return services.balance_at(db.session(), user=current_user(), account_id=account_id, **args)
