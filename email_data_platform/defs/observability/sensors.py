"""Sensors that watch every sync: volume anomalies, reconciliation mismatches, failed runs."""

import json

import dagster as dg

from email_data_platform.defs.observability.alerts import AlertsResource
from email_data_platform.defs.observability.history import recent_row_counts
from email_data_platform.lib.observability.stage import row_count_anomaly

WATCHED_ASSETS = [
    dg.AssetKey(["sources", "crm_contacts"]),
    dg.AssetKey(["sources", "crm_orders"]),
    dg.AssetKey(["sources", "esp_events"]),
    dg.AssetKey(["profiles", "clean_profiles"]),
    dg.AssetKey(["identity", "entities"]),
    dg.AssetKey(["audiences", "marketable_audience"]),
    dg.AssetKey(["activation", "esp_payload"]),
]
RECONCILIATION = dg.AssetKey(["observability", "reconciliation"])
HISTORY = 8


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def row_count_anomaly_sensor(context: dg.SensorEvaluationContext, alerts: AlertsResource):
    """Alerts when a watched table's size jumps or collapses against its recent median."""
    seen = json.loads(context.cursor or "{}")
    raised = []
    for key in WATCHED_ASSETS:
        counts = recent_row_counts(context.instance, key, HISTORY)
        if not counts or seen.get(key.to_user_string()) == counts[0][0]:
            continue
        seen[key.to_user_string()] = counts[0][0]
        reason = row_count_anomaly([c for _, c in counts[1:]], counts[0][1])
        if reason:
            alerts.send("row_count_anomaly", f"{key.to_user_string()}: {reason}",
                        {"asset": key.to_user_string(), "row_count": counts[0][1]})
            raised.append(key.to_user_string())
    context.update_cursor(json.dumps(seen))
    return dg.SkipReason(f"anomalies: {', '.join(raised)}" if raised else "no anomalies")


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def reconciliation_sensor(context: dg.SensorEvaluationContext, alerts: AlertsResource):
    """Alerts when source, warehouse and ESP disagree after a sync."""
    records = context.instance.fetch_materializations(RECONCILIATION, limit=1).records
    if not records or str(records[0].storage_id) == context.cursor:
        return dg.SkipReason("no new reconciliation")
    context.update_cursor(str(records[0].storage_id))
    metadata = records[0].asset_materialization.metadata
    mismatches = int(metadata["mismatches"].value) if "mismatches" in metadata else 0
    if mismatches:
        failed = metadata["failed_checks"].value if "failed_checks" in metadata else ""
        alerts.send("reconciliation_mismatch", f"{mismatches} reconciliation checks failed",
                    {"failed_checks": failed})
        return dg.SkipReason(f"alerted: {mismatches} mismatches")
    return dg.SkipReason("source, warehouse and ESP agree")


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, alerts: AlertsResource):
    """Tells the team when any run fails, with the job and run id (never the data)."""
    run = context.dagster_run
    alerts.send("run_failure", f"job {run.job_name} failed (run {run.run_id})",
                {"job": run.job_name, "run_id": run.run_id})
