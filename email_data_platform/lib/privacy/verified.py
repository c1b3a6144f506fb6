"""Which identifying columns were already found free of tombstoned people, so a sweep or check
reads only what changed.

Matching a column against tombstones means hashing (HMAC) every distinct value in it: ~1M
values per column at 1M contacts. A column whose content is the same as when it was last
verified, against the same tombstones, cannot hold anyone new. Its fingerprint is the row count
and the sum of the engine's hash of each value (a sum, not a XOR: equal values added and removed
in pairs must not cancel out), computed in SQL in one scan per table. Any change of content or
of the tombstones means a full match again.

Two scopes: `sweep` (erased rows deleted and anonymised rows blanked) and `check` (no erased
rows). A sweep trusts only sweeps; the check trusts both.
"""

import logging
from datetime import UTC, datetime

import polars as pl

from email_data_platform.lib.privacy.subjects import TableIdentifiers
from email_data_platform.lib.warehouse import Warehouse

logger = logging.getLogger(__name__)

VERIFIED = "privacy.tombstone_verified"
SWEEP, CHECK = "sweep", "check"
SCHEMA = {"table_name": pl.Utf8, "column_name": pl.Utf8, "scope": pl.Utf8, "fingerprint": pl.Utf8,
          "tombstones_version": pl.Utf8, "verified_at": pl.Datetime("us", "UTC")}


def tombstones_version(wh: Warehouse, tombstones: str) -> str:
    row = wh.query(f"select count(*) as n, max(recorded_at) as last from {tombstones}").row(0)
    return f"{row[0]}:{row[1]}"


def column_fingerprints(wh: Warehouse, entry: TableIdentifiers) -> dict[str, str]:
    """column -> "rows:sum of hashes"; empty when the engine cannot compute them (then every
    column is matched in full, as without this module)."""
    columns = list(entry.columns)
    sums = ", ".join(f'sum(hash("{c}"))::varchar as f{i}' for i, c in enumerate(columns))
    try:
        row = wh.query(f"select count(*) as n, {sums} from {entry.table}").row(0)
    except Exception as error:  # an engine without hash(): fall back to full matching
        logger.info("no fingerprints for %s (%s); matching in full", entry.table,
                    type(error).__name__)
        return {}
    return {c: f"{row[0]}:{row[i + 1]}" for i, c in enumerate(columns)}


def unverified_part(wh: Warehouse, entry: TableIdentifiers, version: str,
                    scopes: tuple[str, ...]) -> tuple[TableIdentifiers | None, dict[str, str]]:
    """The table restricted to columns not verified with this content and these tombstones
    (None when every column is), and the current fingerprints."""
    prints = column_fingerprints(wh, entry)
    done = set()
    if prints and wh.exists(VERIFIED):
        marks = ", ".join("?" * len(scopes))
        stored = wh.query(f"select column_name, fingerprint from {VERIFIED} where table_name = ?"
                          f" and tombstones_version = ? and scope in ({marks})",
                          [entry.table, version, *scopes])
        done = {c for c, f in stored.iter_rows() if prints.get(c) == f}
    columns = {c: k for c, k in entry.columns.items() if c not in done}
    if not columns:
        return None, prints
    return TableIdentifiers(entry.table, columns, entry.pii), prints


def mark_verified(wh: Warehouse, table: str, prints: dict[str, str], version: str,
                  scope: str) -> None:
    if not prints:
        return
    now = datetime.now(UTC)
    rows = pl.DataFrame([{"table_name": table, "column_name": c, "scope": scope, "fingerprint": f,
                          "tombstones_version": version, "verified_at": now}
                         for c, f in prints.items()], schema=SCHEMA)
    wh.upsert(VERIFIED, rows, ["table_name", "column_name", "scope"])
