from datetime import UTC, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from email_data_platform.lib.privacy.audit import (
    ANCHORED,
    GENESIS_HASH,
    STARTED,
    AuditEntry,
    append_audit_entries,
    chain_entries,
    entry_hash,
    first_break,
    read_audit_log,
    verify_chain,
    warehouse_id,
)
from email_data_platform.lib.privacy.audit_verify import verify_audit_log
from email_data_platform.lib.privacy.pseudonyms import PseudonymKeyring
from email_data_platform.lib.warehouse import DuckDBWarehouse

KEY = "0123456789abcdef0123456789abcdef"
KEYRING = PseudonymKeyring({"k1": KEY}, "k1")
OTHER_KEYRING = PseudonymKeyring({"k1": "f" * 32}, "k1")
ENTRIES = [
    AuditEntry("audience built", "audiences.marketable_audience", {"rows": 10}),
    AuditEntry("esp sync", "activation.esp_sync", {"upserted": 3, "archived": 1}),
    AuditEntry("segments built", "audiences.segments", {"high_value": 2}),
]
AT = datetime(2026, 11, 28, tzinfo=UTC)


@pytest.fixture(autouse=True)
def audit_key(monkeypatch):
    monkeypatch.setenv("EDP_AUDIT_KEYS", f"k1={KEY}")


def chain(entries=ENTRIES):
    return chain_entries(entries, run_id="r1", keyring=KEYRING, logged_at=AT)


def test_entry_hash_is_the_documented_keyed_format():
    """Pinned against a value computed by hand from the format in audit.py's docstring:
    HMAC-SHA256(key, prev_hash + canonical JSON of the content columns)."""
    rows = chain()
    assert rows["seq"].to_list() == [1, 2, 3]
    assert rows["prev_hash"][0] == GENESIS_HASH
    assert rows["hash"][0] == "98bc44b27682a239fe6205e758f5b9954d87674ddbcf80f693ff1cfedd8821cc"
    assert rows["prev_hash"][1:].to_list() == rows["hash"][:-1].to_list()
    assert verify_chain(rows, KEYRING) is None


@pytest.mark.parametrize(
    ("tamper", "broken_seq", "reason"),
    [
        (lambda f: f.with_columns(details=pl.when(pl.col("seq") == 2)
                                  .then(pl.lit('{"upserted":300}')).otherwise("details")),
         2, "edited"),
        (lambda f: f.filter(pl.col("seq") != 2), 3, "removed"),
        (lambda f: f.with_columns(seq=pl.when(pl.col("seq") == 2).then(3)
                                  .when(pl.col("seq") == 3).then(2).otherwise("seq")),
         2, "prev_hash"),
        (lambda f: f.with_columns(action=pl.when(pl.col("seq") == 1)
                                  .then(pl.lit("nothing")).otherwise("action")), 1, "edited"),
        (lambda f: f.with_columns(key_id=pl.lit("k9")), 1, "not in the keyring"),
    ],
    ids=["edited", "deleted", "reordered", "first-row-edited", "unknown-key"],
)
def test_first_break_names_the_entry_and_why(tamper, broken_seq, reason):
    broken = first_break(tamper(chain()), KEYRING)
    assert broken.seq == broken_seq
    assert reason in broken.reason


def test_rewriting_the_chain_without_the_key_is_detected():
    """Someone who edits an entry and recomputes every hash with another key (or none) cannot
    produce hashes the real key verifies."""
    forged = chain_entries([AuditEntry("audience built", "audiences.marketable_audience",
                                       {"rows": 99}), *ENTRIES[1:]],
                           run_id="r1", keyring=OTHER_KEYRING, logged_at=AT)
    assert verify_chain(forged, OTHER_KEYRING) is None  # consistent under the forger's key
    assert first_break(forged, KEYRING).seq == 1


def test_append_starts_the_chain_with_the_warehouse_id_and_continues_it(tmp_path):
    wh = DuckDBWarehouse(tmp_path / "wh.duckdb")
    append_audit_entries(wh, ENTRIES[:2], run_id="r1")
    append_audit_entries(wh, ENTRIES[2:], run_id="r2")
    log = read_audit_log(wh)
    assert log["seq"].to_list() == [1, 2, 3, 4]
    assert log["action"][0] == STARTED and len(warehouse_id(log)) == 32
    assert log["run_id"].to_list() == ["r1", "r1", "r1", "r2"]
    assert verify_chain(log, KEYRING) is None  # timestamps survive the round trip
    other = DuckDBWarehouse(tmp_path / "other.duckdb")
    append_audit_entries(other, ENTRIES[:1], run_id="r3")
    assert warehouse_id(read_audit_log(other)) != warehouse_id(log)


def test_an_unkeyed_log_from_before_is_kept_aside_and_a_new_chain_starts(tmp_path):
    wh = DuckDBWarehouse(tmp_path / "wh.duckdb")
    wh.execute("create schema privacy")
    wh.execute("create table privacy.audit_log (seq bigint, logged_at timestamptz, run_id "
               "varchar, actor varchar, action varchar, subject varchar, details varchar, "
               "prev_hash varchar, hash varchar)")
    wh.execute("insert into privacy.audit_log values (1, now(), 'old', 'a', 'b', 'c', '{}', "
               "'0', '1')")
    append_audit_entries(wh, ENTRIES[:1], run_id="r1")
    log = read_audit_log(wh)
    assert verify_chain(log, KEYRING) is None
    assert '"retired_unkeyed_log":"privacy.audit_log_unkeyed_' in log["details"][0]
    retired = log["details"][0].split('"retired_unkeyed_log":"')[1].split('"')[0]
    assert wh.row_count(retired) == 1


def test_raw_email_in_details_is_refused():
    with pytest.raises(ValueError, match="email address"):
        chain_entries([AuditEntry("esp sync", "activation.esp_sync",
                                  {"failed": ["ann@example.com"]})], "r1", KEYRING)


def test_verdict_catches_a_cut_tail_and_a_lost_anchor():
    rows = chain()
    head = (int(rows["seq"][-1]), rows["hash"][-1])
    truncated = rows.filter(pl.col("seq") < head[0])
    assert verify_chain(truncated, KEYRING) is None  # the chain alone cannot see the cut
    assert verify_audit_log(rows, head, KEYRING).passed
    cut = verify_audit_log(truncated, head, KEYRING)
    assert not cut.passed and cut.anchor_state == "anchored_entry_missing"
    assert verify_audit_log(rows, None, KEYRING).anchor_state == "not_anchored_yet"
    anchored = chain([*ENTRIES, AuditEntry(ANCHORED, "privacy.audit_log")])
    lost = verify_audit_log(anchored, None, KEYRING)
    assert not lost.passed and lost.anchor_state == "anchor_lost"
    assert "no anchor for this warehouse" in lost.describe()


@settings(max_examples=50, deadline=None)
@given(row=st.integers(0, 2), column=st.sampled_from(["run_id", "actor", "action", "subject",
                                                      "details"]), text=st.text(max_size=8))
def test_any_edit_of_any_field_is_detected_at_its_row(row, column, text):
    rows = chain()
    original = rows[column][row]
    edited = rows.with_columns(
        pl.when(pl.col("seq") == row + 1).then(pl.lit(original + (text or "x")))
        .otherwise(pl.col(column)).alias(column))
    assert verify_chain(edited, KEYRING) == row + 1


def test_entry_hash_covers_the_key_id():
    row = chain().row(0, named=True)
    assert entry_hash(GENESIS_HASH, row | {"key_id": "k1"}, KEYRING) == row["hash"]
    two_keys = PseudonymKeyring({"k1": KEY, "k2": "e" * 32}, "k2")
    assert entry_hash(GENESIS_HASH, row | {"key_id": "k2"}, two_keys) != row["hash"]
