"""The password policy on its own (NIST SP 800-63B spirit)."""

import pytest

from app.auth.password_policy import check_password


def test_a_long_unusual_passphrase_passes():
    assert check_password("Quiet-Harbor-Lantern-73", email="ada@example.com") == []
    assert check_password("correct horse battery staple") == []


def test_composition_rules_are_not_required():
    # No digit, no symbol, no capital: length and unguessability are what count.
    assert check_password("marble orchard quietly sings") == []


@pytest.mark.parametrize(
    ("password", "identity", "fragment"),
    [
        ("eleven-char", {}, "at least 12"),
        ("p" * 129, {}, "at most 128"),
        ("iloveyou1234", {}, "commonly used"),
        ("Lovelace-violet-tram-19", {"last_name": "Lovelace"}, "name"),
        ("ada.byron-river-stone-7", {"email": "ada.byron@example.com"}, "e-mail"),
        ("zzz-kestrel-99-maple", {"username": "kestrel"}, "username"),
    ],
)
def test_refusals_name_the_reason(password, identity, fragment):
    reasons = check_password(password, **identity)
    assert any(fragment in reason for reason in reasons), reasons
