"""Splink's incremental scoring SQL, recorded once per model and replayed.

Splink renders its SQL in Python on every prediction: settings parsed, every comparison and
blocking rule put through sqlglot, the input tables introspected. For a daily delta that is
~0.05 s of a ~0.7 s run, spent producing the same text each time, because the SQL depends only
on the model's settings (blocking rules included), the pair floor, the input tables' names and
columns, and the Splink and DuckDB versions. So training records the statements Splink
executes for the new model (as does any run that misses), and incremental runs execute them
on a fresh in-memory DuckDB fed the same two tables: the scores are Splink's, computed by
Splink's SQL. Anything that changes the SQL changes the key, which misses and records again.
"""

import hashlib
import json
import re
from datetime import UTC, datetime

import duckdb
import polars as pl
import pyarrow as pa
import splink
from splink import DuckDBAPI

# Splink materialises each step as `CREATE TABLE <physical name> AS ...`; only those matter
# on a fresh connection (its DROPs, PRAGMAs and information_schema reads are bookkeeping).
SCORED_COLUMNS = ("record_id_l", "record_id_r", "match_weight", "match_probability")
_CREATE = re.compile(r"^\s*CREATE TABLE (\S+) AS", re.IGNORECASE)


def scoring_key(settings: dict, threshold: float, tables: dict[str, list[str]]) -> str:
    """What the recorded SQL depends on: settings, floor, input names and columns, Splink
    (which writes it) and DuckDB (which must accept it)."""
    material = json.dumps({"settings": settings, "threshold": threshold, "tables": tables,
                           "splink": splink.__version__, "duckdb": duckdb.__version__},
                          sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()


class RecordingDuckDBAPI(DuckDBAPI):
    """Splink's DuckDB backend, keeping every table-creating statement it runs, in order."""

    def __init__(self, connection: duckdb.DuckDBPyConnection):
        super().__init__(connection=connection)
        self.statements: list[str] = []

    def _execute_sql_against_backend(self, final_sql: str):
        if _CREATE.match(final_sql):
            self.statements.append(final_sql)
        return super()._execute_sql_against_backend(final_sql)


def output_table(statements: list[str]) -> str:
    """The table the last statement creates: Splink's scored pairs."""
    found = _CREATE.match(statements[-1]) if statements else None
    if found is None:
        raise ValueError("recorded scoring SQL must end with a CREATE TABLE statement")
    return found.group(1)


def replay(statements: list[str], tables: dict[str, pa.Table], memory_limit: str) -> pa.Table:
    """Run recorded statements on a private in-memory DuckDB holding `tables`; return the
    scored pairs as arrow. The statements come from a table, so the connection has no access
    to files or other databases: they can only compute on the tables given."""
    con = duckdb.connect(config={"memory_limit": memory_limit,
                                 "preserve_insertion_order": False,
                                 "enable_external_access": False})
    try:
        for name, table in tables.items():
            con.register(name, table)
        for statement in statements:
            con.execute(statement)
        scored = con.execute(f"select * from {output_table(statements)}").to_arrow_table()
    finally:
        con.close()
    missing = set(SCORED_COLUMNS) - set(scored.column_names)
    if missing:
        raise ValueError(f"recorded scoring SQL returned no {sorted(missing)} columns")
    return scored


TABLE = "identity.scoring_sql"


class StoredStatements:
    """A `score_new_pairs` SQL cache in the warehouse (`identity.scoring_sql`), holding the
    current model's statements only: a retrained model's key misses and replaces them."""

    def __init__(self, warehouse):
        self.warehouse = warehouse

    def get(self, key: str) -> list[str] | None:
        # Read whole (one row) and filtered here: a parameterised query would import pandas.
        if not self.warehouse.exists(TABLE):
            return None
        for row in self.warehouse.read(TABLE).iter_rows(named=True):
            if row["key"] == key:
                return json.loads(row["statements"])
        return None

    def __setitem__(self, key: str, statements: list[str]) -> None:
        self.warehouse.write(TABLE, pl.DataFrame({
            "key": [key], "statements": [json.dumps(statements)],
            "splink_version": [splink.__version__], "recorded_at": [datetime.now(UTC)]}))
