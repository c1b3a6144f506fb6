"""Schedules, automation and freshness policies as the loaded Definitions carry them."""

from datetime import timedelta

import dagster as dg
import pytest

from email_data_platform.definitions import defs as load_defs


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return load_defs()


def selected(definitions, job_name: str) -> set[str]:
    job = definitions.resolve_job_def(job_name)
    return {key.to_user_string() for key in job.asset_layer.executable_asset_keys}


def test_hourly_pulls_and_daily_activation_start_on(definitions):
    schedules = {s.name: s for s in definitions.get_repository_def().schedule_defs}
    hourly, daily = schedules["sources_hourly"], schedules["profiles_to_activation_daily"]
    assert hourly.cron_schedule == "5 * * * *" and daily.cron_schedule == "0 5 * * *"
    assert hourly.default_status == dg.DefaultScheduleStatus.RUNNING
    assert daily.default_status == dg.DefaultScheduleStatus.RUNNING
    assert "identity_retrain_weekly" in schedules


def test_jobs_split_the_graph_at_the_sources(definitions):
    pulls = selected(definitions, "sources_job")
    activation = selected(definitions, "profiles_to_activation_job")
    assert pulls == {"sources/crm_contacts", "sources/crm_orders", "sources/esp_events",
                     "sources/consent_raw", "sources/crm_subscriptions"}
    assert not pulls & activation
    assert {"profiles/clean_profiles", "activation/esp_sync",
            "observability/reconciliation"} <= activation


def test_downstream_follows_upstream_where_declared_and_freshness_on_marketing_assets(
    definitions,
):
    graph = definitions.resolve_asset_graph()

    def node(name):
        return graph.get(dg.AssetKey(name.split("/")))

    for name in ["profiles/clean_profiles", "profiles/quarantine", "privacy/consent_ledger",
                 "observability/reconciliation"]:
        assert node(name).automation_condition is not None, name
    assert node("activation/esp_sync").automation_condition is None  # the push stays scheduled
    for name in ["audiences/marketable_audience", "audiences/segments",
                 "activation/esp_payload", "sources/crm_contacts"]:
        assert node(name).freshness_policy.fail_window.to_timedelta() == timedelta(hours=26), name
