"""The audit log's masks: core names the neutral secrets, each domain names its own fields."""

from __future__ import annotations

import pytest

from app import create_app
from app.core import audit
from tests.conftest import make_config

# Every field the audit log masks, with the domain that names it: a domain that forgets to
# register its fields leaves them in clear, and its rows fail here.
SECRETS = {
    "password": "core",
    "password_hash": "core",
    "new_password": "core",
    "current_password": "core",
    "token": "core",
    "access_token": "core",
    "refresh_token": "core",
    "secret": "core",
    "credentials": "core",
    "code": "auth",
    "totp_secret": "auth",
    "backup_codes": "auth",
    "pan": "cards",
    "cvv": "cards",
    "pin": "cards",
}
PERSONAL = {
    # field: (domain, value, what is kept)
    "email": ("auth, compliance", "jane.doe@example.com", "j***@example.com"),
    "username": ("auth", "janedoe", "j***"),
    "login": ("auth", "jane@example.com", "j***@example.com"),
    "phone": ("auth, compliance", "+49 170 1234567", "***4567"),
    "first_name": ("auth, compliance", "Jane", "J***"),
    "last_name": ("auth, compliance", "Doe", "D***"),
    "name": ("accounts, compliance", "Holiday fund", "H***"),
    "iban": ("accounts", "DE89370400440532013000", "***3000"),
    "account_number": ("accounts", "FL0000123456", "***3456"),
    "to_iban": ("transactions", "DE89370400440532013000", "***3000"),
    "counterparty_iban": ("transactions", "DE89370400440532013000", "***3000"),
    "beneficiary_name": ("transactions, cards", "Corner Shop", "C***"),
    "counterparty_name": ("transactions", "John Roe", "J***"),
    "cardholder_name": ("cards", "JANE DOE", "J***"),
    "date_of_birth": ("compliance", "1990-04-01", "1990-**-**"),
    "document_number": ("compliance", "X1234567", "***4567"),
    "address": ("compliance", "1 Main Street", "1***"),
    "line1": ("compliance", "1 Main Street", "1***"),
    "line2": ("compliance", "Flat 2", "F***"),
    "city": ("compliance", "Berlin", "B***"),
    "postal_code": ("compliance", "10115", "1***"),
    "nationality": ("compliance", "FR", "F***"),
    "residence": ("compliance", "DE", "D***"),
}


@pytest.fixture(scope="module")
def app_masks():
    return audit.masks(create_app(make_config("sqlite:///:memory:")))


@pytest.mark.parametrize("field", sorted(SECRETS))
def test_every_secret_is_redacted(app_masks, field):
    masked = app_masks.mask({field: "s3cr3t", "nested": {field.upper(): ["s3cr3t"]}})
    assert masked == {field: "[REDACTED]", "nested": {field.upper(): "[REDACTED]"}}, (
        f"{field!r} is no longer redacted: {SECRETS[field]} must name it (audit.masks(app))"
    )


@pytest.mark.parametrize("field", sorted(PERSONAL))
def test_every_personal_field_keeps_only_its_hint_beside_the_record(app_masks, field):
    domains, value, hint = PERSONAL[field]
    masked = app_masks.mask({field: {"old": value, "new": value}})
    assert masked == {field: {"old": hint, "new": hint}}, (
        f"{field!r} is no longer masked: {domains} must name it (audit.masks(app))"
    )
    hashed, personal = app_masks.split(masked)
    assert hashed == {field: "[personal]"}
    assert personal == {f"/{field}": {"old": hint, "new": hint}}


def test_the_app_masks_exactly_the_fields_above(app_masks):
    assert app_masks.secrets == set(SECRETS)
    assert set(app_masks.personal_keys) == set(PERSONAL)


def test_core_alone_names_only_the_neutral_secrets():
    masks = audit.AuditMasks()
    document = {"password": "x", "pin": "1234", "iban": "DE89370400440532013000"}
    assert masks.mask(document) == {
        "password": "[REDACTED]",
        "pin": "1234",
        "iban": "DE89370400440532013000",
    }
    assert masks.split(document) == (document, {})


def test_a_field_named_twice_must_be_named_alike():
    masks = audit.AuditMasks()
    masks.personal("iban", hint=audit.last_four)
    masks.personal("IBAN", hint=audit.last_four)  # the same again: fine
    with pytest.raises(ValueError, match="another hint"):
        masks.personal("iban")
    with pytest.raises(ValueError, match="already a personal key"):
        masks.secret("iban")
    with pytest.raises(ValueError, match="already a secret"):
        masks.personal("password")


def test_no_masks_without_an_app():
    with pytest.raises(RuntimeError, match="app context"):
        audit.mask_pii({"email": "jane@example.com"})
