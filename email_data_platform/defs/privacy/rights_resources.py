"""The encryption key resource for personal data a job must read back (erasure requests)."""

import dagster as dg

from email_data_platform.lib.privacy.stage import PiiCipher, cipher_from_environment


class PiiEncryptionResource(dg.ConfigurableResource):
    """AES-GCM keys for personal data that must stay readable to an authorised job.

    Keys come from the `EDP_PII_KEYS` environment variable (`id=<base64 key>,...`, read when a
    run needs them); without it, a random key in a 0600 file under the home folder."""

    home: str = ".edp"

    def cipher(self) -> PiiCipher:
        return cipher_from_environment(self.home)
