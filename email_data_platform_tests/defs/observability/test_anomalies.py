"""Anomaly checks and sensors against a real (ephemeral) Dagster instance, a DuckDB warehouse
and a local webhook receiver."""

import time

import dagster as dg
import pytest

from email_data_platform.defs.observability.alerts import AlertsResource
from email_data_platform.defs.observability.anomalies import RULES, anomaly_check
from email_data_platform.defs.observability.sensors import (
    freshness_sensor,
    overdue_anomalies,
    run_failure_alert_sensor,
)
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.observability.stage import acknowledge_hold, open_holds, read_alerts
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform_tests.webhook_receiver import webhook_receiver

CONTACTS = "sources/crm_contacts"
CONTACTS_CHECK = anomaly_check(CONTACTS, RULES[CONTACTS])


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def resources(tmp_path, url=""):
    return {"warehouse": WarehouseResource(path=str(tmp_path / "wh.duckdb")),
            "alerts": AlertsResource(webhook_url=url, backoff_seconds=0.01)}


def load_contacts(instance, tmp_path, hubspot_total: int, url: str = ""):
    @dg.asset(key=CONTACTS.split("/"))
    def crm_contacts() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"hubspot_source_total": hubspot_total,
                                              "salesforce_source_total": 50})

    result = dg.materialize([crm_contacts, CONTACTS_CHECK], instance=instance,
                            resources=resources(tmp_path, url), raise_on_error=False)
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def warehouse(tmp_path) -> DuckDBWarehouse:
    return DuckDBWarehouse(tmp_path / "wh.duckdb")


def test_a_40_percent_drop_alerts_once_holds_and_acknowledging_accepts_the_new_level(
    instance, tmp_path
):
    with webhook_receiver() as (url, received):
        for total in (1000, 1010, 990):
            assert load_contacts(instance, tmp_path, total, url).passed
        dropped = load_contacts(instance, tmp_path, 600, url)
        assert not dropped.passed and dropped.severity == dg.AssetCheckSeverity.ERROR
        assert len(received) == 1 and "hubspot_source_total fell 40%" in received[0]["text"]
        # the next run sees the same low count: still held, a warning, no second alert
        again = load_contacts(instance, tmp_path, 600, url)
        assert not again.passed and again.severity == dg.AssetCheckSeverity.WARN
        assert len(received) == 1
        wh = warehouse(tmp_path)
        (hold_id,) = open_holds(wh)["hold_id"].to_list()
        assert read_alerts(wh)["delivery"].to_list() == ["delivered"]
        acknowledge_hold(wh, hold_id, by="ana", reason="HubSpot cleanup of duplicates")
        wh.close()
        assert load_contacts(instance, tmp_path, 600, url).passed
        assert load_contacts(instance, tmp_path, 610, url).passed
        assert len(received) == 1


def test_steady_counts_raise_nothing(instance, tmp_path):
    for total in (1000, 1010, 990, 1005, 800):
        evaluation = load_contacts(instance, tmp_path, total)
        assert evaluation.passed
    # it did compare: the last count against the four before it, and found nothing
    assert {key: evaluation.metadata[key].value for key in ("history_used", "anomalies")} == {
        "history_used": 4, "anomalies": 0}
    assert open_holds(warehouse(tmp_path)).height == 0


def test_overdue_assets_alert_and_hold(instance, tmp_path):
    load_contacts(instance, tmp_path, 1000)
    assert overdue_anomalies(instance, time.time()) == {}
    later = time.time() + 27 * 3600
    assert list(overdue_anomalies(instance, later)) == [CONTACTS]
    with dg.build_sensor_context(instance=instance, resources=resources(tmp_path)) as context:
        # The real clock: nothing is overdue yet, so the sensor skips without a hold.
        assert "fresh" in freshness_sensor(context).skip_message


def test_run_failure_alert_sensor_posts_the_failed_job_and_step(instance, tmp_path):
    @dg.asset
    def broken():
        raise ValueError("boom")

    result = dg.materialize([broken], instance=instance, raise_on_error=False)
    assert not result.success
    with webhook_receiver() as (url, received), dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor", dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
        resources=resources(tmp_path, url),
    ) as context:
        run_failure_alert_sensor(context.for_run_failure())
    assert len(received) == 1
    assert f"failed (run {result.run_id})" in received[0]["text"]
    assert "broken" in received[0]["text"]
    stored = read_alerts(warehouse(tmp_path))
    assert stored["kind"].to_list() == ["run_failure"]
    assert stored["delivery"].to_list() == ["delivered"]
