"""Password policy in the spirit of NIST SP 800-63B §5.1.1.2.

Length 12–128 (any characters, no composition rules), not a commonly used password, not
guessable (zxcvbn score ≥ 3 with the user's own details as hints), and not containing the
e-mail, username or name. Each failed rule is reported as its own reason.
"""

from __future__ import annotations

import re
from typing import Any

from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 128
MIN_SCORE = 3
# zxcvbn is slow on very long input; it only needs a prefix to judge guessability.
_ZXCVBN_PREFIX = 100


def _personal_parts(email: str | None, names: list[str | None]) -> list[str]:
    parts: list[str] = []
    if email:
        local, _, domain = email.lower().partition("@")
        parts.append(local)
        parts.extend(p for p in re.split(r"[._+\-]", local) if p)
        parts.append(domain.split(".")[0])
    for name in names:
        if name:
            parts.append(name.lower())
            parts.extend(p for p in re.split(r"[\s._\-]", name.lower()) if p)
    return sorted({p for p in parts if len(p) >= 3})


def _is_common(result: dict[str, Any], password: str) -> bool:
    sequence = result.get("sequence") or []
    return (
        len(sequence) == 1
        and sequence[0].get("pattern") == "dictionary"
        and sequence[0].get("dictionary_name") == "passwords"
        and len(sequence[0].get("token", "")) == len(password)
    )


def check_password(
    password: str,
    *,
    email: str | None = None,
    username: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
) -> list[str]:
    """Every reason `password` is refused; an empty list means it is acceptable."""
    reasons: list[str] = []
    if len(password) < MIN_LENGTH:
        reasons.append(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        return [f"Use at most {MAX_LENGTH} characters."]
    lowered = password.lower()
    personal = _personal_parts(email, [username, first_name, last_name])
    if any(part in lowered for part in personal):
        reasons.append("Do not use your e-mail address, username or name in your password.")
    if not password.strip():
        reasons.append("The password cannot be blank.")
        return reasons
    result = zxcvbn(password[:_ZXCVBN_PREFIX], user_inputs=personal)
    warning = (result.get("feedback") or {}).get("warning") or ""
    if _is_common(result, password[:_ZXCVBN_PREFIX]) or (
        result["score"] < MIN_SCORE and "common" in warning.lower()
    ):
        reasons.append("This is a commonly used password, or too close to one.")
    elif result["score"] < MIN_SCORE:
        reasons.append("This password is too easy to guess." + (f" {warning}" if warning else ""))
    return reasons
