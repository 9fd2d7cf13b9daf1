"""AES-GCM at rest: key ids travel with the ciphertext, old keys still decrypt, tampering fails."""

import base64
import os

import pytest

from app import create_app
from app.config import ConfigError
from app.core import crypto
from tests.conftest import make_config


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def keys():
    return {"old": _key(), "new": _key()}


def _app(spec: str):
    return create_app(make_config("sqlite://", DATA_ENCRYPTION_KEYS=spec))


def test_round_trip_records_the_key_id(keys):
    with _app(f"old:{keys['old']}").app_context():
        sealed = crypto.encrypt_str("JBSWY3DPEHPK3PXP", aad=b"totp:1")
        assert crypto.key_id(sealed) == "old"
        assert "JBSWY3DPEHPK3PXP" not in sealed
        assert crypto.decrypt_str(sealed, aad=b"totp:1") == "JBSWY3DPEHPK3PXP"
        # A fresh nonce each time: the same plaintext never seals the same way.
        assert crypto.encrypt_str("JBSWY3DPEHPK3PXP", aad=b"totp:1") != sealed


def test_rotation_new_key_encrypts_old_key_still_decrypts(keys):
    with _app(f"old:{keys['old']}").app_context():
        sealed_old = crypto.encrypt_str("secret")
    with _app(f"new:{keys['new']},old:{keys['old']}").app_context():
        assert crypto.decrypt_str(sealed_old) == "secret"
        assert crypto.needs_reencryption(sealed_old)
        sealed_new = crypto.encrypt_str("secret")
        assert crypto.key_id(sealed_new) == "new"
        assert not crypto.needs_reencryption(sealed_new)
    with _app(f"new:{keys['new']}").app_context(), pytest.raises(crypto.DecryptionError):
        crypto.decrypt_str(sealed_old)


def test_tampering_or_other_associated_data_fails(keys):
    with _app(f"old:{keys['old']}").app_context():
        sealed = crypto.encrypt_str("secret", aad=b"totp:1")
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt_str(sealed, aad=b"totp:2")
        kid, _, body = sealed.partition(":")
        raw = bytearray(base64.b64decode(body))
        raw[-1] ^= 1
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt_str(f"{kid}:{base64.b64encode(bytes(raw)).decode()}", aad=b"totp:1")


@pytest.mark.parametrize(
    "spec",
    ["", "nokey", "k1:not-base64!", f"k1:{base64.b64encode(b'short').decode()}", "a:{k},a:{k}"],
)
def test_bad_key_specs_are_refused(spec):
    spec = spec.replace("{k}", _key())
    with pytest.raises(ConfigError):
        crypto.parse_keys(spec)
