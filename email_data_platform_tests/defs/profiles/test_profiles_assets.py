"""The profiles multi-asset and its checks, materialised against a temp DuckDB warehouse."""

import dataclasses

import dagster as dg
import polars as pl
import pytest

from email_data_platform.defs.profiles import assets, checks, raw_checks
from email_data_platform.defs.profiles.assets import clean_profiles_tables
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform_tests.lib.profiles.raw_frames import RAW_TABLES, raw_consent

PROFILE_CHECKS = [
    checks.clean_profiles_matches_schema,
    checks.clean_orders_matches_schema,
    checks.clean_esp_events_matches_schema,
    checks.clean_consent_events_matches_schema,
    checks.quarantine_matches_schema,
    checks.clean_profiles_accounts_for_raw_rows,
    checks.clean_orders_accounts_for_raw_rows,
    checks.clean_esp_events_accounts_for_raw_rows,
    checks.clean_consent_events_accounts_for_raw_rows,
    checks.clean_orders_reference_known_contacts,
    checks.clean_consent_events_reference_known_contacts,
    checks.quarantine_holds_no_consent_withdrawals,
    checks.field_issues_name_kept_records,
]
RAW_CHECKS = [
    raw_checks.crm_contacts_looks_healthy,
    raw_checks.crm_orders_looks_healthy,
    raw_checks.esp_events_looks_healthy,
    raw_checks.consent_raw_looks_healthy,
]


def _source_stub(table: str, build=None) -> dg.AssetsDefinition:
    """Stands in for the sources stage: writes the tiny raw frame for `table`."""
    schema, name = table.split(".")

    @dg.asset(key=[schema, name])
    def _stub(warehouse: WarehouseResource) -> None:
        warehouse.get().write(table, (build or RAW_TABLES[table])())

    return _stub


@pytest.fixture
def warehouse_path(tmp_path):
    return str(tmp_path / "wh.duckdb")


@pytest.fixture(scope="module")
def materialised(tmp_path_factory):
    """One healthy run shared by the read-only tests (a materialisation costs seconds)."""
    path = str(tmp_path_factory.mktemp("profiles") / "wh.duckdb")
    return path, _materialise(path)


def _materialise(warehouse_path, extra=(), raw: dict | None = None):
    """`raw` replaces the builders of some raw tables: {table: () -> frame}."""
    stubs = [_source_stub(t, (raw or {}).get(t)) for t in RAW_TABLES]
    return dg.materialize(
        [*stubs, clean_profiles_tables, *PROFILE_CHECKS, *RAW_CHECKS, *extra],
        resources={"warehouse": WarehouseResource(path=warehouse_path)},
        raise_on_error=False,
    )


def test_materialise_writes_clean_tables_and_quarantine(materialised):
    warehouse_path, result = materialised
    assert result.success
    wh = DuckDBWarehouse(warehouse_path)
    profiles = wh.read("profiles.clean_profiles")
    assert sorted(profiles["record_id"]) == [
        "hubspot:1", "hubspot:2", "hubspot:3", "hubspot:bad_email", "hubspot:future_dob",
        "hubspot:old_dob",
    ]
    assert profiles.filter(pl.col("record_id") == "hubspot:3")["first_name"].item() == "New"
    quarantine = wh.read("profiles.quarantine")
    rules = dict(
        quarantine.filter(pl.col("table_name") == "crm_contacts")
        .select("record_key", "rule")
        .iter_rows()
    )
    assert rules["hubspot:archived"] == "archived_in_source"
    assert "hubspot:bad_email" not in rules  # its name and phone identify it: email blanked
    assert rules["hubspot:long"] == "field_too_long"
    assert set(quarantine["table_name"]) == {
        "crm_contacts",
        "crm_orders",
        "esp_events",
        "consent_raw",
    }
    issues = wh.read("profiles.field_issues").select("record_key", "field", "rule", "raw_value")
    assert sorted(issues.rows()) == [
        ("hubspot:bad_email", "email", "email_invalid", "not-an-email"),
        ("hubspot:future_dob", "date_of_birth", "date_of_birth_in_future", "2090-01-01"),
        ("hubspot:old_dob", "date_of_birth", "date_of_birth_before_1900", "1899-12-31"),
    ]
    wh.close()


def test_every_check_passes_and_metadata_has_row_counts(materialised):
    _, result = materialised
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == len(PROFILE_CHECKS) + len(RAW_CHECKS)
    profiles = {e.check_name: e.passed for e in evaluations if e.asset_key.path[0] == "profiles"}
    assert all(profiles.values()), profiles
    materialised = {
        tuple(m.asset_key.path): m.metadata
        for m in result.asset_materializations_for_node("clean_profiles_tables")
    }
    assert materialised[("profiles", "clean_profiles")]["dagster/row_count"].value == 6
    assert materialised[("profiles", "clean_profiles")]["field_issues"].value == 3
    assert materialised[("profiles", "quarantine")]["dagster/row_count"].value == 9
    issues = materialised[("profiles", "field_issues")]
    assert issues["dagster/row_count"].value == 3
    assert "2090-01-01" not in str(issues)  # counts in metadata, values only in the table


def test_a_withdrawal_stuck_in_quarantine_warns_naming_it_without_its_values(warehouse_path):
    def consent_with_a_stuck_withdrawal() -> pl.DataFrame:
        # a withdrawal with an unknown purpose still withdraws (kept, purpose `all`); one that
        # names no record and no valid address has nobody to reach, so it stays in quarantine
        raw = raw_consent()
        kept = raw.filter(pl.col("event_id") == "cp:3").with_columns(
            event_id=pl.lit("cp:6"), status=pl.lit("withdrawn"))
        stuck = raw.filter(pl.col("event_id") == "cp:3").with_columns(
            event_id=pl.lit("cp:5"), status=pl.lit("withdrawn"),
            contact_record_id=pl.lit(None, pl.Utf8), email=pl.lit("not-an-address"))
        return pl.concat([raw, kept, stuck])

    result = _materialise(warehouse_path,
                          raw={"sources.consent_raw": consent_with_a_stuck_withdrawal})
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    check = evaluations["quarantine_holds_no_consent_withdrawals"]
    assert result.success  # a warning: the run goes on
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert check.metadata["withdrawals_in_quarantine"].value == 1
    # the event and the rule it broke, not its email or values
    assert check.metadata["records"].value == (
        "| record_key | rule |\n| --- | --- |\n| cp:5 | subject_missing |")


def test_raw_checks_warn_without_leaking_values(materialised):
    _, result = materialised
    raw = {
        e.check_name: e
        for e in result.get_asset_check_evaluations()
        if e.asset_key.path[0] == "sources"
    }
    contacts = raw["crm_contacts_looks_healthy"]
    assert not contacts.passed  # hubspot:3 appears twice and one email has no "@"
    assert contacts.severity == dg.AssetCheckSeverity.WARN
    failures = contacts.metadata["failures"].value
    assert "hubspot:3" in failures
    assert "not-an-email" not in failures


def _corrupt_clean_profiles() -> dg.AssetsDefinition:
    """A downstream asset proves that a failing blocking check stops the graph."""

    @dg.asset(key=["identity", "probe"], deps=[dg.AssetKey(["profiles", "clean_profiles"])])
    def probe() -> None:
        return None

    return probe


def test_broken_clean_table_fails_blocking_check_and_skips_downstream(warehouse_path, monkeypatch):
    from email_data_platform.defs.profiles import tables

    contacts = tables.PROFILE_TABLES[0]

    def broken_cleaner(raw, run_id):
        result = contacts.cleaner(raw, run_id)
        clean = result.clean.with_columns(pl.lit("not a phone").alias("phone"))
        return dataclasses.replace(result, clean=clean, quarantine=result.quarantine.head(0))

    broken = dataclasses.replace(contacts, cleaner=broken_cleaner)
    monkeypatch.setattr(tables, "PROFILE_TABLES", [broken, *tables.PROFILE_TABLES[1:]])
    monkeypatch.setattr(assets, "PROFILE_TABLES", tables.PROFILE_TABLES)
    result = _materialise(warehouse_path, extra=[_corrupt_clean_profiles()])
    assert not result.success
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert "clean_profiles_matches_schema" in failed
    assert "clean_profiles_accounts_for_raw_rows" in failed
    schema_check = next(
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "clean_profiles_matches_schema"
    )
    assert "hubspot:1" in schema_check.metadata["failures"].value
    assert "not a phone" not in str(schema_check.metadata)
    assert not result.asset_materializations_for_node("identity__probe")


def test_asset_specs_carry_ownership_kinds_tags_and_descriptions():
    for spec in clean_profiles_tables.specs:
        assert spec.group_name == "profiles"
        assert spec.owners == ["team:data-platform"]
        assert spec.kinds == {"duckdb", "polars", "pandera"}
        assert spec.tags["stage"] == "profiles"
        assert spec.tags["pii"] in {"true", "false"}
        assert spec.description and len(spec.description) > 40
    assert {tuple(s.key.path) for s in clean_profiles_tables.specs} == {
        ("profiles", "clean_profiles"),
        ("profiles", "clean_orders"),
        ("profiles", "clean_esp_events"),
        ("profiles", "clean_consent_events"),
        ("profiles", "quarantine"),
        ("profiles", "field_issues"),
    }


def test_blocking_checks_are_blocking_and_raw_checks_are_not():
    for check in PROFILE_CHECKS:
        for spec in check.check_specs:
            expected = spec.name.endswith(
                ("_matches_schema", "_accounts_for_raw_rows", "_name_kept_records")
            )
            assert spec.blocking is expected, spec.name
    for check in RAW_CHECKS:
        assert all(not spec.blocking for spec in check.check_specs)


def test_missing_raw_table_fails_with_a_message_naming_it(warehouse_path):
    result = dg.materialize(
        [clean_profiles_tables],
        resources={"warehouse": WarehouseResource(path=warehouse_path)},
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = str(failure.event_specific_data.error)
    assert "sources.crm_contacts" in message and "do not exist" in message
