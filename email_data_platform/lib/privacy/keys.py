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
LOCAL_PII_KEYFILE = "keys/pii_encryption.json"  # under the home folder (EDP_HOME)


def keyring_from_environment(environ: Mapping[str, str] | None = None,
                             local_keyfile: str | Path = LOCAL_PSEUDONYM_KEYFILE
                             ) -> PseudonymKeyring:
    """`EDP_PSEUDONYM_KEYS` (`id=secret,...`), `EDP_PSEUDONYM_ACTIVE_KEY`, else the local file."""
    environ = os.environ if environ is None else environ
    spec = environ.get(PSEUDONYM_KEYS_ENV, "")
    if spec:
        last_id = spec.strip(", ").split(",")[-1].partition("=")[0].strip()
        return PseudonymKeyring.from_spec(spec, environ.get(PSEUDONYM_ACTIVE_ENV) or last_id)
    return load_or_create_local_keyring(local_keyfile)


def cipher_from_environment(home: str | Path, environ: Mapping[str, str] | None = None
                            ) -> PiiCipher:
    """`EDP_PII_KEYS` (`id=<base64 32-byte key>,...`) and `EDP_PII_ACTIVE_KEY` (default: the
    last id), else a keyfile under the home folder."""
    environ = os.environ if environ is None else environ
    spec = environ.get(PII_KEYS_ENV, "")
    if spec:
        return PiiCipher.from_spec(spec, environ.get(PII_ACTIVE_ENV, ""))
    return load_or_create_local_cipher(Path(home) / LOCAL_PII_KEYFILE)
