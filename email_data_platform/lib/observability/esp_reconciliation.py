"""The reconciliation checks the platform runs after every sync, as plain functions."""

import polars as pl

from email_data_platform.lib.observability.reconciliation import ReconciliationRow, reconcile_keys


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


def payload_vs_esp(payload: pl.DataFrame, esp_member_ids: list[str]) -> ReconciliationRow:
    """The ESP holds exactly the members we pushed (subscriber hashes)."""
    return reconcile_keys("ESP payload = ESP subscribed members", "activation",
                          payload["subscriber_hash"], "mailchimp",
                          pl.Series(esp_member_ids, dtype=pl.Utf8))
