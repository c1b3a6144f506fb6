import dagster as dg
import polars as pl
import pytest

from email_data_platform.defs.privacy import assets, checks
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform_tests.defs.privacy.upstream import seed_upstream

PRIVACY = [assets.consent_events, assets.consent_ledger, assets.audit_log, checks.audit_chain_intact,
           checks.consent_ledger_matches_schema]


@pytest.fixture
def warehouse_path(tmp_path):
    path = str(tmp_path / "wh.duckdb")
    wh = DuckDBWarehouse(path)
    seed_upstream(wh)
    wh.close()
    return path


def materialise(path, **kwargs):
    return dg.materialize(PRIVACY, resources={"warehouse": WarehouseResource(path=path)},
                          **kwargs)


def check_results(result):
    return {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}


def test_ledger_and_audit_log_materialise_with_passing_checks(warehouse_path):
    result = materialise(warehouse_path)
    assert result.success
    assert check_results(result) == {"audit_chain_intact": True,
                                     "consent_ledger_matches_schema": True}
    wh = DuckDBWarehouse(warehouse_path)
    ledger = wh.read("privacy.consent_ledger")
    status = dict(ledger.select("entity_id", "status").iter_rows())
    assert status["e4"] == "withdrawn" and status["e1"] == "granted" and "e3" not in status
    log = wh.read("privacy.audit_log")
    assert log["action"].to_list() == ["consent events recorded", "consent ledger built"]
    ledger_meta = result.asset_materializations_for_node("privacy__consent_ledger")[0].metadata
    assert ledger_meta["dagster/row_count"].value == ledger.height
    assert "@" not in str(ledger_meta["preview"].value)


def test_tampering_with_the_audit_log_fails_the_chain_check(warehouse_path):
    assert materialise(warehouse_path).success
    assert materialise(warehouse_path).success
    wh = DuckDBWarehouse(warehouse_path)
    wh.execute("update privacy.audit_log set details = '{\"decisions\":0}' where seq = 1")
    wh.close()
    result = materialise(warehouse_path, raise_on_error=False)
    evaluation = next(e for e in result.get_asset_check_evaluations()
                      if e.asset_check_key.name == "audit_chain_intact")
    assert evaluation.passed is False
    assert evaluation.metadata["first_broken_seq"].value == 1


def test_latest_event_merge_rule_is_configurable(warehouse_path):
    result = dg.materialize(
        [assets.consent_ledger], resources={"warehouse": WarehouseResource(path=warehouse_path)},
        run_config={"ops": {"privacy__consent_ledger": {"config": {"merge_rule": "latest_event"}}}},
    )
    assert result.success
    ledger = DuckDBWarehouse(warehouse_path).read("privacy.consent_ledger")
    assert ledger.filter(pl.col("entity_id") == "e4")["status"].item() == "granted"


def test_entries_cut_from_the_end_are_caught_by_the_anchor(warehouse_path):
    instance = dg.DagsterInstance.ephemeral()
    assert materialise(warehouse_path, instance=instance).success
    assert materialise(warehouse_path, instance=instance).success  # anchors seq 2
    wh = DuckDBWarehouse(warehouse_path)
    wh.execute("delete from privacy.audit_log where seq = 2")  # the chain alone stays valid
    wh.close()
    result = materialise(warehouse_path, instance=instance, raise_on_error=False)
    evaluation = next(e for e in result.get_asset_check_evaluations()
                      if e.asset_check_key.name == "audit_chain_intact")
    # a new seq 2 was appended after the cut, but its hash is not the anchored one
    assert evaluation.passed is False
    assert evaluation.metadata["previous_anchor_present"].value is False
    assert evaluation.metadata["first_broken_seq"].value == "none"
