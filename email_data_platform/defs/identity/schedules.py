"""When identity retrains and fully re-links (daily runs link incrementally)."""

import dagster as dg

IDENTITY_DOWNSTREAM = dg.AssetSelection.assets(
    ["identity", "match_pairs"], ["identity", "entities"], ["identity", "golden_profiles"]
)

identity_retrain_job = dg.define_asset_job(
    name="identity_retrain_job",
    description="Retrain the matching model, then re-link everyone with it.",
    selection=dg.AssetSelection.assets(["identity", "splink_model"]) | IDENTITY_DOWNSTREAM,
    config={"ops": {
        "identity__splink_model": {"config": {"force_retrain": True}},
        "identity__match_pairs": {"config": {"mode": "full"}},
    }},
)

identity_full_relink_job = dg.define_asset_job(
    name="identity_full_relink_job",
    description="Re-score every pair and re-cluster with the current model; reconciles drift "
                "left by incremental runs (ids stay stable).",
    selection=IDENTITY_DOWNSTREAM,
    config={"ops": {"identity__match_pairs": {"config": {"mode": "full"}}}},
)

identity_retrain_schedule = dg.ScheduleDefinition(
    name="identity_retrain_weekly",
    job=identity_retrain_job,
    cron_schedule="0 3 * * 0",  # Sunday 03:00 UTC, before the Monday campaigns
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)

identity_full_relink_schedule = dg.ScheduleDefinition(
    name="identity_full_relink_weekly",
    job=identity_full_relink_job,
    cron_schedule="0 3 * * 3",  # Wednesday 03:00 UTC, mid-week reconciliation
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
