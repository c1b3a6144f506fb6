"""Sensors: overdue assets (freshness rules) and failed runs raise alerts.

Row-count, quarantine, ESP-error and reconciliation anomalies are judged by the anomaly checks
(defs/observability/anomalies.py) inside the run that produced them, so `edp run` catches them
too; these sensors need the daemon (`edp dev`).
"""

import time

import dagster as dg

from email_data_platform.defs.observability.alerts import AlertsResource
from email_data_platform.defs.observability.anomalies import RULES
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.observability import stage as observability
from email_data_platform.lib.warehouse import WarehouseBusyError


def overdue_anomalies(instance: dg.DagsterInstance, now: float) -> dict[str, list]:
    """{asset: [freshness anomaly]} for every asset past its rule's maximum age."""
    overdue = {}
    for asset, rules in RULES.items():
        if "freshness" not in rules:
            continue
        records = instance.fetch_materializations(dg.AssetKey(asset.split("/")), limit=1).records
        age = (now - records[0].timestamp) / 3600 if records else None
        anomaly = observability.freshness_overdue(rules, age)
        if anomaly:
            overdue[asset] = [anomaly]
    return overdue


@dg.sensor(minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING)
def freshness_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                     alerts: AlertsResource):
    """Alerts and holds the ESP sync when a source or the audience is older than its rule
    allows (a stopped schedule or a broken pull would otherwise go unnoticed)."""
    overdue = overdue_anomalies(context.instance, time.time())
    if not overdue:
        return dg.SkipReason("every watched asset is fresh")
    try:
        wh = warehouse.get()
        outcomes = [o for asset, anomalies in overdue.items()
                    for o in alerts.report(wh, asset, anomalies, None)]
    except WarehouseBusyError:  # a run holds DuckDB's single-writer lock
        return dg.SkipReason("warehouse busy (a run is writing); will retry next tick")
    finally:
        warehouse.get().close()  # never keep the lock between ticks
    raised = [o["hold_id"] for o in outcomes if o["new"]]
    return dg.SkipReason(f"overdue: {', '.join(overdue)}; new holds: {', '.join(raised) or '-'}")


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, warehouse: WarehouseResource,
                             alerts: AlertsResource):
    """Tells the team when any run fails, with the job, run id and failed steps (never data)."""
    run = context.dagster_run
    steps = sorted({event.step_key for event in context.get_step_failure_events()
                    if event.step_key})
    message = f"job {run.job_name} failed (run {run.run_id})"
    if steps:
        message += f": {', '.join(steps)}"
    try:
        alerts.send(warehouse.get(), observability.Alert(
            "run_failure", message, None, {"job": run.job_name, "failed_steps": steps},
            run_id=run.run_id))
    finally:
        warehouse.get().close()
