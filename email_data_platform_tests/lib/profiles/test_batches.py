"""Cleaning in batches (runs of rows, or split by key when keys repeat) gives exactly the rows,
in the same order, that cleaning the whole table gives."""

import polars as pl
import pytest

from email_data_platform.lib.profiles.stage import (
    clean_consent_events,
    clean_contacts,
    clean_esp_events,
    clean_orders,
    clean_table,
    publish,
)
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform_tests.lib.profiles.raw_frames import (
    NOW,
    TODAY,
    generated_contacts,
    raw_consent,
    raw_contacts,
    raw_esp_events,
    raw_orders,
)

CASES = {
    "contacts": (lambda: pl.concat([raw_contacts(), generated_contacts(300, seed=5,
                                                                     hostile_share=0.1)],
                                   how="diagonal_relaxed"),
                 "record_id", lambda raw, run: clean_contacts(raw, run, today=TODAY)),
    "orders": (raw_orders, "order_record_id", lambda raw, run: clean_orders(raw, run, today=TODAY)),
    "esp_events": (raw_esp_events, "event_id",
                   lambda raw, run: clean_esp_events(raw, run, now=NOW)),
    "consent": (raw_consent, "event_id", lambda raw, run: clean_consent_events(raw, run, now=NOW)),
}


def _rows(frame: pl.DataFrame, drop: tuple[str, ...] = ()) -> list[tuple]:
    return sorted(frame.drop(*drop, strict=False).cast(pl.Utf8).rows(), key=str)


@pytest.mark.parametrize("case", list(CASES))
def test_batches_clean_to_the_same_rows_as_the_whole_table(tmp_path, case):
    make_raw, key, cleaner = CASES[case]
    raw = make_raw()
    wh = DuckDBWarehouse(tmp_path / "wh.duckdb")
    wh.write("sources.raw_table", raw)
    whole = cleaner(wh.read("sources.raw_table"), "run-1")
    cleaned = clean_table(wh, "sources.raw_table", key, "profiles.clean_table", cleaner, "run-1",
                          batch_rows=max(2, raw.height // 4))
    assert cleaned.batches > 1
    one_row_per_key = raw[key].null_count() == 0 and raw[key].n_unique() == raw.height
    assert cleaned.positioned is not one_row_per_key  # consecutive runs, else split by key hash
    publish(wh, [cleaned])
    assert not wh.exists(cleaned.staged_table)
    published = wh.read("profiles.clean_table")
    assert _rows(published) == _rows(whole.clean)
    if one_row_per_key or case != "consent":  # a rewritten consent id has no position: last
        assert published[key].to_list() == whole.clean[key].to_list()  # the raw table's order
    assert cleaned.clean_rows == whole.clean.height
    assert _rows(cleaned.quarantine, ("quarantined_at",)) == _rows(whole.quarantine,
                                                                   ("quarantined_at",))
    assert _rows(cleaned.field_issues, ("detected_at",)) == _rows(whole.field_issues,
                                                                  ("detected_at",))
    assert cleaned.raw_rows == raw.height


def test_a_failed_cleaning_leaves_the_previous_clean_table(tmp_path):
    wh = DuckDBWarehouse(tmp_path / "wh.duckdb")
    wh.write("sources.raw_table", raw_orders())
    wh.write("profiles.clean_table", pl.DataFrame({"order_record_id": ["previous"]}))

    def failing(raw, run_id):
        raise ValueError("boom")

    with pytest.raises(ValueError):
        clean_table(wh, "sources.raw_table", "order_record_id", "profiles.clean_table", failing,
                    "run-1", batch_rows=2)
    assert wh.read("profiles.clean_table")["order_record_id"].to_list() == ["previous"]


def test_unique_keys_clean_in_runs_of_rows_and_keep_the_order(tmp_path):
    raw = generated_contacts(300, seed=7)
    wh = DuckDBWarehouse(tmp_path / "wh.duckdb")
    wh.write("sources.raw_table", raw)
    whole = clean_contacts(wh.read("sources.raw_table"), "run-1", today=TODAY)
    cleaned = clean_table(wh, "sources.raw_table", "record_id", "profiles.clean_table",
                          lambda r, run: clean_contacts(r, run, today=TODAY), "run-1",
                          batch_rows=70)
    assert (cleaned.batches, cleaned.positioned) == (5, False)
    publish(wh, [cleaned])
    published = wh.read("profiles.clean_table")
    assert published["record_id"].to_list() == whole.clean["record_id"].to_list()
    assert _rows(published) == _rows(whole.clean)


@pytest.mark.parametrize("repeat_keys", [False, True], ids=["runs_of_rows", "split_by_key"])
def test_checking_a_table_in_batches_gives_the_whole_tables_verdict(tmp_path, repeat_keys):
    """Bad event types and a key repeated across what would be different runs of rows: the
    batched verdict names the same checks, counts and keys as validating the table whole."""
    from email_data_platform.lib.profiles.stage import schemas, validate_warehouse_table

    events = pl.DataFrame({
        "event_id": [f"e{i}" for i in range(95)], "source": ["mailchimp"] * 95,
        "run_id": ["r"] * 95,
        "event_type": ["open", "click", "teleport", "bounce", None] * 19})
    if repeat_keys:  # e3 again at the end, far from its first row
        events = pl.concat([events, events.filter(pl.col("event_id") == "e3")])
    wh = DuckDBWarehouse(tmp_path / "wh.duckdb")
    wh.write("sources.esp_events", events)
    batched = validate_warehouse_table(wh, schemas.RawEspEvents, "sources.esp_events",
                                       "event_id", batch_rows=10)
    whole = schemas.validate_table(schemas.RawEspEvents, events, "event_id")

    def verdict(summary):
        return sorted((r["column"], r["check"], r["failing_rows"], len(r["sample_record_keys"]))
                      for r in summary.failures.to_dicts())

    assert batched.rows == whole.rows == events.height
    assert verdict(batched) == verdict(whole)
    checks = {r[1] for r in verdict(batched)}
    assert any("isin" in c for c in checks)
    assert any("unique" in c for c in checks) == repeat_keys


def test_owned_copies_keep_every_value_and_type():
    """`owned` (kept quarantine rows own their strings) changes no value, type or order."""
    from email_data_platform.lib.frames import owned

    raw = generated_contacts(200, seed=11, hostile_share=0.2)
    result = clean_contacts(raw, "run-1", today=TODAY)
    for frame in (result.clean, result.quarantine, result.field_issues,
                  result.quarantine.clear()):
        copy = owned(frame)
        assert copy.schema == frame.schema
        assert copy.equals(frame)


def test_duckdb_is_bounded_while_cleaning_and_gets_its_limit_back(tmp_path):
    """DuckDB is held to its lower limit while a table is cleaned; the warehouse's own limit
    is back afterwards, also when a cleaner failed halfway (the run's next steps share the
    connection)."""
    wh = DuckDBWarehouse(tmp_path / "wh.duckdb")
    wh.write("sources.raw_table", raw_orders())

    def limit() -> str:
        return wh.query("select current_setting('memory_limit') as m").item()

    own, seen = limit(), []

    def cleaner(raw, run_id):
        seen.append(limit())
        if len(seen) == 2:
            raise ValueError("boom")
        return clean_orders(raw, run_id, today=TODAY)

    with pytest.raises(ValueError):
        clean_table(wh, "sources.raw_table", "order_record_id", "profiles.clean_table",
                    cleaner, "run-1", batch_rows=2)
    assert limit() == own
    clean_table(wh, "sources.raw_table", "order_record_id", "profiles.clean_table", cleaner,
                "run-1", batch_rows=2)
    assert limit() == own
    assert set(seen) == {"244.1 MiB"}  # DUCKDB_MEMORY_LIMIT, 256 MB, as DuckDB shows it
