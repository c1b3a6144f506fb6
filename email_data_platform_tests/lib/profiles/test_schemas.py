import datetime as dt

import polars as pl

from email_data_platform.lib.profiles import schemas
from email_data_platform.lib.profiles.stage import clean_contacts
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform_tests.lib.profiles.raw_frames import TODAY, raw_contacts


def _clean_profiles() -> pl.DataFrame:
    return clean_contacts(raw_contacts(), "run-1", today=TODAY).clean


def test_clean_profiles_pass_after_a_warehouse_round_trip(tmp_path):
    """DuckDB hands back time zone "Etc/UTC"; the models must treat it as UTC."""
    warehouse = DuckDBWarehouse(tmp_path / "wh.duckdb")
    warehouse.write("profiles.clean_profiles", _clean_profiles())
    back = warehouse.read("profiles.clean_profiles")
    assert back.schema["created_at"].time_zone == "Etc/UTC"
    assert schemas.validate_table(schemas.CleanProfiles, back, "record_id").passed
    warehouse.close()


def test_failures_are_summarised_by_rule_with_record_keys_and_no_values():
    broken = _clean_profiles().with_columns(
        pl.when(pl.col("record_id") == "hubspot:1")
        .then(pl.lit("secret@@example.com"))
        .otherwise(pl.col("email"))
        .alias("email"),
        pl.lit(dt.date(2999, 1, 1)).alias("date_of_birth"),
    )
    summary = schemas.validate_table(schemas.CleanProfiles, broken, "record_id")
    assert not summary.passed
    by_column = {row["column"]: row for row in summary.failures.iter_rows(named=True)}
    assert by_column["email"]["failing_rows"] == 1
    assert by_column["email"]["sample_record_keys"] == ["hubspot:1"]
    assert by_column["date_of_birth"]["check"] == "not_in_future"
    assert by_column["date_of_birth"]["failing_rows"] == broken.height
    assert "secret" not in str(summary.failures.to_dicts())
    assert "2999" not in str(summary.failures.to_dicts())


def test_future_is_judged_against_the_pinned_as_of_not_the_wall_clock(monkeypatch):
    """A birth date after EDP_AS_OF is in the future for that run, whatever today is."""
    profiles = _clean_profiles().with_columns(pl.lit(dt.date(2021, 6, 1)).alias("date_of_birth"))
    assert schemas.validate_table(schemas.CleanProfiles, profiles, "record_id").passed
    monkeypatch.setenv("EDP_AS_OF", "2021-01-01")
    summary = schemas.validate_table(schemas.CleanProfiles, profiles, "record_id")
    assert summary.failures.select("column", "check").rows() == [
        ("date_of_birth", "not_in_future")]


def test_duplicate_keys_and_missing_columns_fail():
    profiles = _clean_profiles()
    duplicated = pl.concat([profiles, profiles.head(1)])
    summary = schemas.validate_table(schemas.CleanProfiles, duplicated, "record_id")
    assert ("record_id", "field_uniqueness") in summary.failures.select("column", "check").rows()
    missing = schemas.validate_table(schemas.CleanProfiles, profiles.drop("email_key"), "record_id")
    assert not missing.passed


def test_negative_amounts_fail_the_orders_model():
    orders = pl.DataFrame(
        {
            "order_record_id": ["hubspot:deal:1"],
            "contact_record_id": ["hubspot:1"],
            "currency": ["GBP"],
            "order_date": [dt.date(2026, 1, 1)],
            "status": ["paid"],
            "updated_at": [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)],
        }
    ).with_columns(pl.lit("-1.00").cast(pl.Decimal(18, 2)).alias("amount"))
    summary = schemas.validate_table(schemas.CleanOrders, orders, "order_record_id")
    assert summary.failures.select("column").to_series().to_list() == ["amount"]


def test_consent_needs_a_subject():
    consent = pl.DataFrame(
        {
            "event_id": ["cp:1"],
            "source": ["cp"],
            "contact_record_id": [None],
            "email": [None],
            "purpose": ["analytics"],
            "status": ["granted"],
            "channel": ["import"],
            "occurred_at": [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)],
            "policy_version": ["v1"],
        },
        schema_overrides={"contact_record_id": pl.Utf8, "email": pl.Utf8},
    )
    assert not schemas.validate_table(schemas.CleanConsentEvents, consent, "event_id").passed
