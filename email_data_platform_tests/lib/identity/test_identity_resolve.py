import polars as pl
import pytest

from email_data_platform.lib.identity.resolve import Delta, choose_mode


def delta(n: int) -> Delta:
    return Delta(pl.Series([f"r{i}" for i in range(n)]), pl.Series([], dtype=pl.Utf8))


def test_auto_links_small_deltas_incrementally_and_large_ones_in_full():
    assert choose_mode("auto", delta(10), 1000) == "incremental"
    assert choose_mode("auto", delta(500), 1000) == "full"
    assert choose_mode("full", delta(1), 1000) == "full"
    assert choose_mode("incremental", delta(900), 1000) == "incremental"


def test_unknown_mode_is_rejected_with_the_allowed_values():
    with pytest.raises(ValueError, match="auto, full or incremental"):
        choose_mode("sometimes", delta(1), 10)
