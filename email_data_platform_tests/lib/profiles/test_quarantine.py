import datetime as dt
import json

import polars as pl

from email_data_platform.lib.profiles.quarantine import (
    Rule,
    accounting_by_source,
    latest_version_flags,
    split_by_rules,
)

RULES = [
    Rule("missing_key", "key is empty", pl.col("key").is_null()),
    Rule("negative", "value is negative", pl.col("value") < 0),
    Rule("too_big", "value over 100", pl.col("value") > 100),
    Rule("odd", "value is odd", pl.col("value") % 2 == 1),
]


def _split(frame: pl.DataFrame):
    return split_by_rules(
        frame,
        RULES,
        table_name="things",
        source=pl.col("source"),
        record_key=pl.col("key"),
        raw_record=pl.struct("key", "value").struct.json_encode(),
        run_id="run-9",
        quarantined_at=dt.datetime(2026, 11, 28, tzinfo=dt.UTC),
    )


def test_split_puts_each_row_in_exactly_one_place_first_rule_wins():
    frame = pl.DataFrame(
        {"source": ["s", "s", None, "s"], "key": ["a", "b", None, "d"], "value": [2, 101, -3, 4]}
    )
    result = _split(frame)
    assert result.passed["key"].to_list() == ["a", "d"]
    rows = result.quarantine.to_dicts()
    assert [(r["record_key"], r["rule"]) for r in rows] == [
        ("b", "too_big"),
        ("(missing)", "missing_key"),
    ]
    assert rows[0]["reason"] == "too_big: value over 100; odd: value is odd"
    assert rows[1]["source"] == "unknown"
    assert json.loads(rows[0]["raw_record"]) == {"key": "b", "value": 101}
    assert {r["run_id"] for r in rows} == {"run-9"}


def test_latest_version_survives_and_ties_keep_the_last_row():
    frame = pl.DataFrame(
        {
            "key": ["a", "a", "b", "b", "c", None, None],
            "updated": [1, 3, 5, 5, None, 1, 2],
        }
    )
    assert latest_version_flags(frame, "key", ["updated"]).to_list() == [
        True,
        False,
        True,
        False,
        False,
        False,
        False,
    ]


def test_null_versions_count_as_oldest():
    frame = pl.DataFrame({"key": ["a", "a"], "updated": [None, 1]})
    assert latest_version_flags(frame, "key", ["updated"]).to_list() == [True, False]


def test_accounting_flags_unbalanced_sources():
    raw = pl.DataFrame({"source": ["hubspot", "salesforce"], "rows": [10, 5]})
    clean = pl.DataFrame({"source": ["hubspot", "salesforce"], "rows": [8, 5]})
    quarantined = pl.DataFrame({"source": ["hubspot"], "rows": [1]})
    ledger = accounting_by_source(raw, clean, quarantined)
    assert ledger.select("source", "quarantined_rows", "balanced").rows() == [
        ("hubspot", 1, False),
        ("salesforce", 0, True),
    ]


def test_quarantined_withdrawals_are_found_in_raw_records():
    from email_data_platform.lib.profiles.quarantine import quarantined_withdrawals

    quarantine = pl.DataFrame(
        {
            "table_name": ["consent_raw", "consent_raw", "crm_contacts"],
            "record_key": ["cp:1", "cp:2", "hubspot:1"],
            "rule": ["channel_unknown", "purpose_unknown", "email_invalid"],
            "raw_record": [
                '{"status":" Withdrawn "}',
                '{"status":"granted"}',
                '{"status":"withdrawn"}',
            ],
        }
    )
    assert quarantined_withdrawals(quarantine).rows() == [("cp:1", "channel_unknown")]
