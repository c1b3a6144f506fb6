"""Reads an asset's recent row counts from the Dagster instance (no warehouse access needed)."""

import dagster as dg


def recent_row_counts(instance: dg.DagsterInstance, key: dg.AssetKey, limit: int) -> list[
    tuple[int, int]
]:
    """(storage id, row count) of the last `limit` materialisations, newest first."""
    records = instance.fetch_materializations(key, limit=limit).records
    counts = []
    for record in records:
        materialization = record.asset_materialization
        row_count = materialization.metadata.get("dagster/row_count") if materialization else None
        if row_count is not None:
            counts.append((record.storage_id, int(row_count.value)))
    return counts
