"""The audit log's secret key: entries are HMAC-chained, so rewriting the chain needs the key.

Production sets `EDP_AUDIT_KEYS` (`id1=secret1,id2=secret2`) and `EDP_AUDIT_ACTIVE_KEY`; a
local run keeps a random key in `<EDP_HOME>/keys/audit.json` (mode 0600). Older key ids stay
in the keyring so entries chained under them still verify after a rotation. Read when an entry
is written or verified, never at import; the key never reaches logs or errors.
"""

import os
from pathlib import Path

from email_data_platform.lib.privacy.pseudonyms import (
    PseudonymKeyring,
    load_or_create_local_keyring,
)

KEYS_ENV = "EDP_AUDIT_KEYS"
ACTIVE_ENV = "EDP_AUDIT_ACTIVE_KEY"


def local_audit_keyfile() -> Path:
    return Path(os.environ.get("EDP_HOME", ".edp")) / "keys" / "audit.json"


def audit_keyring() -> PseudonymKeyring:
    """The configured keyring, else the local development keyfile (created on first use)."""
    spec = os.environ.get(KEYS_ENV, "")
    if spec:
        first = spec.split(",")[0].partition("=")[0].strip()
        return PseudonymKeyring.from_spec(spec, os.environ.get(ACTIVE_ENV) or first)
    return load_or_create_local_keyring(local_audit_keyfile())
