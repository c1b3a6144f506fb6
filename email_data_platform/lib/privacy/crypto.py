"""Reversible encryption of personal data (AES-256-GCM) for values an authorised job must read
back, such as the subject of a pending erasure request.

A ciphertext is `<key_id>:<urlsafe base64 of nonce + ciphertext + tag>`. The key id says which key
decrypts it, so keys rotate by adding a new active key (old ciphertexts stay readable while their
key is kept). Each value is bound to a `context` (associated data): a ciphertext copied into
another column or table does not decrypt there. Keys never appear in logs, reprs or errors, and
a failed decryption names the key id, never the value.

DuckDB's own database encryption cannot write here (it needs the httpfs extension), so the
`cryptography` package encrypts values before they reach the warehouse.
"""

import base64
import json
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from email_data_platform.lib.privacy.pseudonyms import parse_key_spec

logger = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12


class DecryptionError(ValueError):
    """A ciphertext that does not decrypt (wrong key, wrong context, or tampered)."""


class PiiCipher:
    """Named AES-256 keys, one of them active for new ciphertexts."""

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str):
        if not keys:
            raise ValueError("encryption keyring is empty: configure at least one key")
        for key_id, key in keys.items():
            if not key_id or ":" in key_id:
                raise ValueError(f"encryption key id {key_id!r} must be non-empty without ':'")
            if len(key) != KEY_BYTES:
                raise ValueError(f"encryption key {key_id!r} must be {KEY_BYTES} bytes")
        if active_key_id not in keys:
            raise ValueError(f"active encryption key id {active_key_id!r} is not configured")
        self._keys = {key_id: AESGCM(bytes(key)) for key_id, key in keys.items()}
        self.active_key_id = active_key_id

    @classmethod
    def from_spec(cls, spec: str, active_key_id: str) -> "PiiCipher":
        """Parse `id1=<base64 key>,id2=<base64 key>` (the form an environment variable carries)."""
        keys = {}
        for key_id, encoded in parse_key_spec(spec).items():
            try:
                keys[key_id] = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            except ValueError:
                raise ValueError(f"encryption key {key_id!r} is not base64") from None
        # the active key defaults to the last one listed, as for the pseudonym keyring
        return cls(keys, active_key_id or (list(keys)[-1] if keys else ""))

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def __repr__(self) -> str:  # never show keys
        return f"PiiCipher(key_ids={self.key_ids}, active={self.active_key_id!r})"

    def encrypt(self, value: str, context: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._keys[self.active_key_id].encrypt(nonce, value.encode("utf-8"),
                                                       context.encode("utf-8"))
        return f"{self.active_key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, token: str, context: str) -> str:
        key_id, _, encoded = token.partition(":")
        if key_id not in self._keys:
            raise DecryptionError(f"encryption key {key_id!r} is not configured")
        try:
            raw = base64.urlsafe_b64decode(encoded)
            plain = self._keys[key_id].decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                               context.encode("utf-8"))
        except (InvalidTag, ValueError):
            raise DecryptionError(
                f"a value encrypted with key {key_id!r} does not decrypt in context "
                f"{context!r} (wrong key, wrong context or tampered)") from None
        return plain.decode("utf-8")


def load_or_create_local_cipher(path: str | Path) -> PiiCipher:
    """A development keyring kept in a local file (mode 0600), created with a random key.

    Production passes keys through the environment instead (`PiiCipher.from_spec`).
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"active": "e1", "keys": {"e1": key}}))
        os.chmod(temporary, 0o600)
        temporary.replace(path)
        logger.info("created a local encryption keyring at %s", path)
    stored = json.loads(path.read_text())
    spec = ",".join(f"{key_id}={key}" for key_id, key in stored["keys"].items())
    return PiiCipher.from_spec(spec, stored["active"])
