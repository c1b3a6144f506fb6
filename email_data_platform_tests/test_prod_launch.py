"""EDP_ENV=prod: a launch against a real PostgreSQL server stores its runs there (with the prod
instance's retries, queue and pools), and the definitions refuse to load with a secret missing."""

import shutil
from pathlib import Path

import dagster as dg
import pytest

from email_data_platform.cli.run import materialise
from email_data_platform.cli.sandbox_process import sandbox_env
from email_data_platform.definitions import defs as load_defs
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.postgres_server import postgres_bin, running_postgres
from email_data_platform_tests.sandbox.sandbox_helpers import write_small_dataset

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(postgres_bin() is None, reason="PostgreSQL server binaries not installed"),
]


@pytest.fixture(scope="module")
def prod_env(tmp_path_factory):
    home = tmp_path_factory.mktemp("prod")
    data = write_small_dataset(home / "data", contacts=60)
    with running_postgres() as pg, running_sandbox(data, home / "journal.jsonl") as info:
        dagster_home = home / "dagster_home"
        dagster_home.mkdir()
        shutil.copy(ROOT / "dagster.prod.yaml", dagster_home / "dagster.yaml")
        yield sandbox_env(info) | {
            "EDP_ENV": "prod", "EDP_WAREHOUSE": "duckdb", "EDP_HOME": str(home),
            "EDP_WAREHOUSE_PATH": str(home / "warehouse.duckdb"), "DAGSTER_HOME": str(dagster_home),
            "DAGSTER_PG_USERNAME": str(pg["username"]),
            "DAGSTER_PG_PASSWORD": pg["password"] or "trust-auth-ignores-it",
            "DAGSTER_PG_HOST": str(pg["host"]), "DAGSTER_PG_PORT": str(pg["port"]),
            "DAGSTER_PG_DB": str(pg["db_name"]), "EDP_ALERT_WEBHOOK_URL": "",
            "EDP_PSEUDONYM_KEYS": "p1=" + "p" * 32, "EDP_AUDIT_KEYS": "a1=" + "a" * 32,
            "EDP_PII_KEYS": "c1=" + "A" * 43 + "=",
        }


def set_env(monkeypatch, values: dict[str, str]) -> None:
    for key, value in values.items():
        monkeypatch.setenv(key, value)


def test_a_prod_launch_stores_its_run_in_postgres(prod_env, monkeypatch):
    set_env(monkeypatch, prod_env)
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        result, _ = materialise("key:sources/consent_raw", instance)
        assert result.success
    with dg.DagsterInstance.get() as another_process:  # e.g. the webserver
        assert result.run_id in [run.run_id for run in another_process.get_runs()]


@pytest.mark.parametrize("secret", ["HUBSPOT_ACCESS_TOKEN", "DAGSTER_PG_PASSWORD",
                                    "SALESFORCE_CLIENT_SECRET"])
def test_prod_refuses_to_start_with_a_secret_missing(prod_env, monkeypatch, secret):
    set_env(monkeypatch, prod_env)
    monkeypatch.delenv(secret)
    with pytest.raises(Exception) as refused:  # noqa: B017 - Dagster wraps the cause
        load_defs()
    cause = refused.value.__cause__ or refused.value
    assert "refuses to start" in str(cause) and secret in str(cause)
