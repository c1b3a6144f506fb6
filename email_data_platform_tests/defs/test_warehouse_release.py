"""Between the steps of a run, the embedded warehouse gives back what DuckDB cached."""

import dagster as dg

from email_data_platform.defs.observability.jobs import (
    main_job,
    profiles_to_activation_job,
    sources_job,
)
from email_data_platform.defs.warehouse import RELEASE_WAREHOUSE_MEMORY, WarehouseResource

CACHED = "select sum(memory_usage_bytes) >> 20 from duckdb_memory()"


@dg.asset
def reads_a_large_table(warehouse: WarehouseResource) -> dg.MaterializeResult:
    wh = warehouse.get()
    wh.execute("create schema if not exists s")
    wh.execute("create or replace table s.big as select range as id, md5(range::varchar) as h"
               " from range(6000000)")
    wh.query("select h, count(*) from s.big group by h order by h limit 1")
    with wh.connection() as con:
        return dg.MaterializeResult(metadata={"cached_mb": con.execute(CACHED).fetchone()[0]})


@dg.asset(deps=[reads_a_large_table])
def runs_next(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.get().connection() as con:
        return dg.MaterializeResult(metadata={"cached_mb": con.execute(CACHED).fetchone()[0]})


def _cached_at_each_step(tmp_path, hooks) -> list[int]:
    job = dg.define_asset_job("two_steps", hooks=hooks)
    defs = dg.Definitions(assets=[reads_a_large_table, runs_next], jobs=[job],
                          resources={"warehouse": WarehouseResource(
                              path=str(tmp_path / "w.duckdb"))})
    result = defs.resolve_job_def("two_steps").execute_in_process()
    return [result.asset_materializations_for_node(name)[0].metadata["cached_mb"].value
            for name in ("reads_a_large_table", "runs_next")]


def test_the_next_step_starts_without_the_cache_of_the_one_before(tmp_path):
    first, second = _cached_at_each_step(tmp_path, RELEASE_WAREHOUSE_MEMORY)
    assert first > 64 and second < first / 2
    # without the hooks the cache stays for the rest of the run
    first, second = _cached_at_each_step(tmp_path / "without", set())
    assert second > first / 2


def test_the_jobs_that_run_steps_in_one_process_release_between_steps():
    for job in (main_job, sources_job, profiles_to_activation_job):
        assert set(job.hooks) >= RELEASE_WAREHOUSE_MEMORY, job.name
