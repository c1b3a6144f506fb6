"""Tombstones: keyed hashes of an erased (or anonymised) person's identifiers, so data that
comes back from a source is recognised without the warehouse keeping who it was.

`privacy.tombstones` holds, per identifier (email key, record id, entity id, subscriber hash),
its HMAC under every key of the pseudonym keyring, with the key id. Matching hashes a candidate
under the key ids the tombstones use, so a rotation (a new active key) changes nothing: old
tombstones still match under their own key. A tombstone whose key has left the keyring cannot be
matched, and that fails closed (an error naming the key id), never silently lets people back.

`apply_tombstones` is the landing hook (erased rows are dropped, anonymised rows lose their
personal fields before they are written); `sweep` does the same to every warehouse table.
"""

import logging
from datetime import UTC, datetime

import polars as pl

from email_data_platform.lib.privacy.audit import AuditEntry, append_audit_entries
from email_data_platform.lib.privacy.keys import keyring_from_environment
from email_data_platform.lib.privacy.pseudonyms import PseudonymKeyring
from email_data_platform.lib.privacy.subjects import (
    Matcher,
    Subject,
    TableIdentifiers,
    catalogue,
    column_kind,
    is_pii_column,
    matched,
    matching_predicates,
    where_clause,
)
from email_data_platform.lib.privacy.verified import (
    CHECK,
    SWEEP,
    column_fingerprints,
    mark_verified,
    tombstones_version,
    unverified_part,
)
from email_data_platform.lib.warehouse import Warehouse

logger = logging.getLogger(__name__)

TOMBSTONES = "privacy.tombstones"
ERASED, ANONYMISED = "erased", "anonymised"
# one row per key: HMAC of a fixed text, so a different secret under a known key id is caught
KEY_CHECK = "key_check"
TOMBSTONED_KINDS = ("email_key", "record_id", "entity_id", "subscriber_hash")
TOMBSTONE_SCHEMA = {"kind": pl.Utf8, "key_id": pl.Utf8, "digest": pl.Utf8, "action": pl.Utf8,
                    "request_id": pl.Utf8, "recorded_at": pl.Datetime("us", "UTC")}


def digest(keyring: PseudonymKeyring, value: str, key_id: str) -> str:
    """The HMAC part of a pseudonym: tombstones and pseudonyms agree for one key."""
    return keyring.pseudonym(value, key_id).partition(":")[2]


def record_tombstones(wh: Warehouse, keyring: PseudonymKeyring, subject: Subject,
                      action: str, request_id: str) -> int:
    """Store the subject's identifiers as keyed hashes under every key; returns rows added."""
    now = datetime.now(UTC)
    rows = [{"kind": kind, "key_id": key_id, "digest": digest(keyring, value, key_id),
             "action": action, "request_id": request_id, "recorded_at": now}
            for kind in TOMBSTONED_KINDS for value in sorted(subject.identifiers(kind))
            for key_id in keyring.key_ids]
    rows += [{"kind": KEY_CHECK, "key_id": key_id, "digest": digest(keyring, KEY_CHECK, key_id),
              "action": KEY_CHECK, "request_id": None, "recorded_at": now}
             for key_id in keyring.key_ids]
    frame = pl.DataFrame(rows, schema=TOMBSTONE_SCHEMA)
    # keyed on the hash: recording a person twice (or both erasing and anonymising) keeps one row
    wh.upsert(TOMBSTONES, frame.unique(["kind", "key_id", "digest", "action"]),
              ["kind", "key_id", "digest", "action"])
    return frame.height


class TombstoneIndex:
    """The stored tombstones, loaded once, answering "is this identifier tombstoned?"."""

    def __init__(self, frame: pl.DataFrame, keyring: PseudonymKeyring):
        self.keyring = keyring
        self._digests: dict[tuple[str, str], dict[str, set[str]]] = {}
        for action, kind, key_id, value in frame.select(
                "action", "kind", "key_id", "digest").iter_rows():
            self._digests.setdefault((action, kind), {}).setdefault(key_id, set()).add(value)
        missing = sorted({k for by_key in self._digests.values() for k in by_key}
                         - set(keyring.key_ids))
        if missing:
            raise ValueError(
                f"tombstones were made with pseudonym key(s) {missing}, which the keyring no "
                "longer holds: erased people could not be recognised. Keep retired keys in the "
                "keyring (they stay usable for matching) instead of removing them")
        self._cache: dict[tuple[str, str], str] = {}
        checks = self._digests.pop((KEY_CHECK, KEY_CHECK), {})
        wrong = sorted(k for k, found in checks.items()
                       if digest(keyring, KEY_CHECK, k) not in found)
        if wrong:
            raise ValueError(
                f"pseudonym key(s) {wrong} are not the keys the tombstones were made with: "
                "erased people could not be recognised. Configure the original secrets")

    @classmethod
    def load(cls, wh: Warehouse, keyring: PseudonymKeyring) -> "TombstoneIndex":
        frame = (wh.read(TOMBSTONES) if wh.exists(TOMBSTONES)
                 else pl.DataFrame(schema=TOMBSTONE_SCHEMA))
        return cls(frame, keyring)

    def __bool__(self) -> bool:
        return bool(self._digests)

    def has(self, action: str) -> bool:
        return any(a == action for a, _ in self._digests)

    def _digest(self, value: str, key_id: str) -> str:
        cached = self._cache.get((key_id, value))
        if cached is None:
            cached = self._cache[(key_id, value)] = digest(self.keyring, value, key_id)
        return cached

    def matcher(self, action: str) -> Matcher:
        def matches(kind: str, values: list[str]) -> set[str]:
            if kind == "pseudonym":  # a pseudonym of an entity id is its digest with a key id
                by_key = self._digests.get((action, "entity_id"), {})
                return {v for v in values if v.partition(":")[2] in by_key.get(
                    v.partition(":")[0], ())}
            by_key = self._digests.get((action, kind), {})
            return {v for v in values for key_id, digests in by_key.items()
                    if self._digest(v, key_id) in digests}
        return matches


def apply_tombstones(wh: Warehouse, table: str, frame: pl.DataFrame,
                     keyring: PseudonymKeyring | None = None) -> pl.DataFrame:
    """The landing hook: drop rows of erased people, blank personal fields of anonymised ones.

    Costs one catalogue lookup when nothing is tombstoned. Without a keyring, the keys come
    from the environment (or the local keyfile), as `keyring_from_environment` reads them.
    Logs counts only.
    """
    if frame.height == 0 or not wh.exists(TOMBSTONES):
        return frame
    index = TombstoneIndex.load(wh, keyring or keyring_from_environment())
    if not index:
        return frame
    erased = _frame_mask(frame, index.matcher(ERASED))
    kept = frame.filter(~erased)
    if erased.any():
        logger.info("%s: dropped %d rows of erased people at landing", table, int(erased.sum()))
    if index.has(ANONYMISED):
        anonymised = _frame_mask(kept, index.matcher(ANONYMISED))
        if anonymised.any():
            pii = [c for c in kept.columns if is_pii_column(c)]
            kept = kept.with_columns(
                pl.when(anonymised).then(None).otherwise(pl.col(c)).alias(c) for c in pii)
    return kept


def _frame_mask(frame: pl.DataFrame, matcher: Matcher) -> pl.Series:
    mask = pl.Series([False] * frame.height)
    for column in frame.columns:
        kind = column_kind(column)
        if kind is None or frame.schema[column] != pl.Utf8:
            continue
        values = frame[column].drop_nulls().unique().to_list()
        hits = matched(values, kind, matcher)
        if hits:
            mask = mask | frame[column].is_in(hits).fill_null(False)
    return mask


def delete_rows(wh: Warehouse, tables: list[TableIdentifiers], matcher: Matcher
                ) -> dict[str, int]:
    """Delete every row any identifier of which the matcher recognises; rows per table."""
    counts = {}
    for entry in tables:
        predicates = matching_predicates(wh, entry, matcher)
        if predicates:
            sql, params = where_clause(predicates)
            deleted = _count(wh, entry.table, sql, params)
            wh.delete_where(entry.table, sql, params)
            if deleted:
                counts[entry.table] = deleted
    return counts


def anonymise_rows(wh: Warehouse, tables: list[TableIdentifiers], matcher: Matcher
                   ) -> dict[str, int]:
    """Null the personal columns of every recognised row (ids stay, so aggregates still join).

    Rows already blank are left alone, so a second pass counts nothing."""
    counts = {}
    for entry in tables:
        if not entry.pii:
            continue
        predicates = matching_predicates(wh, entry, matcher)
        if not predicates:
            continue
        sql, params = where_clause(predicates)
        blanks = ", ".join(f'"{c}" = null' for c in entry.pii)
        still = " or ".join(f'"{c}" is not null' for c in entry.pii)
        changed = _count(wh, entry.table, f"({sql}) and ({still})", params)
        if changed:
            wh.execute(f"update {entry.table} set {blanks} where ({sql}) and ({still})", params)
            counts[entry.table] = changed
    return counts


def _count(wh: Warehouse, table: str, condition: str, params: list) -> int:
    return int(wh.query(f"select count(*) as n from {table} where {condition}", params)["n"][0])


def sweep(wh: Warehouse, keyring: PseudonymKeyring, run_id: str = "sweep"
          ) -> dict[str, dict[str, int]]:
    """Apply every tombstone to every table: erased rows deleted, anonymised rows blanked.

    Columns unchanged since a sweep with the same tombstones are not matched again. Anything
    deleted or blanked is audited (counts per table)."""
    index = TombstoneIndex.load(wh, keyring)
    result: dict[str, dict[str, int]] = {ERASED: {}, ANONYMISED: {}, "tables_matched": {}}
    if not index:
        return result
    version = tombstones_version(wh, TOMBSTONES)
    for entry in catalogue(wh):
        part, prints = unverified_part(wh, entry, version, (SWEEP,))
        if part is None:
            continue
        result["tables_matched"][entry.table] = len(part.columns)
        if index.has(ERASED):
            result[ERASED].update(delete_rows(wh, [part], index.matcher(ERASED)))
        if index.has(ANONYMISED):
            result[ANONYMISED].update(anonymise_rows(wh, [part], index.matcher(ANONYMISED)))
        if entry.table in result[ERASED] or entry.table in result[ANONYMISED]:
            prints = column_fingerprints(wh, entry)
        mark_verified(wh, entry.table, prints, version, SWEEP)
    if result[ERASED] or result[ANONYMISED]:
        append_audit_entries(wh, [AuditEntry("tombstoned rows swept", TOMBSTONES, {
            ERASED: result[ERASED], ANONYMISED: result[ANONYMISED]})], run_id=run_id)
    return result


def remaining_rows(wh: Warehouse, keyring: PseudonymKeyring) -> dict[str, int]:
    """Rows of erased people still in any table (what the blocking check requires to be 0).

    Columns verified (by a sweep or this check) with the same content and tombstones are
    trusted; every other column is matched in full."""
    index = TombstoneIndex.load(wh, keyring)
    if not index.has(ERASED):
        return {}
    version = tombstones_version(wh, TOMBSTONES)
    found = {}
    for entry in catalogue(wh):
        part, prints = unverified_part(wh, entry, version, (SWEEP, CHECK))
        if part is None:
            continue
        predicates = matching_predicates(wh, part, index.matcher(ERASED))
        if predicates:
            sql, params = where_clause(predicates)
            found[entry.table] = _count(wh, entry.table, sql, params)
        else:
            mark_verified(wh, entry.table, prints, version, CHECK)
    return {table: n for table, n in found.items() if n}
