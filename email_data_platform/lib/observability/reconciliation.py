"""Reconciliation: do source, warehouse and ESP agree on what they hold?

Checksums are order-independent (a sum of per-key hashes) so two systems that list the same keys
in different orders agree, and a single missing or extra key changes the figure. They are computed
by this code on both sides within one run, so polars' fast (version-specific) hash is enough.
"""

from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import polars as pl

# 40-bit hash slices: a sum over a billion keys still fits in 64 bits without wrapping.
_SLICE = 1 << 40


def key_checksum(keys: pl.Series) -> str:
    """Order-independent checksum of a column of keys (per-key hash, summed)."""
    if keys.len() == 0:
        return "0"
    hashed = keys.cast(pl.Utf8).hash(seed=7) % _SLICE
    return format(int(hashed.sum()), "x")


@dataclass
class ReconciliationRow:
    check: str
    left_system: str
    right_system: str
    left_count: int
    right_count: int
    left_checksum: str
    right_checksum: str
    ok: bool
    detail: str
    checked_at: datetime


def reconcile_keys(
    check: str, left_system: str, left: pl.Series, right_system: str, right: pl.Series
) -> ReconciliationRow:
    """Compare two systems' key sets by count and checksum; detail names how many differ."""
    missing, extra = _not_in(left, right), _not_in(right, left)
    left_sum, right_sum = key_checksum(left), key_checksum(right)
    ok = left.len() == right.len() and left_sum == right_sum
    detail = "match" if ok else f"{missing} missing from {right_system}, {extra} unexpected"
    return ReconciliationRow(check, left_system, right_system, left.len(), right.len(),
                             left_sum, right_sum, ok, detail, datetime.now(UTC))


def _not_in(keys: pl.Series, other: pl.Series) -> int:
    """Distinct values of `keys` (null counted as one) absent from `other`; vectorised, where
    Python sets of a million keys cost hundreds of MB."""
    distinct = keys.unique()
    return int((~distinct.is_in(other.unique().implode(), nulls_equal=True)).sum())


def reconcile_counts(
    check: str, left_system: str, left_count: int, right_system: str, right_count: int
) -> ReconciliationRow:
    """Counts only, where one side reports a total but not its keys (e.g. a source's total)."""
    ok = left_count == right_count
    detail = "match" if ok else f"differ by {right_count - left_count:+d}"
    return ReconciliationRow(check, left_system, right_system, left_count, right_count,
                             "", "", ok, detail, datetime.now(UTC))


def to_frame(rows: list[ReconciliationRow]) -> pl.DataFrame:
    schema = {
        "check": pl.Utf8, "left_system": pl.Utf8, "right_system": pl.Utf8,
        "left_count": pl.Int64, "right_count": pl.Int64, "left_checksum": pl.Utf8,
        "right_checksum": pl.Utf8, "ok": pl.Boolean, "detail": pl.Utf8,
        "checked_at": pl.Datetime("us", "UTC"),
    }
    return pl.DataFrame([asdict(row) for row in rows], schema=schema)
