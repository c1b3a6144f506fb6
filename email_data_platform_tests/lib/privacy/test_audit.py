from datetime import UTC, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from email_data_platform.lib.privacy.audit import (
    GENESIS_HASH,
    AuditEntry,
    append_audit_entries,
    chain_entries,
    entry_hash,
    read_audit_log,
    verify_chain,
)
from email_data_platform.lib.warehouse import DuckDBWarehouse

ENTRIES = [
    AuditEntry("audience built", "audiences.marketable_audience", {"rows": 10}),
    AuditEntry("esp sync", "activation.esp_sync", {"upserted": 3, "archived": 1}),
    AuditEntry("segments built", "audiences.segments", {"high_value": 2}),
]


def test_chain_links_each_hash_to_the_previous():
    rows = chain_entries(ENTRIES, run_id="r1", logged_at=datetime(2026, 11, 28, tzinfo=UTC))
    assert rows["seq"].to_list() == [1, 2, 3]
    assert rows["prev_hash"][0] == GENESIS_HASH
    assert rows["prev_hash"][1:].to_list() == rows["hash"][:-1].to_list()
    assert rows["hash"][0] == entry_hash(GENESIS_HASH, rows.row(0, named=True))
    assert verify_chain(rows) is None


@pytest.mark.parametrize(
    ("tamper", "broken_seq"),
    [
        (lambda f: f.with_columns(details=pl.when(pl.col("seq") == 2)
                                  .then(pl.lit('{"upserted":300}')).otherwise("details")), 2),
        (lambda f: f.filter(pl.col("seq") != 2), 3),
        (lambda f: f.with_columns(action=pl.when(pl.col("seq") == 1)
                                  .then(pl.lit("nothing")).otherwise("action")), 1),
    ],
    ids=["edited", "deleted", "first-row-edited"],
)
def test_verify_chain_reports_first_broken_seq(tamper, broken_seq):
    rows = chain_entries(ENTRIES, run_id="r1")
    assert verify_chain(tamper(rows)) == broken_seq


def test_rehashing_an_edited_row_still_breaks_the_next_link():
    rows = chain_entries(ENTRIES, run_id="r1")
    edited = rows.row(0, named=True) | {"details": '{"rows":99}'}
    edited["hash"] = entry_hash(GENESIS_HASH, edited)
    forged = pl.concat([pl.DataFrame([edited], schema=rows.schema), rows.slice(1)])
    assert verify_chain(forged) == 2


def test_append_continues_the_stored_chain(tmp_path):
    wh = DuckDBWarehouse(tmp_path / "wh.duckdb")
    append_audit_entries(wh, ENTRIES[:2], run_id="r1")
    append_audit_entries(wh, ENTRIES[2:], run_id="r2")
    log = read_audit_log(wh)
    assert log["seq"].to_list() == [1, 2, 3]
    assert log["run_id"].to_list() == ["r1", "r1", "r2"]
    assert verify_chain(log) is None  # timestamps survive the round trip through DuckDB


def test_raw_email_in_details_is_refused():
    with pytest.raises(ValueError, match="email address"):
        chain_entries([AuditEntry("esp sync", "activation.esp_sync",
                                  {"failed": ["ann@example.com"]})], run_id="r1")


def test_anchor_detects_a_cut_tail_that_the_chain_cannot():
    from email_data_platform.lib.privacy.audit import anchor_present

    rows = chain_entries(ENTRIES, run_id="r1")
    head_seq, head_hash = rows["seq"][-1], rows["hash"][-1]
    truncated = rows.filter(pl.col("seq") < head_seq)
    assert verify_chain(truncated) is None
    assert anchor_present(rows, head_seq, head_hash)
    assert not anchor_present(truncated, head_seq, head_hash)


@settings(max_examples=50, deadline=None)
@given(row=st.integers(0, 2), column=st.sampled_from(["run_id", "actor", "action", "subject",
                                                      "details"]), text=st.text(max_size=8))
def test_any_edit_of_any_field_is_detected_at_its_row(row, column, text):
    rows = chain_entries(ENTRIES, run_id="r1")
    original = rows[column][row]
    edited_value = original + text if text else original + "x"
    edited = rows.with_columns(
        pl.when(pl.col("seq") == row + 1).then(pl.lit(edited_value)).otherwise(pl.col(column))
        .alias(column))
    assert verify_chain(edited) == row + 1
