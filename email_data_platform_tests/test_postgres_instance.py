"""Dagster's production storage (dagster.prod.yaml) against a real PostgreSQL server."""

import shutil
from pathlib import Path

import dagster as dg
import pytest

from email_data_platform_tests.postgres_server import postgres_bin, running_postgres

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(postgres_bin() is None, reason="PostgreSQL server binaries not installed"),
]


@dg.asset
def tiny_audience() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"dagster/row_count": 3})


@dg.asset_check(asset=tiny_audience)
def tiny_audience_not_empty() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


def test_runs_events_and_checks_persist_in_postgres(tmp_path, monkeypatch):
    with running_postgres() as pg:
        home = tmp_path / "dagster_home"
        home.mkdir()
        shutil.copy(ROOT / "dagster.prod.yaml", home / "dagster.yaml")
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        for key in ("username", "password", "host", "port", "db_name"):
            name = "HOST" if key == "host" else key.upper().replace("DB_NAME", "DB")
            monkeypatch.setenv(f"DAGSTER_PG_{name}", str(pg[key]))
        with dg.DagsterInstance.get() as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            result = dg.materialize([tiny_audience, tiny_audience_not_empty], instance=instance)
            assert result.success
        # a second instance (another process in production) sees the same history
        with dg.DagsterInstance.get() as instance:
            runs = instance.get_runs()
            assert [run.run_id for run in runs] == [result.run_id]
            records = instance.fetch_materializations(tiny_audience.key, limit=5).records
            assert records[0].asset_materialization.metadata["dagster/row_count"].value == 3
            check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
                [tiny_audience_not_empty.check_key]
            )
            assert check[tiny_audience_not_empty.check_key].status.value == "SUCCEEDED"
