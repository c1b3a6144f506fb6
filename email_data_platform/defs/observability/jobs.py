"""Jobs and schedules: the daily end-to-end refresh."""

import dagster as dg

main_job = dg.define_asset_job(
    "main_job",
    selection=dg.AssetSelection.all(),
    description="Pull sources, rebuild profiles, entities, consent and audiences, sync the ESP.",
    tags={"stage": "all"},
)

daily_refresh_schedule = dg.ScheduleDefinition(
    name="daily_refresh",
    job=main_job,
    cron_schedule="0 5 * * *",
    execution_timezone="UTC",
    description="Every morning before marketing's send window: a full, consent-checked refresh.",
)
