"""The observability stage's facade: what the defs/ wiring and the CLI call.

Reconciliation (counts and checksums between source, warehouse and ESP), anomaly rules, alerts
and the holds that stop the ESP sync until a person acknowledges them. The other modules of
this package are internals.
"""

from email_data_platform.lib.observability.alerts import raise_alert, read_alerts
from email_data_platform.lib.observability.esp_reconciliation import (
    audience_vs_payload,
    payload_vs_esp,
    raw_vs_clean,
)
from email_data_platform.lib.observability.holds import (
    Hold,
    SyncHeldError,
    acknowledge_hold,
    all_holds,
    open_hold,
    open_holds,
    refuse_sync_while_held,
)
from email_data_platform.lib.observability.reconciliation import (
    ReconciliationRow,
    key_checksum,
    reconcile_counts,
    reconcile_keys,
    row_count_anomaly,
    to_frame,
)

__all__ = [
    "Hold",
    "SyncHeldError",
    "acknowledge_hold",
    "all_holds",
    "open_hold",
    "open_holds",
    "refuse_sync_while_held",
    "ReconciliationRow",
    "audience_vs_payload",
    "key_checksum",
    "payload_vs_esp",
    "raise_alert",
    "raw_vs_clean",
    "read_alerts",
    "reconcile_counts",
    "reconcile_keys",
    "row_count_anomaly",
    "to_frame",
]
