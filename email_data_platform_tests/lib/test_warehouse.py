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
