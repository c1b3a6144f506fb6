"""Sensors and the volume guard, against a real (ephemeral) Dagster instance."""

import dagster as dg
import pytest

from email_data_platform.defs.observability.alerts import AlertsResource
from email_data_platform.defs.observability.checks import audience_volume_stable
from email_data_platform.defs.observability.sensors import (
    reconciliation_sensor,
    row_count_anomaly_sensor,
)
from email_data_platform.lib.observability.stage import read_alerts


def materialise_with_rows(instance, key: list[str], rows: int, **metadata) -> None:
    @dg.asset(key=key)
    def fake() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"dagster/row_count": rows, **metadata})

    assert dg.materialize([fake], instance=instance).success


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def evaluate(sensor, instance, tmp_path, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"alerts": AlertsResource(root=str(tmp_path))})
    result = sensor(context)
    return result, context.cursor


def test_collapse_in_row_count_raises_one_alert(instance, tmp_path):
    for rows in (1000, 1010, 990, 100):
        materialise_with_rows(instance, ["sources", "crm_contacts"], rows)
    result, cursor = evaluate(row_count_anomaly_sensor, instance, tmp_path)
    alerts = read_alerts(tmp_path / "alerts.jsonl")
    assert [a["kind"] for a in alerts] == ["row_count_anomaly"]
    assert "sources/crm_contacts" in alerts[0]["message"] and "fell 90%" in alerts[0]["message"]
    assert "sources/crm_contacts" in result.skip_message
    # the same materialisation is not alerted twice
    evaluate(row_count_anomaly_sensor, instance, tmp_path, cursor)
    assert len(read_alerts(tmp_path / "alerts.jsonl")) == 1


def test_steady_row_counts_raise_nothing(instance, tmp_path):
    for rows in (1000, 1010, 990, 1005):
        materialise_with_rows(instance, ["sources", "crm_contacts"], rows)
    evaluate(row_count_anomaly_sensor, instance, tmp_path)
    assert read_alerts(tmp_path / "alerts.jsonl") == []


def test_reconciliation_mismatch_raises_alert(instance, tmp_path):
    materialise_with_rows(instance, ["observability", "reconciliation"], 4, mismatches=1,
                          failed_checks="ESP payload = ESP subscribed members")
    evaluate(reconciliation_sensor, instance, tmp_path)
    alerts = read_alerts(tmp_path / "alerts.jsonl")
    assert [a["kind"] for a in alerts] == ["reconciliation_mismatch"]
    assert alerts[0]["details"]["failed_checks"] == "ESP payload = ESP subscribed members"


def test_reconciliation_match_is_quiet(instance, tmp_path):
    materialise_with_rows(instance, ["observability", "reconciliation"], 4, mismatches=0)
    result, _ = evaluate(reconciliation_sensor, instance, tmp_path)
    assert read_alerts(tmp_path / "alerts.jsonl") == []
    assert "agree" in result.skip_message


def test_volume_guard_blocks_a_collapsed_audience(instance):
    def run(rows: int) -> bool:
        @dg.asset(key=["audiences", "marketable_audience"])
        def audience() -> dg.MaterializeResult:
            return dg.MaterializeResult(metadata={"dagster/row_count": rows})

        result = dg.materialize([audience, audience_volume_stable], instance=instance,
                                raise_on_error=False)
        return result.get_asset_check_evaluations()[0].passed

    assert all(run(rows) for rows in (5000, 5100, 4900))
    assert not run(400)
