"""Column types a cloud warehouse does not give back by itself, kept in a small catalog table.

Snowflake stores every integer as NUMBER(38, 0) and BigQuery as INT64, BigQuery reads every
NUMERIC as DECIMAL(38, 9), and nested values come back as JSON whose element type is only
inferred. A frame written with an Int8 score, a Decimal(18, 2) amount or a List(String) of tags
must read back with those types, as it does on DuckDB, or the pandera models that guard each
table fail. So the staged warehouses record, per table and column, the polars type of columns
they cannot keep (`edp_catalog.declared_types`), and `read()` casts them back. Only columns
that need it get a row, and the catalog is written only when a table's declarations change.
"""

import re

import polars as pl

DECLARED_TYPES = "edp_catalog.declared_types"

_SIMPLE = {str(t): t for t in (
    pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64,
    pl.Float32, pl.Float64, pl.Utf8, pl.Boolean, pl.Date, pl.Time, pl.Null)}
_DECIMAL = re.compile(r"^Decimal\(precision=(\d+), scale=(\d+)\)$")
_DATETIME = re.compile(r"^Datetime\(time_unit='(ms|us|ns)', time_zone=(None|'[A-Za-z0-9_/+-]+')\)$")
_LIST = re.compile(r"^List\((.+)\)$")


def needs_declaring(dtype: pl.DataType, keeps_decimal_scale: bool) -> bool:
    """Whether the engine would read `dtype` back as another type."""
    if dtype in (pl.Int64, pl.Float64, pl.Utf8, pl.Boolean, pl.Date, pl.Null):
        return False
    if isinstance(dtype, pl.Datetime):
        return dtype.time_unit != "us"
    if isinstance(dtype, pl.Decimal):
        return not keeps_decimal_scale and (dtype.precision, dtype.scale) != (38, 9)
    return parse_dtype(str(dtype)) is not None  # the types we can name and cast back


def parse_dtype(text: str) -> pl.DataType | None:
    """The polars type spelled `text` (str(dtype)), or None for one we do not cast back."""
    if text in _SIMPLE:
        return _SIMPLE[text]
    if found := _DECIMAL.match(text):
        return pl.Decimal(int(found[1]), int(found[2]))
    if found := _DATETIME.match(text):
        zone = None if found[2] == "None" else found[2].strip("'")
        return pl.Datetime(found[1], zone)
    if found := _LIST.match(text):
        inner = parse_dtype(found[1])
        return pl.List(inner) if inner is not None else None
    return None


def declarations(frame: pl.DataFrame, keeps_decimal_scale: bool) -> dict[str, str]:
    """{column: spelled type} for every column of `frame`; "" where the engine keeps it."""
    return {name: str(dtype) if needs_declaring(dtype, keeps_decimal_scale) else ""
            for name, dtype in frame.schema.items()}


def cast_declared(frame: pl.DataFrame, declared: dict[str, str]) -> pl.DataFrame:
    """`frame` with declared columns cast back to their types."""
    casts = {}
    for column, spelled in declared.items():
        dtype = parse_dtype(spelled) if spelled else None
        if dtype is not None and column in frame.columns and frame.schema[column] != dtype:
            casts[column] = dtype
    return frame.cast(casts) if casts else frame
