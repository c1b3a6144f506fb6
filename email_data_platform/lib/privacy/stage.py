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

# --- data subjects' rights: erasure, access export, retention, PII encryption -------------------
from email_data_platform.lib.privacy.crypto import PiiCipher  # noqa: E402
from email_data_platform.lib.privacy.erasure import (  # noqa: E402
    ERASURE_LOG,
    REQUESTS,
    pending_requests,
    process_erasures,
    request_erasure,
    subject_pseudonym,
)
from email_data_platform.lib.privacy.esp_members import (  # noqa: E402
    MailchimpMembers,
    SendGridMembers,
)
from email_data_platform.lib.privacy.export import (  # noqa: E402
    audit_export,
    export_json,
    export_subject,
)
from email_data_platform.lib.privacy.keys import (  # noqa: E402
    cipher_from_environment,
    keyring_from_environment,
)
from email_data_platform.lib.privacy.retention import (  # noqa: E402
    RETENTION_LOG,
    anonymise_inactive,
    eligible_entities,
)
from email_data_platform.lib.privacy.tombstones import (  # noqa: E402
    TOMBSTONES,
    apply_tombstones,
    remaining_rows,
    sweep,
)

__all__ += [
    "ERASURE_LOG", "REQUESTS", "RETENTION_LOG", "TOMBSTONES", "MailchimpMembers", "PiiCipher",
    "SendGridMembers", "anonymise_inactive", "apply_tombstones", "audit_export",
    "cipher_from_environment", "eligible_entities", "export_json", "export_subject",
    "keyring_from_environment", "pending_requests", "process_erasures", "remaining_rows",
    "request_erasure", "subject_pseudonym", "sweep",
]
