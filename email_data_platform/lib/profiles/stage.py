"""The profiles stage: raw source tables to typed, normalised, validated tables plus a quarantine.

Public surface (called by the profiles assets, the identity stage and benchmarks):
`clean_contacts`, `clean_orders`, `clean_esp_events`, `clean_consent_events`, each
`(raw: pl.DataFrame, run_id: str) -> CleanResult` with `.clean`, `.quarantine` and
`.field_issues` (values nulled on kept rows, `empty_field_issues`, `field_issue_counts`); the
quarantine accounting (`accounting_by_source`, `quarantined_withdrawals`, `empty_quarantine`),
the per-table summaries and the pandera models (`schemas`); `clean_table` and `publish` run a
cleaner over a warehouse table in bounded batches, and `validate_warehouse_table` checks a
table against its model in the same batches (batches.py). The other modules are internals.
"""

from email_data_platform.lib.profiles import schemas, summaries
from email_data_platform.lib.profiles.batches import (
    CleanedTable,
    clean_table,
    publish,
    validate_warehouse_table,
)
from email_data_platform.lib.profiles.consent_events import clean_consent_events
from email_data_platform.lib.profiles.contacts import clean_contacts
from email_data_platform.lib.profiles.events import clean_esp_events
from email_data_platform.lib.profiles.field_issues import empty_field_issues, field_issue_counts
from email_data_platform.lib.profiles.orders import clean_orders
from email_data_platform.lib.profiles.quarantine import (
    accounting_by_source,
    empty_quarantine,
    quarantined_withdrawals,
)
from email_data_platform.lib.profiles.staging import CleanResult

__all__ = [
    "CleanResult",
    "CleanedTable",
    "clean_table",
    "publish",
    "validate_warehouse_table",
    "accounting_by_source",
    "clean_consent_events",
    "clean_contacts",
    "clean_esp_events",
    "clean_orders",
    "empty_field_issues",
    "empty_quarantine",
    "field_issue_counts",
    "quarantined_withdrawals",
    "schemas",
    "summaries",
]
