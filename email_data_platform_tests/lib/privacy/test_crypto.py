"""AES-GCM encryption of personal data: reversible with the key, bound to its context."""

import base64
import os
import stat

import pytest

from email_data_platform.lib.privacy.crypto import (
    DecryptionError,
    PiiCipher,
    load_or_create_local_cipher,
)
from email_data_platform.lib.privacy.keys import cipher_from_environment, keyring_from_environment

KEY_A, KEY_B = b"a" * 32, b"b" * 32


def spec(**keys: bytes) -> str:
    return ",".join(f"{k}={base64.urlsafe_b64encode(v).decode()}" for k, v in keys.items())


def test_round_trip_with_key_id_and_fresh_nonce():
    cipher = PiiCipher({"a": KEY_A}, "a")
    first, second = cipher.encrypt("ann@example.com", "ctx"), cipher.encrypt("ann@example.com",
                                                                               "ctx")
    assert first.startswith("a:") and first != second and "ann" not in first
    assert cipher.decrypt(first, "ctx") == "ann@example.com"


def test_wrong_context_tampering_and_unknown_keys_fail_without_the_value():
    cipher = PiiCipher({"a": KEY_A}, "a")
    token = cipher.encrypt("ann@example.com", "request:1")
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for bad, context in ((token, "request:2"), (tampered, "request:1"), ("z:" + token[2:],
                                                                         "request:1")):
        with pytest.raises(DecryptionError) as error:
            cipher.decrypt(bad, context)
        assert "ann" not in str(error.value)


def test_rotation_keeps_old_ciphertexts_readable():
    old = PiiCipher.from_spec(spec(a=KEY_A), "a")
    token = old.encrypt("x", "c")
    rotated = PiiCipher.from_spec(spec(a=KEY_A, b=KEY_B), "b")
    assert rotated.encrypt("x", "c").startswith("b:") and rotated.decrypt(token, "c") == "x"


def test_keys_never_show_and_bad_keys_are_refused():
    cipher = PiiCipher({"a": KEY_A}, "a")
    assert "aaaa" not in repr(cipher).lower()
    with pytest.raises(ValueError, match="32 bytes"):
        PiiCipher({"a": b"short"}, "a")
    with pytest.raises(ValueError, match="not configured"):
        PiiCipher({"a": KEY_A}, "b")


def test_local_keyfile_is_private_and_stable(tmp_path):
    first = load_or_create_local_cipher(tmp_path / "keys" / "pii.json")
    token = first.encrypt("x", "c")
    assert stat.S_IMODE(os.stat(tmp_path / "keys" / "pii.json").st_mode) == 0o600
    assert load_or_create_local_cipher(tmp_path / "keys" / "pii.json").decrypt(token, "c") == "x"


def test_environment_keys_win_over_the_local_files(tmp_path):
    env = {"EDP_PII_KEYS": spec(a=KEY_A, b=KEY_B), "EDP_PSEUDONYM_KEYS": "p1=0123456789abcdef0"}
    assert cipher_from_environment(tmp_path, env).active_key_id == "b"
    assert keyring_from_environment(env, tmp_path / "unused.json").key_ids == ["p1"]
    assert not (tmp_path / "unused.json").exists()
    assert cipher_from_environment(tmp_path, {}).key_ids == ["e1"]  # local file created
    assert (tmp_path / "keys" / "pii_encryption.json").exists()
