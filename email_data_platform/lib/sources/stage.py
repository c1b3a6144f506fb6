"""The sources stage: vendor records pulled incrementally and landed in our `sources.*` tables.

Public surface (called by the sources assets and benchmarks): one `extract_<source>` per
vendor, each landing its batches, advancing its cursor only after a commit and returning an
`Extraction`; `Window` for a backfill; `duplicate_keys` and `source_total_mismatches` for the
checks. Connectors (lib/connectors/) know only their vendor; these modules know our tables.
"""

from email_data_platform.lib.sources.pulls import Extraction, Window, extract_hubspot
from email_data_platform.lib.sources.pulls_events import (
    extract_consent,
    extract_esp_events,
    extract_sendgrid_events,
)
from email_data_platform.lib.sources.pulls_salesforce import extract_salesforce
from email_data_platform.lib.sources.pulls_subscriptions import (
    ensure_subscriptions_table,
    extract_hubspot_subscriptions,
)
from email_data_platform.lib.sources.source_checks import duplicate_keys, source_total_mismatches

__all__ = [
    "Extraction",
    "Window",
    "duplicate_keys",
    "extract_consent",
    "extract_esp_events",
    "extract_hubspot",
    "extract_hubspot_subscriptions",
    "extract_salesforce",
    "extract_sendgrid_events",
    "ensure_subscriptions_table",
    "source_total_mismatches",
]
