"""Cleaning: raw source tables to typed, normalised, validated tables plus a quarantine.

Public surface (called by the profiles assets, the identity stage and benchmarks):
`clean_contacts`, `clean_orders`, `clean_esp_events`, `clean_consent_events`, each
`(raw: pl.DataFrame, run_id: str) -> CleanResult` with `.clean` and `.quarantine`.
"""

from email_data_platform.lib.cleaning.contacts import clean_contacts
from email_data_platform.lib.cleaning.events import clean_consent_events, clean_esp_events
from email_data_platform.lib.cleaning.orders import clean_orders
from email_data_platform.lib.cleaning.staging import CleanResult

__all__ = [
    "CleanResult",
    "clean_consent_events",
    "clean_contacts",
    "clean_esp_events",
    "clean_orders",
]
