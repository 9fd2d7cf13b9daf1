"""Identity document numbers: the format each document type has in each issuing country.

A format check catches typing mistakes and made-up numbers before an officer sees a case; it
does not prove that a document exists. Countries without an entry get the ICAO 9303 rule for
passports (up to nine letters and digits) and a generic rule for the other types.
"""

from __future__ import annotations

import re

DOCUMENT_TYPES = ("passport", "national_id", "driving_licence")

_GENERIC = {
    "passport": r"[A-Z0-9]{6,9}",
    "national_id": r"[A-Z0-9]{5,20}",
    "driving_licence": r"[A-Z0-9]{5,20}",
}

_FORMATS: dict[tuple[str, str], str] = {
    ("passport", "US"): r"[A-Z]?[0-9]{8,9}",
    ("passport", "GB"): r"[0-9]{9}",
    ("passport", "DE"): r"[CFGHJKLMNPRTVWXYZ][CFGHJKLMNPRTVWXYZ0-9]{8}",
    ("passport", "FR"): r"[0-9]{2}[A-Z]{2}[0-9]{5}",
    ("passport", "IT"): r"[A-Z]{2}[0-9]{7}",
    ("passport", "ES"): r"[A-Z]{3}[0-9]{6}",
    ("passport", "NL"): r"[A-NP-Z]{2}[A-NP-Z0-9]{6}[0-9]",
    ("passport", "CH"): r"[A-Z][0-9]{7}",
    ("passport", "IN"): r"[A-Z][0-9]{7}",
    ("passport", "CA"): r"[A-Z]{2}[0-9]{6}",
    ("national_id", "DE"): r"[CFGHJKLMNPRTVWXYZ][CFGHJKLMNPRTVWXYZ0-9]{8}",
    ("national_id", "ES"): r"[0-9]{8}[A-Z]",
    ("national_id", "IT"): r"[A-Z]{2}[0-9]{5}[A-Z]{2}",
    ("national_id", "FR"): r"[0-9]{12}|[A-Z0-9]{9}",
    ("national_id", "NL"): r"[A-NP-Z]{2}[A-NP-Z0-9]{6}[0-9]",
    ("national_id", "BE"): r"[0-9]{12}",
    ("national_id", "PT"): r"[0-9]{8}[0-9][A-Z]{2}[0-9]",
    ("driving_licence", "GB"): r"[A-Z9]{5}[0-9]{6}[A-Z9]{2}[0-9][A-Z]{2}",
    ("driving_licence", "DE"): r"[A-Z0-9]{11}",
    ("driving_licence", "FR"): r"[0-9]{12}",
    ("driving_licence", "US"): r"[A-Z0-9]{4,17}",
}

_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def normalize_number(number: str) -> str:
    """Upper case, spaces and dashes removed (how people type them varies)."""
    return re.sub(r"[\s\-]", "", number).upper()


def document_number_valid(document_type: str, country: str, number: str) -> bool:
    """Whether `number` has the format of a `document_type` issued by `country`."""
    value = normalize_number(number)
    pattern = _FORMATS.get((document_type, country.upper())) or _GENERIC.get(document_type)
    if pattern is None or not re.fullmatch(pattern, value):
        return False
    if (document_type, country.upper()) == ("national_id", "ES"):
        return _DNI_LETTERS[int(value[:8]) % 23] == value[8]
    return True


def mask_number(number: str) -> str:
    """`•••••1234`: only the last four characters are ever shown."""
    value = normalize_number(number)
    return "•" * max(len(value) - 4, 0) + value[-4:]
