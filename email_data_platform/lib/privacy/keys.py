"""Where the privacy keys come from when no Dagster resource hands them over (the landing hook).

Read when called, never at import: an environment variable carries production keys; without it
a local development keyfile (mode 0600) is used, the same file the Dagster resources default to.
"""

import os
from collections.abc import Mapping
from pathlib import Path

from email_data_platform.lib.privacy.crypto import PiiCipher, load_or_create_local_cipher
from email_data_platform.lib.privacy.pseudonyms import (
    PseudonymKeyring,
    load_or_create_local_keyring,
)

PSEUDONYM_KEYS_ENV, PSEUDONYM_ACTIVE_ENV = "EDP_PSEUDONYM_KEYS", "EDP_PSEUDONYM_ACTIVE_KEY"
LOCAL_PSEUDONYM_KEYFILE = ".edp/keys/pseudonyms.json"
PII_KEYS_ENV, PII_ACTIVE_ENV = "EDP_PII_KEYS", "EDP_PII_ACTIVE_KEY"
AUDIT_KEYS_ENV, AUDIT_ACTIVE_ENV = "EDP_AUDIT_KEYS", "EDP_AUDIT_ACTIVE_KEY"
LOCAL_AUDIT_KEYFILE = "keys/audit.json"  # under the home folder (EDP_HOME)
LOCAL_PII_KEYFILE = "keys/pii_encryption.json"  # under the home folder (EDP_HOME)


def keyring_from_environment(environ: Mapping[str, str] | None = None,
                             local_keyfile: str | Path = LOCAL_PSEUDONYM_KEYFILE,
                             keys_env: str = PSEUDONYM_KEYS_ENV,
                             active_env: str = PSEUDONYM_ACTIVE_ENV) -> PseudonymKeyring:
    """`EDP_PSEUDONYM_KEYS` (`id=secret,...`), `EDP_PSEUDONYM_ACTIVE_KEY` (default: the last
    id), else the local file. `keys_env`/`active_env` name another keyring's variables."""
    environ = os.environ if environ is None else environ
    spec = environ.get(keys_env, "")
    if spec:
        return PseudonymKeyring.from_spec(spec, environ.get(active_env, ""))
    return load_or_create_local_keyring(local_keyfile)


def audit_keyring(environ: Mapping[str, str] | None = None) -> PseudonymKeyring:
    """The audit log's keys: `EDP_AUDIT_KEYS` / `EDP_AUDIT_ACTIVE_KEY`, else a local keyfile
    under the home folder. Older ids stay in the keyring so entries they signed still verify."""
    environ = os.environ if environ is None else environ
    local = Path(environ.get("EDP_HOME", ".edp")) / LOCAL_AUDIT_KEYFILE
    return keyring_from_environment(environ, local, AUDIT_KEYS_ENV, AUDIT_ACTIVE_ENV)


def cipher_from_environment(home: str | Path, environ: Mapping[str, str] | None = None
                            ) -> PiiCipher:
    """`EDP_PII_KEYS` (`id=<base64 32-byte key>,...`) and `EDP_PII_ACTIVE_KEY` (default: the
    last id), else a keyfile under the home folder."""
    environ = os.environ if environ is None else environ
    spec = environ.get(PII_KEYS_ENV, "")
    if spec:
        return PiiCipher.from_spec(spec, environ.get(PII_ACTIVE_ENV, ""))
    return load_or_create_local_cipher(Path(home) / LOCAL_PII_KEYFILE)
