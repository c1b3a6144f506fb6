"""An order-independent checksum of records, shared by simulators, warehouse and reconciliation.

Both sides hash the same two strings per record (its id and its version, e.g. lastmodifieddate)
and add the hashes, so the figure does not depend on row order or on how rows were paged.
Polars' hash is stable for a given polars version, which is all a same-run comparison needs.
"""

import polars as pl

_SEED = 20_24


def record_checksum(ids: pl.Series, versions: pl.Series) -> str:
    """Hex checksum of (id, version) pairs; equal sets of pairs give equal checksums."""
    if ids.len() != versions.len():
        raise ValueError("record_checksum: ids and versions differ in length")
    if ids.len() == 0:
        return "0" * 16
    joined = pl.DataFrame({"i": ids.cast(pl.Utf8), "v": versions.cast(pl.Utf8)}).select(
        pl.concat_str([pl.col("i"), pl.col("v").fill_null("")], separator="\x1f")
        .hash(seed=_SEED)
        .alias("h")
    )
    # Sum the halves separately: each stays far below 2**64 for any realistic row count.
    halves = joined.select(
        low=(pl.col("h") % 2**32).sum(),
        high=(pl.col("h") // 2**32).sum(),
    )
    low, high = int(halves["low"][0]), int(halves["high"][0])
    return f"{(high * 2**32 + low) % 2**64:016x}"
