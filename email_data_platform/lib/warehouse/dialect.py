"""The one place where SQL dialects differ: statements are written once, in DuckDB's dialect,
and translated with sqlglot for Snowflake and BigQuery; polars types map to column types here.

Snowflake folds unquoted identifiers to upper case, so every identifier is written upper case
and quoted there: `"K"` and an unquoted `k` then name the same column, and reserved words
(`rows`, `cursor`) stay usable as column names.
"""

import datetime as dt
import json
from functools import lru_cache

import polars as pl
import sqlglot
from sqlglot import exp

DIALECTS = ("duckdb", "snowflake", "bigquery")


@lru_cache(maxsize=2048)
def translate(sql: str, dialect: str) -> list[str]:
    """`sql` (DuckDB dialect, `?` placeholders) as statements of `dialect`."""
    if dialect == "duckdb":
        return [sql]
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; expected one of {DIALECTS}")
    statements = []
    for tree in sqlglot.parse(sql, read="duckdb"):
        if tree is None:
            continue
        tree = tree.transform(_expand_all)
        if dialect == "snowflake":
            for ident in tree.find_all(exp.Identifier):
                ident.set("this", ident.name.upper())
                ident.set("quoted", True)
        statements.append(tree.sql(dialect=dialect))
    return statements


def _expand_all(node: exp.Expression) -> exp.Expression:
    """DuckDB's GROUP BY ALL and ORDER BY ALL as select-list positions, which every engine
    reads alike (GROUP BY ALL: the positions of the expressions without an aggregate)."""
    if not isinstance(node, exp.Select):
        return node
    columns = node.expressions
    group = node.args.get("group")
    if group is not None and group.args.get("all"):
        keys = [exp.Literal.number(i) for i, c in enumerate(columns, 1)
                if not c.find(exp.AggFunc)]
        node.set("group", exp.Group(expressions=keys) if keys else None)
    order = node.args.get("order")
    if order is not None and len(order.expressions) == 1:
        only = order.expressions[0]
        if isinstance(only.this, exp.Var) and only.this.name.upper() == "ALL":
            node.set("order", exp.Order(expressions=[
                exp.Ordered(this=exp.Literal.number(i), desc=only.args.get("desc"),
                            nulls_first=only.args.get("nulls_first"))
                for i in range(1, len(columns) + 1)]))
    return node


def duckdb_type(dtype: pl.DataType) -> str:
    """The DuckDB column type of a polars dtype; nested types are stored as JSON text."""
    if dtype == pl.Utf8 or dtype == pl.Categorical or isinstance(dtype, pl.Enum):
        return "VARCHAR"
    if dtype == pl.Boolean:
        return "BOOLEAN"
    if dtype.is_integer():
        return "BIGINT"
    if dtype.is_float():
        return "DOUBLE"
    if isinstance(dtype, pl.Decimal):
        return f"DECIMAL({dtype.precision or 38}, {dtype.scale or 0})"
    if dtype == pl.Date:
        return "DATE"
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ" if dtype.time_zone else "TIMESTAMP"
    if dtype == pl.Time:
        return "TIME"
    if dtype == pl.Null:
        return "VARCHAR"
    if isinstance(dtype, pl.List | pl.Array | pl.Struct):
        return "JSON"
    raise TypeError(f"no warehouse column type for polars dtype {dtype}")


def create_table_sql(table: str, schema: pl.Schema, dialect: str) -> str:
    """`create or replace table` with the frame's columns, in `dialect`."""
    if dialect == "bigquery":
        # BigQuery's NUMERIC is DECIMAL(38, 9); a parameterised NUMERIC(p, s) only constrains
        # writes (and the emulator refuses it), so decimals keep their scale in the frame.
        columns = ", ".join(f"`{name}` {_bigquery_type(dtype)}" for name, dtype in schema.items())
        return f"CREATE OR REPLACE TABLE {table} ({columns})"
    columns = ", ".join(f'"{name}" {duckdb_type(dtype)}' for name, dtype in schema.items())
    (statement,) = translate(f"create or replace table {table} ({columns})", dialect)
    return statement


def _bigquery_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Decimal):
        return "NUMERIC"
    return exp.DataType.build(duckdb_type(dtype), dialect="duckdb").sql("bigquery")


def json_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Nested columns as JSON text, for engines loaded row by row or from flat files."""
    nested = [n for n, t in frame.schema.items() if isinstance(t, pl.List | pl.Array | pl.Struct)]
    if not nested:
        return frame
    return frame.with_columns(pl.col(n).map_elements(_to_json, return_dtype=pl.Utf8)
                              for n in nested)


def decode_json_columns(frame: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """Nested columns stored as JSON (Snowflake VARIANT, BigQuery JSON) back as polars lists
    and structs, with the type their values show (an all-null column stays Null-typed)."""
    if not names:
        return frame
    return frame.with_columns(frame[n].str.json_decode(infer_schema_length=None) for n in names)


def _to_json(value) -> str:
    return json.dumps(value.to_list() if hasattr(value, "to_list") else value, default=str)


def inline_parameters(sql: str, params: list) -> str:
    """`?` placeholders replaced by literals, in order (DuckDB dialect in and out).

    sqlglot renders and escapes each literal, so a value never changes the statement's shape.
    """
    values = iter(params)
    (tree,) = sqlglot.parse(sql, read="duckdb")

    def substitute(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder):
            return _literal(next(values))
        return node

    return tree.transform(substitute).sql(dialect="duckdb")


def _literal(value) -> exp.Expression:
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    if isinstance(value, dt.datetime):
        kind = "TIMESTAMPTZ" if value.tzinfo else "TIMESTAMP"
        return exp.cast(exp.Literal.string(value.isoformat()), kind)
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    return exp.Literal.string(str(value))


def insert_values_sql(table: str, frame: pl.DataFrame, rows_per_statement: int = 500) -> list[str]:
    """`insert into table (...) values (...), ...` statements (DuckDB dialect) holding the rows
    as literals, for engines reached without a bulk loader (the BigQuery emulator)."""
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    flat = json_columns(frame)
    statements = []
    for start in range(0, flat.height, rows_per_statement):
        values = exp.Values(expressions=[
            exp.Tuple(expressions=[_literal(v) for v in row])
            for row in flat.slice(start, rows_per_statement).iter_rows()])
        statements.append(f"insert into {table} ({columns}) {values.sql(dialect='duckdb')}")
    return statements
