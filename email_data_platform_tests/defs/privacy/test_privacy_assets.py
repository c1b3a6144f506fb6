import json

import dagster as dg
import polars as pl
import pytest

from email_data_platform.defs.privacy import assets, checks
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform_tests.defs.privacy.upstream import seed_upstream

PRIVACY = [assets.consent_events, assets.consent_ledger, assets.audit_log,
           checks.audit_chain_intact, checks.consent_ledger_matches_schema]


def seeded(path) -> str:
    wh = DuckDBWarehouse(path)
    seed_upstream(wh)
    wh.close()
    return str(path)


@pytest.fixture
def warehouse_path(tmp_path):
    return seeded(tmp_path / "wh.duckdb")


@pytest.fixture
def instance():
    """One Dagster home across runs, as a deployment has: anchors live in its event log."""
    with dg.instance_for_test() as instance:
        yield instance


def materialise(path, instance, **kwargs):
    return dg.materialize(PRIVACY, resources={"warehouse": WarehouseResource(path=path)},
                          instance=instance, **kwargs)


def check_results(result):
    return {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}


def chain_check(result):
    return next(e for e in result.get_asset_check_evaluations()
                if e.asset_check_key.name == "audit_chain_intact")


def tamper(path, sql):
    wh = DuckDBWarehouse(path)
    wh.execute(sql)
    wh.close()


def test_ledger_and_audit_log_materialise_with_passing_checks(warehouse_path, instance):
    result = materialise(warehouse_path, instance)
    assert result.success
    assert check_results(result) == {"audit_chain_intact": True,
                                     "consent_ledger_matches_schema": True}
    wh = DuckDBWarehouse(warehouse_path)
    ledger = wh.read("privacy.consent_ledger").filter(pl.col("purpose") == "email_marketing")
    status = dict(ledger.select("entity_id", "status").iter_rows())
    assert status["e4"] == "withdrawn" and status["e1"] == "granted" and "e3" not in status
    assert status["e2"] == "withdrawn"  # unsubscribed at the ESP
    log = wh.read("privacy.audit_log")
    assert log["action"].to_list() == ["audit chain started", "consent events recorded",
                                       "consent ledger built", "personal data written",
                                       "personal data written", "audit chain anchored"]
    written = log.filter(pl.col("action") == "personal data written")
    assert written["subject"].to_list() == ["privacy.consent_events", "privacy.address_consent"]
    assert json.loads(written["details"][1]) == {
        "rows": wh.row_count("privacy.address_consent")}
    ledger_meta = result.asset_materializations_for_node("privacy__consent_ledger")[0].metadata
    assert ledger_meta["dagster/row_count"].value == wh.row_count("privacy.consent_ledger")
    assert "@" not in str(ledger_meta["preview"].value)


def test_consent_events_are_appended_never_replaced(warehouse_path, instance):
    assert materialise(warehouse_path, instance).success
    wh = DuckDBWarehouse(warehouse_path)
    before = wh.row_count("privacy.consent_events")
    wh.execute("delete from profiles.clean_consent_events")  # the source forgets everything
    wh.close()
    assert materialise(warehouse_path, instance).success
    wh = DuckDBWarehouse(warehouse_path)
    assert wh.row_count("privacy.consent_events") == before
    ledger = wh.read("privacy.consent_ledger")
    assert ledger.filter((pl.col("entity_id") == "e1") & (pl.col("purpose") == "email_marketing")
                         )["status"].item() == "granted"


@pytest.mark.parametrize(("sql", "first_broken"), [
    ("update privacy.audit_log set details = '{\"decisions\":0}' where seq = 2", 2),
    ("delete from privacy.audit_log where seq = 3", 4),
    ("update privacy.audit_log set seq = case seq when 2 then 3 when 3 then 2 else seq end", 2),
], ids=["edited", "deleted", "reordered"])
def test_tampering_with_the_audit_log_fails_the_chain_check(warehouse_path, instance, sql,
                                                             first_broken):
    assert materialise(warehouse_path, instance).success
    tamper(warehouse_path, sql)
    result = materialise(warehouse_path, instance, raise_on_error=False)
    evaluation = chain_check(result)
    assert evaluation.passed is False
    assert evaluation.metadata["first_broken_seq"].value == first_broken


def test_entries_cut_from_the_end_are_caught_by_the_anchor(warehouse_path, instance):
    assert materialise(warehouse_path, instance).success
    assert materialise(warehouse_path, instance).success
    last = DuckDBWarehouse(warehouse_path).query("select max(seq) as s from privacy.audit_log")
    tamper(warehouse_path, f"delete from privacy.audit_log where seq > {last['s'].item() - 3}")
    result = materialise(warehouse_path, instance, raise_on_error=False)
    evaluation = chain_check(result)
    assert evaluation.passed is False
    assert evaluation.metadata["first_broken_seq"].value == "none"  # the chain alone is valid
    assert evaluation.metadata["verified_before_anchoring"].value is False


def test_switching_warehouses_with_one_home_is_not_tampering(warehouse_path, instance, tmp_path):
    other = seeded(tmp_path / "other.duckdb")
    for path in (warehouse_path, other, warehouse_path, other):
        result = materialise(path, instance)
        assert result.success and chain_check(result).passed


def test_a_lost_anchor_fails_closed(warehouse_path, instance):
    assert materialise(warehouse_path, instance).success
    with dg.instance_for_test() as new_home:  # the Dagster home that held the anchor is gone
        evaluation = chain_check(materialise(warehouse_path, new_home, raise_on_error=False))
    assert evaluation.passed is False
    assert evaluation.metadata["verified_before_anchoring"].value is False
    assert "no anchor for this warehouse was found" in (
        evaluation.metadata["verification_before_anchoring"].value)


def test_latest_event_merge_rule_is_configurable(warehouse_path, instance):
    result = dg.materialize(
        [assets.consent_events, assets.consent_ledger],
        resources={"warehouse": WarehouseResource(path=warehouse_path)}, instance=instance,
        run_config={"ops": {"privacy__consent_ledger": {"config": {"merge_rule": "latest_event"}}}},
    )
    assert result.success
    ledger = DuckDBWarehouse(warehouse_path).read("privacy.consent_ledger")
    assert ledger.filter((pl.col("entity_id") == "e4") & (pl.col("purpose") == "email_marketing")
                         )["status"].item() == "granted"
