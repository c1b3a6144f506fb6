"""Helpers for polars frames that more than one stage needs."""

import polars as pl


def owned(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with strings that own their bytes. Rows filtered or gathered out of a larger
    frame share its string buffers (polars string views), so keeping a few of them keeps the
    whole larger frame resident: 1 GB of the profiles step at 1M contacts (the quarantine rows
    of each batch), and of the consent ledger (each part's decisions)."""
    return pl.from_arrow(frame.to_arrow(compat_level=pl.CompatLevel.oldest()))
