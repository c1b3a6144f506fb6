"""The observability stage's facade: what the defs/ wiring and the CLI call.

Reconciliation (counts and checksums between source, warehouse and ESP), anomaly rules
(observability_rules.yaml), alerts with their delivery state (`observability.alerts`) and the
holds that stop every ESP sync until a person acknowledges them (`observability.holds`).
The other modules of this package are internals.
"""

from email_data_platform.lib.observability.alerts import (
    Alert,
    post_webhook,
    raise_alert,
    read_alerts,
    slack_message,
)
from email_data_platform.lib.observability.anomalies import report_anomalies
from email_data_platform.lib.observability.esp_reconciliation import (
    EspComparison,
    audience_vs_payload,
    raw_vs_clean,
    requeue_members,
    synced_state_vs_esp,
)
from email_data_platform.lib.observability.holds import (
    Hold,
    SyncHeldError,
    acknowledge_hold,
    all_holds,
    last_acknowledged_at,
    open_hold,
    open_holds,
    refuse_sync_while_held,
)
from email_data_platform.lib.observability.reconciliation import (
    ReconciliationRow,
    key_checksum,
    reconcile_counts,
    reconcile_keys,
    to_frame,
)
from email_data_platform.lib.observability.rules import (
    Anomaly,
    RulesError,
    evaluate,
    freshness_overdue,
    load_rules,
    row_count_anomaly,
)

__all__ = [
    "Alert", "Anomaly", "Hold", "ReconciliationRow", "RulesError", "SyncHeldError",
    "acknowledge_hold", "all_holds", "audience_vs_payload", "evaluate", "freshness_overdue",
    "key_checksum", "last_acknowledged_at", "load_rules", "open_hold", "open_holds",
    "EspComparison", "requeue_members", "synced_state_vs_esp", "post_webhook", "raise_alert",
    "raw_vs_clean", "read_alerts",
    "reconcile_counts", "reconcile_keys", "refuse_sync_while_held", "report_anomalies",
    "row_count_anomaly", "slack_message", "to_frame",
]
