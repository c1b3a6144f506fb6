"""Jobs and schedules. Which schedules start on, and why, is in the README ("Schedules")."""

import dagster as dg

SOURCES = dg.AssetSelection.groups("sources")

main_job = dg.define_asset_job(
    "main_job",
    selection=dg.AssetSelection.all(),
    description="Everything: pull sources, rebuild profiles, entities, consent and audiences, "
    "sync the ESP, reconcile (what `edp run` materialises).",
    tags={"stage": "all"},
)

sources_job = dg.define_asset_job(
    "sources_job",
    selection=SOURCES,
    description="Incremental pulls from every CRM, ESP and the consent platform, each from its "
    "cursor, with the sources' checks (anomalies open holds).",
    tags={"stage": "sources"},
)

profiles_to_activation_job = dg.define_asset_job(
    "profiles_to_activation_job",
    selection=dg.AssetSelection.all() - SOURCES,
    description="From what the pulls landed: profiles, identity (incremental), consent, "
    "audiences, the ESP payload and sync, reconciliation.",
    tags={"stage": "profiles_to_activation"},
)

hourly_sources_schedule = dg.ScheduleDefinition(
    name="sources_hourly",
    job=sources_job,
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly incremental pulls: read-only at the vendors and cheap, and each pull's "
    "anomaly checks catch a broken source within the hour.",
)

daily_activation_schedule = dg.ScheduleDefinition(
    name="profiles_to_activation_daily",
    job=profiles_to_activation_job,
    cron_schedule="0 5 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every morning before marketing's send window: profiles to the ESP sync. Holds "
    "stop the push while an anomaly is unacknowledged.",
)
