"""The reconciliation checks the platform runs after every sync, as plain functions."""

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from email_data_platform.lib.activation.stage import WarehouseSyncStore
from email_data_platform.lib.activation.sync import RECEIPT_SCHEMA
from email_data_platform.lib.observability.reconciliation import (
    ReconciliationRow,
    reconcile_counts,
    reconcile_keys,
)


def raw_vs_clean(
    raw: pl.DataFrame, clean: pl.DataFrame, quarantine: pl.DataFrame, table_name: str,
    raw_key: str = "record_id", clean_key: str = "record_id",
) -> ReconciliationRow:
    """Every raw row is either clean or quarantined: compare the key sets."""
    quarantined = quarantine.filter(pl.col("table_name") == table_name)["record_key"]
    accounted = pl.concat([clean[clean_key].cast(pl.Utf8), quarantined.cast(pl.Utf8)])
    return reconcile_keys(f"{table_name}: raw = clean + quarantined", "sources",
                          raw[raw_key].cast(pl.Utf8), "profiles", accounted)


def audience_vs_payload(audience: pl.DataFrame, payload: pl.DataFrame) -> ReconciliationRow:
    """Every marketable person (by email) has exactly one ESP payload row."""
    audience_emails = audience["email"].str.to_lowercase()
    return reconcile_keys("marketable audience = ESP payload", "audiences", audience_emails,
                          "activation", payload["email"].str.to_lowercase())


@dataclass
class EspComparison:
    """Our synced state against the ESP: the row to record and the members to re-push."""

    row: ReconciliationRow
    missing_at_esp: list[str]  # synced as active, absent from the ESP in every status
    listed: bool  # whether the ESP's members were listed (else counts alone matched)


def synced_state_vs_esp(
    synced: pl.DataFrame, esp_subscribed_count: int,
    list_esp_members: Callable[[], list[dict]], always_list: bool = False,
) -> EspComparison:
    """Compare the members our sync state holds as active with the ESP's audience.

    Fast path: the ESP reports its subscribed count in one request; when it equals our active
    count nothing is listed. Otherwise (or with `always_list`) every member is listed once
    (id and status) and the key sets are compared. Members missing at the ESP in every status
    are re-pushed; unsubscribed or cleaned ones are left alone (the ESP's events record why).
    """
    active = synced.filter(pl.col("status") == "active")["subscriber_hash"]
    check = "ESP members = synced state"
    if not always_list and esp_subscribed_count == active.len():
        row = reconcile_counts(check, "activation", active.len(), "mailchimp",
                               esp_subscribed_count)
        row.detail = "counts match (members not listed)"
        return EspComparison(row, [], listed=False)
    members = list_esp_members()
    subscribed = pl.Series([m["id"] for m in members if m.get("status") == "subscribed"],
                           dtype=pl.Utf8)
    row = reconcile_keys(check, "activation", active, "mailchimp", subscribed)
    present = {m["id"] for m in members}
    missing = sorted(set(active.to_list()) - present)
    left = len(set(active.to_list()) & (present - set(subscribed.to_list())))
    if not row.ok:
        row.detail += f"; {len(missing)} re-pushed, {left} unsubscribed or cleaned at the ESP"
    return EspComparison(row, missing, listed=True)


def requeue_members(warehouse, list_id: str, subscriber_hashes: list[str]) -> int:
    """Targeted repair: mark these members' sync state `pending`, so the next sync re-sends
    exactly them (the sync treats a pending member as changed)."""
    if not subscriber_hashes:
        return 0
    store = WarehouseSyncStore(warehouse, list_id)
    state = store.load_state().filter(pl.col("subscriber_hash").is_in(subscriber_hashes))
    store.commit_batch(pl.DataFrame(schema=RECEIPT_SCHEMA),
                       state.with_columns(status=pl.lit("pending")))
    return state.height
