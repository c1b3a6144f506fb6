"""The tamper-evident audit log: append-only, keyed and hash-chained, failing closed.

Entry format (pinned by a test against a known value): `hash` is the hex HMAC-SHA256, under the
secret audit key named by `key_id`, of `prev_hash` followed by the canonical JSON of
{seq, logged_at, run_id, actor, action, subject, details, key_id}: sorted keys, no whitespace,
UTF-8, timestamps as ISO 8601 UTC with microseconds. The first entry's prev_hash is 64 zeros.
Editing, deleting, inserting or reordering any entry breaks its own or the next link; without
the key nobody can recompute the chain after a rewrite.

The first entry ("audit chain started") names the warehouse the chain describes (a random
`warehouse_id`), so anchors kept outside the warehouse (Dagster's event log) are looked up per
warehouse: switching warehouses is never mistaken for tampering. A chain that says it was
anchored ("audit chain anchored" entries) but whose anchor cannot be found fails: losing the
anchor is itself an alert. Entries hold counts and pseudonyms, never raw personal data.
"""

import hmac
import json
import logging
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from email_data_platform.lib.privacy.keys import audit_keyring
from email_data_platform.lib.privacy.pseudonyms import PseudonymKeyring

logger = logging.getLogger(__name__)

AUDIT_TABLE = "privacy.audit_log"
GENESIS_HASH = "0" * 64
STARTED, ANCHORED = "audit chain started", "audit chain anchored"
AUDIT_SCHEMA = {
    "seq": pl.Int64, "logged_at": pl.Datetime("us", "UTC"), "run_id": pl.Utf8,
    "actor": pl.Utf8, "action": pl.Utf8, "subject": pl.Utf8, "details": pl.Utf8,
    "key_id": pl.Utf8, "prev_hash": pl.Utf8, "hash": pl.Utf8,
}
_APPEND_LOCK = threading.Lock()  # appends through the interface, within one process
_EMAIL_LIKE = re.compile(r"[^@\s\"']+@[^@\s\"']+\.[A-Za-z]{2,}")


@dataclass(frozen=True)
class AuditEntry:
    """One action to record. `subject` names a table, segment or pseudonym, never a person."""

    action: str
    subject: str
    details: dict[str, Any] = field(default_factory=dict)
    actor: str = "email_data_platform"


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


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


def entry_hash(prev_hash: str, row: dict[str, Any], keyring: PseudonymKeyring) -> str:
    """HMAC of prev_hash + canonical JSON of the row's content columns, under row's key_id."""
    content = {k: row[k] for k in ("run_id", "actor", "action", "subject", "details", "key_id")}
    content |= {"seq": int(row["seq"]), "logged_at": _iso_utc(row["logged_at"])}
    return keyring.digest(prev_hash + canonical_json(content), row["key_id"])


def chain_entries(entries: list[AuditEntry], run_id: str, keyring: PseudonymKeyring,
                  last_seq: int = 0, last_hash: str = GENESIS_HASH,
                  logged_at: datetime | None = None) -> pl.DataFrame:
    """Build the rows that continue a chain ending at (last_seq, last_hash)."""
    moment = (logged_at or datetime.now(UTC)).astimezone(UTC)
    rows, prev_hash = [], last_hash
    for offset, entry in enumerate(entries, start=1):
        details = canonical_json(entry.details)
        if _EMAIL_LIKE.search(details) or _EMAIL_LIKE.search(entry.subject):
            raise ValueError(
                f"audit entry {entry.action!r}: subject/details contain an email address; "
                "the audit log must never hold raw personal data")
        row = {"seq": last_seq + offset, "logged_at": moment, "run_id": run_id,
               "actor": entry.actor, "action": entry.action, "subject": entry.subject,
               "details": details, "key_id": keyring.active_key_id, "prev_hash": prev_hash}
        row["hash"] = prev_hash = entry_hash(prev_hash, row, keyring)
        rows.append(row)
    return pl.DataFrame(rows, schema=AUDIT_SCHEMA)


def first_break(frame: pl.DataFrame, keyring: PseudonymKeyring | None = None) -> ChainBreak | None:
    """The first entry that breaks the chain, with why; None when the chain is intact."""
    keyring = keyring or audit_keyring()
    prev_hash, expected_seq = GENESIS_HASH, 1
    for row in frame.sort("seq").iter_rows(named=True):
        if row["seq"] != expected_seq:
            return ChainBreak(row["seq"], f"expected seq {expected_seq}: entries were removed, "
                              "inserted or reordered")
        if row["prev_hash"] != prev_hash:
            return ChainBreak(row["seq"], "prev_hash is not the previous entry's hash")
        if row["key_id"] not in keyring.key_ids:
            return ChainBreak(row["seq"], f"signed with key {row['key_id']!r}, not in the keyring")
        if not hmac.compare_digest(entry_hash(prev_hash, row, keyring), row["hash"] or ""):
            return ChainBreak(row["seq"], "content does not match its keyed hash (edited)")
        prev_hash, expected_seq = row["hash"], expected_seq + 1
    return None


def verify_chain(frame: pl.DataFrame, keyring: PseudonymKeyring | None = None) -> int | None:
    """The seq of the first entry that breaks the chain, or None if it is intact."""
    broken = first_break(frame, keyring)
    return broken.seq if broken else None


def warehouse_id(frame: pl.DataFrame) -> str | None:
    """The id the chain's first entry gave this warehouse (None for an empty chain)."""
    first = frame.filter((pl.col("seq") == 1) & (pl.col("action") == STARTED))
    return json.loads(first["details"].item())["warehouse_id"] if first.height else None


def was_anchored(frame: pl.DataFrame) -> bool:
    return frame.filter(pl.col("action") == ANCHORED).height > 0


def anchor_present(frame: pl.DataFrame, seq: int, expected_hash: str) -> bool:
    """True when the log still holds entry `seq` with `expected_hash`.

    A hash chain alone cannot reveal entries cut from its end: the shorter chain is still
    valid. Anchors (seq, hash) recorded outside the warehouse close that gap.
    """
    entry = frame.filter(pl.col("seq") == seq)
    return entry.height == 1 and entry["hash"].item() == expected_hash


def append_audit_entries(warehouse, entries: list[AuditEntry], run_id: str) -> pl.DataFrame:
    """Append entries to `privacy.audit_log` atomically, continuing the stored chain.

    On DuckDB the tail is read and the new rows inserted inside one transaction on the
    warehouse's single connection, so two appends in one process can never fork the chain.
    On Snowflake and BigQuery appends in this process take a lock, and the rows go in by one
    insert-if-absent on `seq`: a concurrent writer that took a sequence number first makes
    this append fail rather than fork the chain. An empty log starts with the "audit chain
    started" entry that names this warehouse.
    """
    if not entries:
        return pl.DataFrame(schema=AUDIT_SCHEMA)
    keyring = audit_keyring()
    if not hasattr(warehouse, "transaction"):
        with _APPEND_LOCK:
            return _append_through_interface(warehouse, entries, run_id, keyring)
    with warehouse.transaction(["privacy"]) as con:
        legacy = _retire_unkeyed_log(con)
        con.execute(_CREATE_AUDIT_TABLE)
        tail = con.execute(
            f"select seq, hash from {AUDIT_TABLE} order by seq desc limit 1").fetchone()
        last_seq, last_hash = tail if tail else (0, GENESIS_HASH)
        if tail is None:
            entries = [AuditEntry(STARTED, AUDIT_TABLE, {"warehouse_id": uuid.uuid4().hex,
                                                         "retired_unkeyed_log": legacy}),
                       *entries]
        rows = chain_entries(entries, run_id, keyring, last_seq, last_hash)
        con.register("__audit_rows", rows.to_arrow())
        try:
            con.execute(f"insert into {AUDIT_TABLE} by name select * from __audit_rows")
        finally:
            con.unregister("__audit_rows")
    logger.info("audit log: appended %d entries after seq %d", rows.height, last_seq)
    return rows


def _append_through_interface(warehouse, entries: list[AuditEntry], run_id: str,
                              keyring: PseudonymKeyring) -> pl.DataFrame:
    """The same append on a warehouse reached through the interface only (Snowflake,
    BigQuery): logs there were always keyed, so there is no unkeyed log to retire."""
    tail = None
    if warehouse.exists(AUDIT_TABLE):
        found = warehouse.query(f"select seq, hash from {AUDIT_TABLE} order by seq desc limit 1")
        tail = found.row(0) if found.height else None
    last_seq, last_hash = tail if tail else (0, GENESIS_HASH)
    if tail is None:
        entries = [AuditEntry(STARTED, AUDIT_TABLE, {"warehouse_id": uuid.uuid4().hex,
                                                     "retired_unkeyed_log": None}), *entries]
    rows = chain_entries(entries, run_id, keyring, last_seq, last_hash)
    landed = warehouse.insert_missing(AUDIT_TABLE, rows, ["seq"])
    if landed != rows.height:
        raise RuntimeError(f"audit log: another writer appended after seq {last_seq} while this "
                           f"append ran ({landed} of {rows.height} entries landed); verify the "
                           "chain (`edp audit verify`) before retrying")
    logger.info("audit log: appended %d entries after seq %d", rows.height, last_seq)
    return rows


def _retire_unkeyed_log(con) -> str | None:
    """A log from before entries were keyed is renamed aside (kept, never edited) and named in
    the new chain's first entry; returns its new name."""
    columns = [r[0] for r in con.execute(
        "select column_name from information_schema.columns"
        " where table_schema = 'privacy' and table_name = 'audit_log'").fetchall()]
    if not columns or "key_id" in columns:
        return None
    retired = f"audit_log_unkeyed_{datetime.now(UTC):%Y%m%d%H%M%S}"
    con.execute(f"alter table {AUDIT_TABLE} rename to {retired}")
    return f"privacy.{retired}"


def read_audit_log(warehouse) -> pl.DataFrame:
    """The whole log in seq order (empty, with its columns, before the first entry)."""
    if not warehouse.exists(AUDIT_TABLE):
        return pl.DataFrame(schema=AUDIT_SCHEMA)
    log = warehouse.query(f"select * from {AUDIT_TABLE} order by seq")
    if "key_id" not in log.columns:  # an unkeyed log, retired at the next append
        return log.with_columns(key_id=pl.lit(None, pl.Utf8))
    return log


_CREATE_AUDIT_TABLE = f"""
create table if not exists {AUDIT_TABLE} (
    seq bigint primary key, logged_at timestamptz, run_id varchar, actor varchar,
    action varchar, subject varchar, details varchar, key_id varchar, prev_hash varchar,
    hash varchar
)
"""
