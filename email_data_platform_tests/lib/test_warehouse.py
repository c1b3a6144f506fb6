import polars as pl
import pytest

from email_data_platform.lib.warehouse import DuckDBWarehouse


@pytest.fixture
def warehouse(tmp_path):
    wh = DuckDBWarehouse(tmp_path / "wh.duckdb")
    yield wh
    wh.close()


def test_replace_then_append(warehouse):
    warehouse.write("stage.t", pl.DataFrame({"k": [1, 2]}))
    warehouse.write("stage.t", pl.DataFrame({"k": [3]}), mode="append")
    assert warehouse.read("stage.t")["k"].sort().to_list() == [1, 2, 3]
    warehouse.write("stage.t", pl.DataFrame({"k": [9]}))
    assert warehouse.read("stage.t")["k"].to_list() == [9]


def test_empty_frame_still_creates_table_with_columns(warehouse):
    warehouse.write("stage.empty", pl.DataFrame(schema={"a": pl.Utf8, "b": pl.Int64}))
    assert warehouse.exists("stage.empty")
    assert warehouse.read("stage.empty").schema == pl.Schema({"a": pl.Utf8, "b": pl.Int64})


def test_upsert_replaces_by_key_and_lands_each_record_once(warehouse):
    batch = pl.DataFrame({"id": ["a", "b"], "v": [1, 2]})
    warehouse.upsert("stage.u", batch, key=["id"])
    warehouse.upsert("stage.u", batch, key=["id"])  # a re-run of the same batch
    warehouse.upsert("stage.u", pl.DataFrame({"id": ["b", "c"], "v": [20, 3]}), key=["id"])
    assert warehouse.read("stage.u").sort("id").rows() == [("a", 1), ("b", 20), ("c", 3)]


def test_upsert_refuses_duplicate_keys_in_one_batch(warehouse):
    with pytest.raises(ValueError, match="repeat the key"):
        warehouse.upsert("stage.u", pl.DataFrame({"id": ["a", "a"]}), key=["id"])


def test_failed_write_leaves_previous_table_intact(warehouse):
    warehouse.write("stage.t", pl.DataFrame({"k": [1]}))
    with pytest.raises(Exception):  # noqa: B017 - any DuckDB error will do
        warehouse.write("stage.t", pl.DataFrame({"other": [2]}), mode="append")
    assert warehouse.read("stage.t")["k"].to_list() == [1]


@pytest.mark.parametrize("name", ["nodot", "a.b.c", "A.b", "a.b; drop table x", "a.b--"])
def test_table_names_are_checked_before_reaching_sql(warehouse, name):
    with pytest.raises(ValueError, match="schema.table"):
        warehouse.read(name)


def _cached_mb(wh: DuckDBWarehouse) -> int:
    with wh.connection() as con:
        query = "select sum(memory_usage_bytes) >> 20 from duckdb_memory()"
        return con.execute(query).fetchone()[0]


def test_release_memory_gives_back_the_cache_and_keeps_the_connection(tmp_path):
    wh = DuckDBWarehouse(tmp_path / "w.duckdb")
    wh.execute("create schema s")
    wh.execute("create table s.big as select range as id, md5(range::varchar) as h"
               " from range(6000000)")
    wh.query("select h, count(*) from s.big group by h order by h limit 1")
    cached = _cached_mb(wh)
    assert cached > 64  # DuckDB keeps what it read
    before = wh._con
    wh.release_memory()
    assert wh._con is before  # the same connection, so the file lock stays with the run
    assert _cached_mb(wh) < cached / 2
    assert wh.query("select current_setting('memory_limit') as m")["m"].item() != "32.0 MiB"
    assert wh.row_count("s.big") == 6_000_000
