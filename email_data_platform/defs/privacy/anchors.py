"""Audit anchors kept in Dagster's event log, one series per warehouse.

Each audit_log materialisation records the warehouse it anchors (`warehouse_id`, named by the
chain's first entry) with the head (seq, hash). Looking anchors up per warehouse lets one
Dagster home serve several warehouses without mistaking a switch for tampering.
"""

import dagster as dg

AUDIT_LOG = dg.AssetKey(["privacy", "audit_log"])
SCAN_LIMIT = 1000  # recent materialisations searched for this warehouse's anchor


def latest_anchor_metadata(instance: dg.DagsterInstance, warehouse_id: str | None) -> dict | None:
    """Metadata values of the newest audit_log materialisation for `warehouse_id`."""
    if warehouse_id is None:
        return None
    records = instance.fetch_materializations(AUDIT_LOG, limit=SCAN_LIMIT).records
    for record in records:
        materialization = record.asset_materialization
        if materialization is None:
            continue
        metadata = {k: v.value for k, v in materialization.metadata.items()}
        if metadata.get("warehouse_id") == warehouse_id and metadata.get("last_seq"):
            return metadata
    return None


def find_anchor(instance: dg.DagsterInstance, warehouse_id: str | None) -> tuple[int, str] | None:
    """(seq, hash) last anchored for this warehouse, or None."""
    metadata = latest_anchor_metadata(instance, warehouse_id)
    return (int(metadata["last_seq"]), str(metadata["head_hash"])) if metadata else None
