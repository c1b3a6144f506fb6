"""One anomaly check per asset named in observability_rules.yaml.

Each check judges the asset's latest materialisation against its predecessors (row counts
against the trailing median, quarantine share, ESP error rate, reconciliation mismatches).
A new anomaly opens a hold and raises an alert, and the check fails with ERROR: blocking, so
nothing downstream runs on a suspect load in this run, and the hold stops every later ESP sync
until `edp alerts ack`. While that hold stays open, repeats only WARN (the hold still blocks
the sync, the rest of the graph may refresh).
"""

import dagster as dg

from email_data_platform.defs.observability.alerts import AlertsResource
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.observability import stage as observability

RULES = observability.load_rules()  # package data, not the environment: read with the code


def recent_metadata(instance: dg.DagsterInstance, key: dg.AssetKey, limit: int) -> list[tuple]:
    """(timestamp, metadata values) of the last `limit` materialisations, newest first."""
    records = instance.fetch_materializations(key, limit=limit).records
    return [(record.timestamp, {k: v.value for k, v in
                                record.asset_materialization.metadata.items()})
            for record in records if record.asset_materialization]


def _describe(rules: dict[str, dict]) -> str:
    listed = "; ".join(f"{rule} {settings}" for rule, settings in rules.items()
                       if rule != "freshness")
    return ("No anomaly in the latest materialisation (rules in observability_rules.yaml: "
            f"{listed}). A new anomaly alerts, holds the ESP sync until acknowledged, and blocks "
            "downstream in this run.")


def anomaly_check(asset: str, rules: dict[str, dict]) -> dg.AssetChecksDefinition:
    key = dg.AssetKey(asset.split("/"))
    history_length = rules.get("row_count", {}).get("history", 8)

    @dg.asset_check(asset=key, name=f"{key.path[-1]}_no_anomaly", blocking=True,
                    description=_describe(rules))
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource,
               alerts: AlertsResource) -> dg.AssetCheckResult:
        wh = warehouse.get()
        recent = recent_metadata(context.instance, key, history_length + 1)
        if not recent:
            return dg.AssetCheckResult(passed=True, metadata={"evaluated": "no materialisation"})
        accepted = observability.last_acknowledged_at(wh, asset, "row_count")
        history = [meta for at, meta in recent[1:]
                   if accepted is None or at > accepted.timestamp()]
        anomalies = observability.evaluate(rules, recent[0][1], history)
        outcomes = alerts.report(wh, asset, anomalies, context.run.run_id)
        new = [o for o in outcomes if o["new"]]
        return dg.AssetCheckResult(
            passed=not anomalies,
            severity=dg.AssetCheckSeverity.ERROR if new else dg.AssetCheckSeverity.WARN,
            description="; ".join(f"{o['rule']}: {o['message']} (hold {o['hold_id']})"
                                  for o in outcomes) or None,
            metadata={"anomalies": len(anomalies), "history_used": len(history),
                      "holds": ", ".join(o["hold_id"] for o in outcomes) or "none",
                      "alert_delivery": ", ".join(o["delivery"] for o in new) or "none"},
        )

    return _check


anomaly_checks = [anomaly_check(asset, rules) for asset, rules in RULES.items()
                  if set(rules) - {"freshness"}]
