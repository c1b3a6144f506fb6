"""The privacy stage's facade: what the other stages and the privacy assets call.

Internals (ledger rules, the audit chain, pseudonym keys) live in the sibling modules; callers
outside `lib/privacy/` import from here only.
"""

from email_data_platform.lib.privacy.audit import (
    AuditEntry,
    anchor_present,
    append_audit_entries,
    read_audit_log,
    verify_chain,
)
from email_data_platform.lib.privacy.consent import (
    ConsentLedgerModel,
    MarketableAudienceModel,
    audience_rows_without_consent,
    build_consent_ledger,
    build_marketable_audience,
    granted_entities,
)
from email_data_platform.lib.privacy.pseudonyms import (
    PseudonymKeyring,
    load_or_create_local_keyring,
    pseudonymised_view,
)

__all__ = [
    "AuditEntry", "ConsentLedgerModel", "MarketableAudienceModel", "PseudonymKeyring",
    "anchor_present", "append_audit_entries", "audience_rows_without_consent",
    "build_consent_ledger", "build_marketable_audience", "granted_entities",
    "load_or_create_local_keyring", "pseudonymised_view", "read_audit_log", "verify_chain",
]
