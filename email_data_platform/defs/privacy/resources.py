"""The pseudonymisation keyring resource (keyed HMAC for analytics views).

Production sets `key_spec` (`id1=secret1,id2=secret2`) and `active_key_id` from the environment;
locally, a random key is kept in a 0600 file under the working folder so nothing needs setting.
"""

import dagster as dg

from email_data_platform.lib.privacy.stage import (
    PseudonymKeyring,
    load_or_create_local_keyring,
)


class PseudonymisationResource(dg.ConfigurableResource):
    """Secret keys for pseudonyms; never logged or shown (only key ids are)."""

    key_spec: str = ""
    """`id1=secret1,id2=secret2` (bind with dg.EnvVar); empty = the local development keyfile."""
    active_key_id: str = ""
    local_keyfile: str = ".edp/keys/pseudonyms.json"

    def keyring(self) -> PseudonymKeyring:
        if self.key_spec:
            return PseudonymKeyring.from_spec(self.key_spec, self.active_key_id)
        return load_or_create_local_keyring(self.local_keyfile)


@dg.definitions
def privacy_resources() -> dg.Definitions:
    return dg.Definitions(resources={"pseudonymisation": PseudonymisationResource()})
