"""The activation stage's facade: what the activation assets and checks call.

Internals: `payload` (what each destination receives), `sync` (plan and push, batch by batch),
`sync_store` (state and receipts in the warehouse). Callers outside `lib/activation/` import
from here only.
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from email_data_platform.lib.activation.payload import (
    EspPayloadModel,
    allow_list_violations,
    build_esp_payload,
)
from email_data_platform.lib.activation.sync import (
    MAILCHIMP_MAX_BATCH,
    MassArchiveError,
    SyncPlan,
    SyncSettings,
    execute_sync,
    forget_members_missing_at_esp,
    plan_sync,
)
from email_data_platform.lib.activation.sync_store import WarehouseSyncStore, append_rows
from email_data_platform.lib.privacy.stage import AuditEntry, append_audit_entries

logger = logging.getLogger(__name__)

PAYLOAD = "activation.esp_payload"
SYNC_RUNS = "activation.esp_sync"
RECEIPTS = "activation.sync_receipts"

__all__ = [
    "MAILCHIMP_MAX_BATCH", "EspPayloadModel", "SyncOutcome", "SyncSettings",
    "allow_list_violations", "build_payload", "receipts_this_run", "sync_destination",
]


@dataclass
class SyncOutcome:
    """What one sync did (or, in a dry run, would do): counts for metadata and a summary row."""

    counts: dict
    dry_run: bool
    refused: str | None = None  # the archive guard's reason when the sync was refused
    summary: pl.DataFrame = field(default_factory=pl.DataFrame)


def build_payload(warehouse, destination: str = "mailchimp") -> pl.DataFrame:
    """Build and write activation.esp_payload from the audience tables; returns it."""
    payload = build_esp_payload(
        warehouse.read("audiences.marketable_audience"),
        warehouse.read("audiences.customer_features"), warehouse.read("audiences.segments"),
        destination=destination,
    )
    warehouse.write(PAYLOAD, payload)
    return payload


def sync_destination(warehouse, client, list_id: str, run_id: str, settings: SyncSettings,
                     dry_run: bool = False, reconcile_with_esp: bool = True) -> SyncOutcome:
    """Plan the diff between the payload and the sync state, then push it (unless dry run).

    With `reconcile_with_esp`, members the ESP no longer holds are forgotten first so they are
    sent again. A plan that would archive an implausible share of the list is refused (audited).
    """
    store = WarehouseSyncStore(warehouse, list_id)
    state, forgotten = store.load_state(), 0
    if reconcile_with_esp:
        esp_ids = [m["id"] for m in client.iter_members(list_id)]
        state, forgotten = forget_members_missing_at_esp(state, esp_ids)
    plan = plan_sync(warehouse.read(PAYLOAD), state)
    counts = {**plan.counts(), "missing_at_esp_resent": forgotten}
    logger.info("esp sync plan: %s (dry run: %s)", counts, dry_run)
    refused = _archive_guard_error(plan, settings)
    if dry_run:
        return SyncOutcome(counts, dry_run=True, refused=refused)
    if refused:
        append_audit_entries(warehouse, [AuditEntry("esp sync refused", SYNC_RUNS, counts)],
                             run_id=run_id)
        return SyncOutcome(counts, dry_run=False, refused=refused)
    summary = _push(warehouse, client, list_id, plan, store, settings, counts, run_id)
    return SyncOutcome(counts, dry_run=False, summary=summary)


def receipts_this_run(warehouse, run_id: str) -> pl.DataFrame:
    """Receipt counts per action and status for one run (empty before the first sync)."""
    if not warehouse.exists(RECEIPTS):
        return pl.DataFrame(schema={"action": pl.Utf8, "status": pl.Utf8, "rows": pl.Int64})
    return warehouse.query(f"select action, status, count(*) as rows from {RECEIPTS}"
                           " where run_id = ? group by all order by all", [run_id])


def _push(warehouse, client, list_id: str, plan: SyncPlan, store: WarehouseSyncStore,
          settings: SyncSettings, counts: dict, run_id: str) -> pl.DataFrame:
    """Execute the plan, then record the run's summary row and an audit entry."""
    started_at = datetime.now(UTC)
    summary = execute_sync(client, list_id, plan, store.commit_batch, run_id, settings)
    row = pl.DataFrame([{"run_id": run_id, "list_id": list_id, "started_at": started_at,
                         "finished_at": datetime.now(UTC), **counts, **summary.as_dict()}])
    append_rows(warehouse, SYNC_RUNS, row)
    append_audit_entries(warehouse, [AuditEntry("esp sync", SYNC_RUNS,
                                                {"destination": "mailchimp",
                                                 **summary.as_dict()})], run_id=run_id)
    return row


def _archive_guard_error(plan: SyncPlan, settings: SyncSettings) -> str | None:
    try:
        plan.check_archive_guard(settings)
    except MassArchiveError as error:
        return str(error)
    return None
