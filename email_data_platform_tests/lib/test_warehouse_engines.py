"""Every intent-level warehouse operation, on DuckDB, fakesnow's server and the BigQuery emulator.

The same assertions for each engine: a write means the same thing wherever the tables live.
Snowflake and BigQuery start local servers, so they are slow-marked (CI runs them).
"""

import datetime as dt

import polars as pl
import pytest

from email_data_platform.lib.warehouse import (
    TableWrite,
    Warehouse,
    local_workspace,
    open_warehouse,
)
from email_data_platform_tests.warehouse_servers import (
    bigquery_emulator_settings,
    fakesnow_settings,
)


@pytest.fixture(scope="module")
def snowflake_settings():
    with fakesnow_settings() as settings:
        yield settings


@pytest.fixture(scope="module")
def bigquery_settings():
    with bigquery_emulator_settings() as settings:
        yield settings


@pytest.fixture(params=["duckdb", pytest.param("snowflake", marks=pytest.mark.slow),
                        pytest.param("bigquery", marks=pytest.mark.slow)])
def warehouse(request, tmp_path) -> Warehouse:
    if request.param == "duckdb":
        wh = open_warehouse("duckdb", duckdb_path=tmp_path / "wh.duckdb")
    elif request.param == "snowflake":
        wh = open_warehouse("snowflake", snowflake=request.getfixturevalue("snowflake_settings"))
    else:
        wh = open_warehouse("bigquery", bigquery=request.getfixturevalue("bigquery_settings"))
    # Each test gets its own schema: the servers live for the whole module.
    wh.test_schema = f"t_{request.node.name.split('[')[0][5:30]}"
    yield wh
    wh.close()


def name(wh, table: str) -> str:
    return f"{wh.test_schema}.{table}"


PEOPLE = pl.DataFrame({
    "id": ["a", "b", "c"],
    "score": [1, 2, 3],
    "ratio": [0.5, None, 1.5],
    "active": [True, False, None],
    "born": [dt.date(1990, 1, 2), None, dt.date(2001, 12, 31)],
    "seen_at": [dt.datetime(2026, 1, 1, 8, 30, 15, 123456), dt.datetime(2026, 2, 1), None],
    "note": ["it's", None, ""],
})


def test_replace_round_trips_types_and_nulls(warehouse):
    table = name(warehouse, "people")
    assert warehouse.replace(table, PEOPLE) == 3
    back = warehouse.read(table).sort("id")
    assert back.schema == PEOPLE.schema
    assert back.drop("note").equals(PEOPLE.drop("note"))
    assert back["note"].to_list()[0] == "it's"


def test_replace_swaps_the_whole_table(warehouse):
    table = name(warehouse, "t")
    warehouse.replace(table, pl.DataFrame({"k": [1, 2]}))
    warehouse.replace(table, pl.DataFrame({"k": [9], "extra": ["x"]}))
    assert warehouse.read(table).rows() == [(9, "x")]


def test_empty_frame_creates_table_with_columns(warehouse):
    table = name(warehouse, "empty")
    warehouse.replace(table, pl.DataFrame(schema={"a": pl.Utf8, "b": pl.Int64}))
    assert warehouse.exists(table)
    assert warehouse.read(table).schema == pl.Schema({"a": pl.Utf8, "b": pl.Int64})
    assert warehouse.row_count(table) == 0


def test_append_matches_columns_by_name_and_creates_when_missing(warehouse):
    table = name(warehouse, "log")
    assert not warehouse.exists(table)
    warehouse.append(table, pl.DataFrame({"k": [1], "v": ["a"]}))
    warehouse.append(table, pl.DataFrame({"v": ["b"], "k": [2]}))
    assert warehouse.read(table).sort("k").rows() == [(1, "a"), (2, "b")]


def test_upsert_merges_by_key_and_lands_each_record_once(warehouse):
    table = name(warehouse, "u")
    batch = pl.DataFrame({"id": ["a", "b"], "v": [1, 2]})
    warehouse.upsert(table, batch, key=["id"])
    warehouse.upsert(table, batch, key=["id"])  # a re-run of the same batch
    warehouse.upsert(table, pl.DataFrame({"id": ["b", "c"], "v": [20, 3]}), key=["id"])
    assert warehouse.read(table).sort("id").rows() == [("a", 1), ("b", 20), ("c", 3)]


def test_upsert_refuses_duplicate_keys_in_one_batch(warehouse):
    with pytest.raises(ValueError, match="repeat the key"):
        warehouse.upsert(name(warehouse, "u"), pl.DataFrame({"id": ["a", "a"]}), key=["id"])


def test_delete_where_and_query_take_parameters(warehouse):
    table = name(warehouse, "cursors")
    warehouse.replace(table, pl.DataFrame({"source": ["hubspot", "hubspot", "sf"],
                                           "object": ["contacts", "deals", "contacts"],
                                           "cursor": [1, 2, 3]}))
    warehouse.delete_where(table, "source = ? and object = ?", ["hubspot", "deals"])
    found = warehouse.query(f"select cursor, count(*) as rows from {table} where source = ?"
                            " group by all", ["hubspot"])
    assert found.rows() == [(1, 1)]


def test_query_on_empty_result_keeps_columns(warehouse):
    table = name(warehouse, "e")
    warehouse.replace(table, pl.DataFrame({"k": [1], "v": ["x"]}))
    found = warehouse.query(f"select k, v from {table} where k = ?", [42])
    assert found.height == 0 and found.columns == ["k", "v"]


@pytest.mark.parametrize("bad", ["nodot", "a.b.c", "A.b", "a.b; drop table x", "a.b--"])
def test_table_names_are_checked_before_reaching_sql(warehouse, bad):
    with pytest.raises(ValueError, match="schema.table"):
        warehouse.read(bad)


def test_tables_lists_a_schemas_base_tables(warehouse):
    schema = warehouse.test_schema
    assert warehouse.tables(schema) == []
    for table in ("b", "a"):
        warehouse.replace(f"{schema}.{table}", pl.DataFrame({"k": [1]}))
    assert warehouse.tables(schema) == [f"{schema}.a", f"{schema}.b"]


def test_nested_and_decimal_columns_read_back_as_written(warehouse):
    table = name(warehouse, "typed")
    frame = pl.DataFrame({
        "id": ["a", "b"], "tags": [["x", "y"], None],
        "amount": pl.Series([12.5, None]).cast(pl.Decimal(18, 2)),
    })
    warehouse.replace(table, frame)
    assert warehouse.read(table).sort("id").equals(frame)


def test_local_workspace_publishes_what_changed_and_nothing_on_failure(warehouse):
    schema = warehouse.test_schema
    warehouse.replace(f"{schema}.kept", pl.DataFrame({"k": [1]}))
    warehouse.replace(f"{schema}.gone", pl.DataFrame({"k": [1]}))
    warehouse.replace(f"{schema}_in.source", pl.DataFrame({"k": [1, 2]}))
    with local_workspace(warehouse, read=[f"{schema}_in.source"],
                         publish_schemas=[schema]) as local, local.transaction([schema]) as con:
        con.execute(f"create table {schema}.made as select k * 10 as k from {schema}_in.source")
        con.execute(f"drop table {schema}.gone")
    assert warehouse.tables(schema) == [f"{schema}.kept", f"{schema}.made"]
    assert warehouse.read(f"{schema}.made").sort("k")["k"].to_list() == [10, 20]
    if warehouse.dialect == "duckdb":
        return  # the workspace is the warehouse itself: each write commits on its own
    with pytest.raises(RuntimeError), local_workspace(warehouse, publish_schemas=[schema]) as local:
        local.replace(f"{schema}.kept", pl.DataFrame({"k": [2]}))
        raise RuntimeError("the step failed")
    assert warehouse.read(f"{schema}.kept")["k"].to_list() == [1]


def test_insert_missing_adds_only_new_keys_and_counts_them(warehouse):
    table = name(warehouse, "events")
    assert warehouse.insert_missing(table, pl.DataFrame({"id": ["a"], "v": [1]}), ["id"]) == 1
    batch = pl.DataFrame({"id": ["a", "b"], "v": [99, 2]})
    assert warehouse.insert_missing(table, batch, ["id"]) == 1
    assert warehouse.read(table).sort("id").rows() == [("a", 1), ("b", 2)]  # a kept as stored


def test_write_together_replaces_appends_upserts_and_evolves(warehouse):
    state, log, snap = name(warehouse, "state"), name(warehouse, "log"), name(warehouse, "snap")
    warehouse.replace(state, pl.DataFrame({"id": ["a", "b"], "v": [1, 2]}))
    warehouse.replace(snap, pl.DataFrame({"k": [1, 2, 3]}))
    warehouse.write_together([
        TableWrite(state, pl.DataFrame({"id": ["b", "c"], "v": [20, 3], "tag": ["x", "y"]}),
                   mode="upsert", key=("id",)),
        TableWrite(log, pl.DataFrame({"id": ["b"], "n": [1]}), mode="append"),
        TableWrite(snap, pl.DataFrame({"k": [9]})),
    ], evolve=True)
    assert warehouse.read(state).sort("id").rows() == [("a", 1, None), ("b", 20, "x"),
                                                         ("c", 3, "y")]
    assert warehouse.read(log).rows() == [("b", 1)]
    assert warehouse.read(snap).rows() == [(9,)]
    warehouse.replace_many({snap: pl.DataFrame({"k": ["now text"]}), log: log_frame()})
    assert warehouse.read(snap).rows() == [("now text",)]
    assert not [t for t in warehouse.tables(warehouse.test_schema) if "staging" in t]


def log_frame() -> pl.DataFrame:
    return pl.DataFrame({"id": ["z"], "n": [5]})


def test_small_integers_and_other_declared_types_read_back_as_written(warehouse):
    table = name(warehouse, "scores")
    frame = pl.DataFrame({"id": ["a", "b"], "score": pl.Series([1, None], dtype=pl.Int8),
                          "n": pl.Series([3, 4], dtype=pl.UInt32),
                          "tags": pl.Series([None, None], dtype=pl.List(pl.Utf8))})
    warehouse.replace(table, frame)
    assert warehouse.read(table).sort("id").equals(frame)
    warehouse.replace(table, frame.with_columns(pl.col("score").cast(pl.Int64)))
    assert warehouse.read(table).schema["score"] == pl.Int64  # a declaration is withdrawn


def test_group_by_all_and_order_by_all_run_everywhere(warehouse):
    table = name(warehouse, "receipts")
    warehouse.replace(table, pl.DataFrame({"action": ["b", "a", "b"], "status": ["ok"] * 3}))
    found = warehouse.query(f"select action, status, count(*) as rows from {table}"
                            " group by all order by all")
    assert found.rows() == [("a", "ok", 1), ("b", "ok", 2)]


def test_table_columns_names_every_tables_columns_in_order(warehouse):
    table = name(warehouse, "cols")
    warehouse.replace(table, pl.DataFrame({"b": [1], "a": ["x"]}))
    assert warehouse.table_columns()[table] == ["b", "a"]


def test_update_and_delete_statements_run_everywhere(warehouse):
    table = name(warehouse, "requests")
    warehouse.replace(table, pl.DataFrame({"id": ["a", "b", "c"], "status": ["pending"] * 3}))
    warehouse.execute(f"update {table} set status = ? where id in (?, ?)", ["done", "a", "b"])
    warehouse.execute(f"delete from {table} where id = ?", ["b"])
    assert warehouse.read(table).sort("id").rows() == [("a", "done"), ("c", "pending")]


def test_write_together_is_all_or_nothing_where_the_engine_has_transactions(warehouse):
    if warehouse.dialect == "bigquery":
        pytest.skip("each statement commits alone on BigQuery (documented)")
    first, second = name(warehouse, "first"), name(warehouse, "second")
    warehouse.replace(first, pl.DataFrame({"k": [1]}))
    warehouse.replace(second, pl.DataFrame({"n": [1]}))
    with pytest.raises(Exception):  # noqa: B017 - each engine names its conversion error
        warehouse.write_together([
            TableWrite(first, pl.DataFrame({"k": [2]})),
            TableWrite(second, pl.DataFrame({"n": ["not a number"]}), mode="append"),
        ])
    assert warehouse.read(first).rows() == [(1,)]
    assert warehouse.read(second).rows() == [(1,)]


def test_local_workspace_only_copies_and_publishes_the_named_tables(warehouse):
    schema = warehouse.test_schema
    warehouse.replace(f"{schema}.used", pl.DataFrame({"k": [1]}))
    warehouse.replace(f"{schema}.other", pl.DataFrame({"k": [1]}))
    with local_workspace(warehouse, publish_schemas=[schema], only=[f"{schema}.used"]) as local:
        if warehouse.dialect != "duckdb":
            assert local.tables(schema) == [f"{schema}.used"]
        local.replace(f"{schema}.used", pl.DataFrame({"k": [2]}))
    assert warehouse.read(f"{schema}.used")["k"].to_list() == [2]
    assert warehouse.read(f"{schema}.other")["k"].to_list() == [1]


def test_query_in_parts_covers_every_row_once_and_keeps_a_key_together(warehouse):
    # keys repeat (a key's rows must share a part), mix case and digits (collations differ
    # between engines) and include nulls
    keys = [None, "b", "B", "a", "a", "10", "9", "b", "zz", None, "a", "Z"] * 3
    frame = pl.DataFrame({"k": keys, "row": list(range(len(keys)))})
    warehouse.replace(name(warehouse, "keyed"), frame)
    select = f"select k, row from {name(warehouse, 'keyed')}"
    parts = list(warehouse.query_in_parts(select, "k", part_rows=5))
    assert len(parts) > 2
    rows = pl.concat(parts)
    assert sorted(rows["row"].to_list()) == frame["row"].to_list()
    part_of = pl.concat([p.with_columns(part=pl.lit(i)) for i, p in enumerate(parts)])
    assert part_of.group_by("k").agg(pl.col("part").n_unique())["part"].max() == 1
    whole = list(warehouse.query_in_parts(select, "k", part_rows=len(keys)))
    assert len(whole) == 1 and whole[0].height == len(keys)
