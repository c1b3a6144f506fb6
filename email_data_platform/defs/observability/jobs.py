"""Jobs and schedules. Which schedules start on, and why, is in the README ("Schedules")."""

import pkgutil

import dagster as dg

import email_data_platform.defs as defs_package
from email_data_platform.defs.warehouse import RELEASE_WAREHOUSE_MEMORY

SOURCES = dg.AssetSelection.groups("sources")

main_job = dg.define_asset_job(
    "main_job",
    selection=dg.AssetSelection.all(),
    description="Everything: pull sources, rebuild profiles, entities, consent and audiences, "
    "sync the ESP, reconcile (what `edp run` materialises).",
    tags={"stage": "all"},
    hooks=RELEASE_WAREHOUSE_MEMORY,  # steps share the run's process: each gives back its cache
)

# The same graph with each step in a process of its own, one at a time (the steps share one
# DuckDB file, which takes one writer): a step's memory is returned when it ends instead of
# staying with the run. Steps fork from a server that imported every defs module once; a fresh
# interpreter per step cost ~14 s a step on a loaded 2-core machine. For large runs.
CODE_MODULES = ["email_data_platform.definitions", *(
    module.name for module in pkgutil.walk_packages(defs_package.__path__,
                                                    "email_data_platform.defs."))]
main_job_step_processes = dg.define_asset_job(
    "main_job_step_processes",
    selection=main_job.selection,
    description="main_job with every step in its own process, one at a time: memory bounded "
    "by the largest step, not by the run (`edp run --step-processes`).",
    tags=main_job.tags,
    executor_def=dg.multiprocess_executor.configured({
        "max_concurrent": 1,
        "start_method": {"forkserver": {"preload_modules": CODE_MODULES}},
    }),
)

sources_job = dg.define_asset_job(
    "sources_job",
    selection=SOURCES,
    description="Incremental pulls from every CRM, ESP and the consent platform, each from its "
    "cursor, with the sources' checks (anomalies open holds).",
    tags={"stage": "sources"},
    hooks=RELEASE_WAREHOUSE_MEMORY,
)

profiles_to_activation_job = dg.define_asset_job(
    "profiles_to_activation_job",
    selection=dg.AssetSelection.all() - SOURCES,
    description="From what the pulls landed: profiles, identity (incremental), consent, "
    "audiences, the ESP payload and sync, reconciliation.",
    tags={"stage": "profiles_to_activation"},
    hooks=RELEASE_WAREHOUSE_MEMORY,
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
