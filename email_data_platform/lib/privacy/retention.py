"""Retention: people with no valid consent and no recent activity are anonymised.

Eligible: an entity with no `granted` decision for any purpose in `privacy.consent_ledger`, whose
latest activity is older than the configured number of days (or who has none). Activity is a
record update (`profiles.clean_profiles.updated_at`), an order (its order date: a later status
change is the shop's doing) and an ESP event other than a send (a send is ours, not theirs),
joined to the entity through its records and their address keys. People anonymised before are
not counted again.

Anonymising nulls the personal columns (addresses and their keys, names, phone, birth date,
address, company, raw JSON) of every row of the person in every table; ids stay, so orders and
aggregates still add up. Anonymised tombstones make landing and each run's sweep blank the same
fields again, so re-ingesting the source does not bring the PII back; ESP members are archived.
An address shared with someone who is not eligible is left alone.
"""

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import polars as pl

from email_data_platform.lib import clock
from email_data_platform.lib.privacy.audit import AuditEntry, append_audit_entries
from email_data_platform.lib.privacy.esp_members import EspMembers, apply_at_esps
from email_data_platform.lib.privacy.pseudonyms import PseudonymKeyring, pseudonyms_of
from email_data_platform.lib.privacy.subjects import Subject, catalogue
from email_data_platform.lib.privacy.tombstones import (
    ANONYMISED,
    TombstoneIndex,
    anonymise_rows,
    record_tombstones,
)
from email_data_platform.lib.warehouse import Warehouse

logger = logging.getLogger(__name__)

RETENTION_LOG = "privacy.retention_log"
LOG_SCHEMA = {"entity_pseudonym": pl.Utf8, "last_activity_at": pl.Datetime("us", "UTC"),
              "inactive_days": pl.Int64, "run_id": pl.Utf8,
              "anonymised_at": pl.Datetime("us", "UTC")}
AUDITED_PSEUDONYMS = 1000
BATCH_PEOPLE = 2_000  # people per anonymisation batch (keeps SQL IN lists short)
ENTITIES, LEDGER = "identity.entities", "privacy.consent_ledger"
PROFILES, ORDERS, EVENTS = ("profiles.clean_profiles", "profiles.clean_orders",
                            "profiles.clean_esp_events")


def _activity_sql(wh: Warehouse) -> str:
    """(record_id, at) for every activity the warehouse holds, from the tables present."""
    parts = []
    if wh.exists(PROFILES):
        parts.append(f"select record_id, updated_at::timestamptz as at from {PROFILES}")
    if wh.exists(ORDERS):
        parts.append(f"select contact_record_id, order_date::timestamptz from {ORDERS}")
    if wh.exists(EVENTS) and wh.exists(PROFILES):
        parts.append(f"select p.record_id, e.occurred_at::timestamptz from {EVENTS} e join"
                     f" {PROFILES} p on p.email_key = e.email_key where e.event_type <> 'sent'")
    return " union all ".join(parts) or "select null::varchar, null::timestamptz"


def eligible_entities(wh: Warehouse, inactive_days: int, as_of: datetime | None = None
                      ) -> pl.DataFrame:
    """entity_id, last_activity_at of everyone retention would anonymise now."""
    if inactive_days < 1:
        raise ValueError(f"retention: inactive_days must be at least 1, got {inactive_days}")
    if not wh.exists(ENTITIES):
        return pl.DataFrame(schema={"entity_id": pl.Utf8,
                                    "last_activity_at": pl.Datetime("us", "UTC")})
    cutoff = (as_of or clock.as_of()) - timedelta(days=inactive_days)
    granted = (f"select entity_id from {LEDGER} where status = 'granted'"
               if wh.exists(LEDGER) else "select null::varchar as entity_id where false")
    return wh.query(
        f"with activity as ({_activity_sql(wh)}),"
        f" last as (select e.entity_id, max(a.at) as last_activity_at from {ENTITIES} e"
        "  left join activity a on a.record_id = e.record_id group by e.entity_id)"
        f" select entity_id, last_activity_at from last where entity_id not in ({granted})"
        " and (last_activity_at is null or last_activity_at < ?) order by entity_id", [cutoff])


def retention_subjects(wh: Warehouse, entity_ids: list[str], batch_size: int
                       ) -> Iterator[tuple[list[str], Subject]]:
    """(batch of entity ids, their records, addresses and ids), read once for all batches.

    An address someone not eligible also uses is left out: it is theirs too."""
    records = wh.query(f"select record_id, entity_id from {ENTITIES}")
    keyed = (wh.query(f"select record_id, email, email_key from {PROFILES} where email_key is"
                      " not null").join(records, on="record_id", how="left")
             if wh.exists(PROFILES) else None)
    if keyed is not None:
        others = ~pl.col("entity_id").is_in(entity_ids) | pl.col("entity_id").is_null()
        keyed = keyed.filter(~pl.col("email_key").is_in(
            keyed.filter(others)["email_key"].implode()))
    for start in range(0, len(entity_ids), batch_size):
        batch = entity_ids[start:start + batch_size]
        subject = Subject(entity_ids=set(batch), record_ids=set(
            records.filter(pl.col("entity_id").is_in(batch))["record_id"].to_list()))
        if keyed is not None:
            ours = keyed.filter(pl.col("entity_id").is_in(batch))
            subject.email_keys.update(ours["email_key"].to_list())
            subject.emails.update(ours["email"].drop_nulls().to_list())
        yield batch, subject


def anonymise_inactive(wh: Warehouse, keyring: PseudonymKeyring, esps: list[EspMembers],
                       inactive_days: int, run_id: str, as_of: datetime | None = None) -> dict:
    """Anonymise every eligible person not anonymised before; returns counts for the audit.

    People are taken in batches, so the SQL lists of their identifiers stay short."""
    candidates = eligible_entities(wh, inactive_days, as_of)
    done_before = TombstoneIndex.load(wh, keyring).matcher(ANONYMISED)(
        "entity_id", candidates["entity_id"].to_list())
    eligible = candidates.filter(~pl.col("entity_id").is_in(list(done_before)))
    ids = eligible["entity_id"].to_list()
    if not ids:
        return {"people": 0, "rows_per_table": {}, "esp": {}, "pseudonyms": []}
    tables, rows, esp = catalogue(wh), {}, {}
    for batch, subject in retention_subjects(wh, ids, BATCH_PEOPLE):
        batch_rows, batch_esp = _anonymise_batch(wh, keyring, esps, tables, batch, subject,
                                                 run_id)
        _add_counts(rows, batch_rows)
        for name, result in batch_esp.items():
            _add_counts(esp.setdefault(name, {"ok": True}), result)
    now = datetime.now(UTC)
    pseudonyms = [keyring.pseudonym(e) for e in ids]
    wh.write(RETENTION_LOG, pl.DataFrame({
        "entity_pseudonym": pseudonyms,
        "last_activity_at": eligible["last_activity_at"].cast(pl.Datetime("us", "UTC")),
        "inactive_days": [inactive_days] * len(ids), "run_id": [run_id] * len(ids),
        "anonymised_at": [now] * len(ids)}, schema=LOG_SCHEMA), mode="append")
    append_audit_entries(wh, [AuditEntry("inactive people anonymised", RETENTION_LOG, {
        "people": len(ids), "inactive_days": inactive_days, "rows_per_table": rows,
        "esp": {name: {k: v for k, v in r.items() if k != "error"} for name, r in esp.items()},
        # the full list is in privacy.retention_log under this run id
        "pseudonyms": pseudonyms[:AUDITED_PSEUDONYMS]})], run_id=run_id)
    logger.info("retention: anonymised %d people in %d tables", len(ids), len(rows))
    return {"people": len(ids), "rows_per_table": rows, "esp": esp, "pseudonyms": pseudonyms}


def _anonymise_batch(wh: Warehouse, keyring: PseudonymKeyring, esps: list[EspMembers],
                     tables: list, ids: list[str], subject: Subject, run_id: str
                     ) -> tuple[dict, dict]:
    subject.pseudonyms.update(pseudonyms_of(keyring, subject.email_keys, ids))
    # tombstones first: from here on landing blanks these people, even if a later step fails
    record_tombstones(wh, keyring, subject, ANONYMISED, f"retention:{run_id}")
    rows = anonymise_rows(wh, tables, subject)
    esp = apply_at_esps(esps, subject.emails | subject.email_keys, "archive") if esps else {}
    return rows, esp


def _add_counts(total: dict, part: dict) -> None:
    """Sum counts into `total`; `ok` stays true only if every part was ok."""
    for key, value in part.items():
        if key == "ok":
            total["ok"] = total.get("ok", True) and value
        elif isinstance(value, int):
            total[key] = total.get(key, 0) + value
        else:
            total[key] = value
