"""The tamper-evident audit log: append-only and hash-chained.

Each entry's `hash` is sha256(prev_hash + canonical JSON of the entry), where the entry is
{seq, logged_at, run_id, actor, action, subject, details} and canonical JSON means sorted keys, no
whitespace, UTF-8, timestamps as ISO 8601 UTC. The first entry's prev_hash is 64 zeros. Editing,
deleting or reordering any entry breaks every hash after it, which `verify_chain` reports.

Entries describe actions and counts ("audience built", "esp sync"), never raw personal data:
`append_audit_entries` refuses details that contain an email address.
"""

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from email_data_platform.lib.warehouse import DuckDBWarehouse

logger = logging.getLogger(__name__)

AUDIT_TABLE = "privacy.audit_log"
GENESIS_HASH = "0" * 64
AUDIT_SCHEMA = {
    "seq": pl.Int64,
    "logged_at": pl.Datetime("us", "UTC"),
    "run_id": pl.Utf8,
    "actor": pl.Utf8,
    "action": pl.Utf8,
    "subject": pl.Utf8,
    "details": pl.Utf8,
    "prev_hash": pl.Utf8,
    "hash": pl.Utf8,
}
_EMAIL_LIKE = re.compile(r"[^@\s\"']+@[^@\s\"']+\.[A-Za-z]{2,}")


@dataclass(frozen=True)
class AuditEntry:
    """One action to record. `subject` names a table, segment or pseudonym, never a person."""

    action: str
    subject: str
    details: dict[str, Any] = field(default_factory=dict)
    actor: str = "email_data_platform"


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, compact separators, timestamps as ISO 8601 UTC."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_json_default)


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return _iso_utc(value)
    raise TypeError(f"audit details: {type(value).__name__} is not JSON-serialisable")


def _iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """sha256(prev_hash + canonical JSON of the row's content columns)."""
    content = {
        "seq": int(row["seq"]),
        "logged_at": _iso_utc(row["logged_at"]),
        "run_id": row["run_id"],
        "actor": row["actor"],
        "action": row["action"],
        "subject": row["subject"],
        "details": row["details"],
    }
    return hashlib.sha256((prev_hash + canonical_json(content)).encode("utf-8")).hexdigest()


def chain_entries(
    entries: list[AuditEntry],
    run_id: str,
    last_seq: int = 0,
    last_hash: str = GENESIS_HASH,
    logged_at: datetime | None = None,
) -> pl.DataFrame:
    """Build the rows that continue a chain ending at (last_seq, last_hash)."""
    moment = (logged_at or datetime.now(UTC)).astimezone(UTC)
    rows, prev_hash = [], last_hash
    for offset, entry in enumerate(entries, start=1):
        details = canonical_json(entry.details)
        if _EMAIL_LIKE.search(details) or _EMAIL_LIKE.search(entry.subject):
            raise ValueError(
                f"audit entry {entry.action!r}: subject/details contain an email address; "
                "the audit log must never hold raw personal data"
            )
        row = {"seq": last_seq + offset, "logged_at": moment, "run_id": run_id,
               "actor": entry.actor, "action": entry.action, "subject": entry.subject,
               "details": details}
        row["prev_hash"] = prev_hash
        row["hash"] = prev_hash = entry_hash(prev_hash, row)
        rows.append(row)
    return pl.DataFrame(rows, schema=AUDIT_SCHEMA)


def verify_chain(frame: pl.DataFrame) -> int | None:
    """Return the seq of the first entry that breaks the chain, or None if it is intact.

    An entry breaks the chain when its seq is not the previous seq + 1 (a deletion or insertion),
    its prev_hash is not the previous entry's hash, or its hash does not match its content.
    """
    prev_hash, expected_seq = GENESIS_HASH, 1
    for row in frame.sort("seq").iter_rows(named=True):
        if row["seq"] != expected_seq or row["prev_hash"] != prev_hash:
            return row["seq"]
        if entry_hash(prev_hash, row) != row["hash"]:
            return row["seq"]
        prev_hash, expected_seq = row["hash"], expected_seq + 1
    return None


def anchor_present(frame: pl.DataFrame, seq: int, expected_hash: str) -> bool:
    """True when the log still holds entry `seq` with `expected_hash`.

    A hash chain alone cannot reveal entries cut from its end: the shorter chain is still
    valid. Anchors (seq, hash) recorded outside the warehouse close that gap.
    """
    entry = frame.filter(pl.col("seq") == seq)
    return entry.height == 1 and entry["hash"].item() == expected_hash


def append_audit_entries(
    warehouse: DuckDBWarehouse, entries: list[AuditEntry], run_id: str
) -> pl.DataFrame:
    """Append entries to `privacy.audit_log` atomically, continuing the stored chain.

    The tail is read and the new rows inserted inside one transaction on the warehouse's single
    connection, so two appends in one process can never fork the chain.
    """
    if not entries:
        return pl.DataFrame(schema=AUDIT_SCHEMA)
    with warehouse.transaction(["privacy"]) as con:
        con.execute(_CREATE_AUDIT_TABLE)
        tail = con.execute(
            f"select seq, hash from {AUDIT_TABLE} order by seq desc limit 1"
        ).fetchone()
        last_seq, last_hash = tail if tail else (0, GENESIS_HASH)
        rows = chain_entries(entries, run_id, last_seq, last_hash)
        con.register("__audit_rows", rows.to_arrow())
        try:
            con.execute(f"insert into {AUDIT_TABLE} by name select * from __audit_rows")
        finally:
            con.unregister("__audit_rows")
    logger.info("audit log: appended %d entries after seq %d", rows.height, last_seq)
    return rows


def ensure_audit_table(warehouse: DuckDBWarehouse) -> None:
    """Create the empty audit table if it does not exist (never truncates it)."""
    warehouse.execute("create schema if not exists privacy")
    warehouse.execute(_CREATE_AUDIT_TABLE)


def read_audit_log(warehouse: DuckDBWarehouse) -> pl.DataFrame:
    ensure_audit_table(warehouse)
    return warehouse.query(f"select * from {AUDIT_TABLE} order by seq")


_CREATE_AUDIT_TABLE = f"""
create table if not exists {AUDIT_TABLE} (
    seq bigint primary key, logged_at timestamptz, run_id varchar, actor varchar,
    action varchar, subject varchar, details varchar, prev_hash varchar, hash varchar
)
"""


def explain_activation(warehouse: DuckDBWarehouse, entity_id: str) -> dict[str, Any]:
    """Answer "why was this person emailed (or not)?" from the warehouse, for an auditor.

    Returns the consent decisions with the record, channel and policy behind each, the events
    those decisions rest on, suppression, audience and segment membership, and every ESP receipt
    for the person's subscriber hash. Personal fields are limited to what identifies the rows.
    """
    def read(table: str, where: str, params: list) -> list[dict]:
        if not warehouse.exists(table):
            return []
        return warehouse.query(f"select * from {table} where {where}", params).to_dicts()

    records = [r["record_id"] for r in read("identity.entities", "entity_id = ?", [entity_id])]
    profile = read("identity.golden_profiles", "entity_id = ?", [entity_id])
    email = (profile[0].get("email") or "") if profile else ""
    member_hash = hashlib.md5(email.strip().lower().encode()).hexdigest() if email else None
    features = read("audiences.customer_features", "entity_id = ?", [entity_id])
    return {
        "entity_id": entity_id,
        "records": records,
        "consent": read("privacy.consent_ledger", "entity_id = ? order by purpose", [entity_id]),
        "consent_events": read(
            "profiles.clean_consent_events",
            "list_contains(?, contact_record_id) order by occurred_at", [records]),
        "suppressed": bool(features and features[0]["suppressed"]),
        "suppression_reason": features[0]["suppression_reason"] if features else None,
        "in_marketable_audience": bool(
            read("audiences.marketable_audience", "entity_id = ?", [entity_id])),
        "segments": [r["segment"] for r in read("audiences.segments", "entity_id = ?",
                                                 [entity_id])],
        "subscriber_hash": member_hash,
        "esp_receipts": read("activation.sync_receipts", "subscriber_hash = ? order by synced_at",
                             [member_hash]) if member_hash else [],
    }
