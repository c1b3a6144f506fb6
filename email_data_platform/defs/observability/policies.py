"""Global policies on asset specs, applied once in definitions.py: declarative automation
where downstream should simply follow upstream, and freshness policies from the freshness
rules of observability_rules.yaml (the same limits that raise alerts and holds)."""

from datetime import timedelta

import dagster as dg

from email_data_platform.defs.observability.anomalies import RULES

# Cleaning follows every (hourly) pull, so quarantine and field issues surface within the hour;
# the consent ledger follows the cleaned consent events, so a withdrawal is on record at once;
# reconciliation follows every sync. Identity, audiences and the ESP push stay on the daily
# job: they are the expensive part, and the push is the one that reaches people.
FOLLOW_UPSTREAM_GROUPS = {"profiles"}
FOLLOW_UPSTREAM_ASSETS = {dg.AssetKey(["privacy", "consent_ledger"]),
                          dg.AssetKey(["observability", "reconciliation"])}


def freshness_policy(key: dg.AssetKey) -> dg.FreshnessPolicy | None:
    rule = RULES.get(key.to_user_string(), {}).get("freshness")
    if rule is None:
        return None
    limit = timedelta(hours=rule["max_age_hours"])
    return dg.FreshnessPolicy.time_window(fail_window=limit, warn_window=limit * 0.9)


def with_policies(spec: dg.AssetSpec) -> dg.AssetSpec:
    changes = {}
    if spec.group_name in FOLLOW_UPSTREAM_GROUPS or spec.key in FOLLOW_UPSTREAM_ASSETS:
        changes["automation_condition"] = dg.AutomationCondition.eager()
    policy = freshness_policy(spec.key)
    if policy is not None:
        changes["freshness_policy"] = policy
    return spec.replace_attributes(**changes) if changes else spec


automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation_sensor", target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=60,
    description="Evaluates the assets' automation conditions (profiles follow each pull, the "
    "consent ledger its events, reconciliation each sync).",
)
