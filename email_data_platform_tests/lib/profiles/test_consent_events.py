"""Consent cleaning: a withdrawal is never lost, a grant must be provable."""

import datetime as dt

import polars as pl
import pytest

from email_data_platform.lib.profiles import schemas
from email_data_platform.lib.profiles.stage import clean_consent_events
from email_data_platform_tests.lib.profiles.raw_frames import NOW, raw_consent


def _rules(result) -> dict[str, str]:
    return dict(result.quarantine.select("record_key", "rule").iter_rows())


def _one(**fields) -> pl.DataFrame:
    """raw_consent's first row (a valid grant by hubspot:1) with `fields` replaced."""
    return raw_consent().head(1).with_columns(
        [pl.lit(v, pl.Utf8).alias(k) for k, v in fields.items()])


def test_grants_with_bad_metadata_are_quarantined_withdrawals_are_kept():
    result = clean_consent_events(raw_consent(), "run-1", now=NOW)
    assert result.clean["event_id"].to_list() == ["cp:1", "cp:2"]
    assert _rules(result) == {"cp:3": "purpose_unknown", "cp:4": "channel_unknown"}
    assert schemas.validate_table(schemas.CleanConsentEvents, result.clean, "event_id").passed


@pytest.mark.parametrize(("fields", "kept", "issue"), [
    ({"channel": "carrier_pigeon"}, {"channel": "unknown"}, "channel_unknown"),
    ({"purpose": "spam_me"}, {"purpose": "all"}, "purpose_unknown"),
    ({"policy_version": None}, {"policy_version": None}, "policy_version_missing"),
    ({"source": None}, {"source": "unknown"}, "source_missing"),
    ({"status": "STOP please"}, {"status": "withdrawn"}, "status_unrecognised"),
    ({"status": "Unsubscribed"}, {"status": "withdrawn"}, None),
])
def test_a_withdrawal_with_bad_metadata_still_withdraws(fields, kept, issue):
    raw = _one(status="withdrawn", **fields) if "status" not in fields else _one(**fields)
    result = clean_consent_events(raw, "run-1", now=NOW)
    assert result.quarantine.height == 0
    row = result.clean.row(0, named=True)
    assert row["status"] == "withdrawn"
    assert {k: row[k] for k in kept} == kept
    assert row["metadata_issues"] == issue
    assert schemas.validate_table(schemas.CleanConsentEvents, result.clean, "event_id").passed


def test_the_same_bad_metadata_quarantines_a_grant():
    for fields, rule in [({"channel": "carrier_pigeon"}, "channel_unknown"),
                         ({"purpose": "spam_me"}, "purpose_unknown"),
                         ({"policy_version": None}, "policy_version_missing"),
                         ({"occurred_at": "yesterday-ish"}, "occurred_at_unparseable")]:
        result = clean_consent_events(_one(**fields), "run-1", now=NOW)
        assert result.clean.height == 0
        assert _rules(result) == {"cp:1": rule}


def test_a_withdrawal_without_time_counts_from_when_it_was_received():
    raw = _one(status="withdrawn", occurred_at="not a time")
    raw = raw.with_columns(recorded_at=pl.lit("2026-10-30T08:00:00Z"))
    row = clean_consent_events(raw, "run-1", now=NOW).clean.row(0, named=True)
    assert row["occurred_at"] == dt.datetime(2026, 10, 30, 8, tzinfo=dt.UTC)
    assert row["metadata_issues"] == "occurred_at_unknown"


def test_a_withdrawal_without_event_id_gets_a_stable_one():
    raw = _one(status="withdrawn", event_id=None)
    first = clean_consent_events(raw, "run-1", now=NOW).clean["event_id"].item()
    again = clean_consent_events(raw, "run-2", now=NOW).clean["event_id"].item()
    assert first == again
    assert first.startswith("withdrawal:") and len(first) == len("withdrawal:") + 32


def test_a_decision_by_a_known_record_survives_a_bad_email():
    raw = raw_consent().head(2).with_columns(pl.lit("john.smith@").alias("email"))
    raw = raw.with_columns(
        pl.when(pl.col("event_id") == "cp:2").then(None)
        .otherwise(pl.col("contact_record_id")).alias("contact_record_id"))
    result = clean_consent_events(raw, "run-1", now=NOW)
    assert result.clean.select("event_id", "email").rows() == [("cp:1", None)]
    # cp:2 names no record and no valid address: nobody to attribute, nothing to suppress
    assert _rules(result) == {"cp:2": "subject_missing"}


def test_quarantine_keeps_raw_casing_of_codes():
    raw = raw_consent().with_columns(pl.lit("Web_Form").alias("channel"))
    result = clean_consent_events(raw, "run-1", now=NOW)
    assert result.clean["channel"].unique().to_list() == ["web_form"]
    raw_record = result.quarantine.filter(pl.col("record_key") == "cp:3")["raw_record"].item()
    assert '"channel":"Web_Form"' in raw_record
