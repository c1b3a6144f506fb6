"""BigQuery, through dagster-gcp's `BigQueryResource` (google-cloud-bigquery, imported lazily).

Every statement is a job, so writes are one load job into a staging table plus one statement.
Parameters are inlined as literals rendered by sqlglot (quoted and escaped there), which also
lets the local emulator run them (it accepts no query parameters). Loads go as Parquet load jobs;
the emulator takes CSV only (`load_format="CSV"`).
"""

import io
import logging
from contextlib import ExitStack
from dataclasses import dataclass

import polars as pl
import sqlglot
from sqlglot import exp

from email_data_platform.lib.warehouse.dialect import (
    create_table_sql,
    decode_json_columns,
    inline_parameters,
    insert_values_sql,
    json_columns,
)
from email_data_platform.lib.warehouse.names import check_table_name, split_table_name
from email_data_platform.lib.warehouse.staged import StagedWarehouse

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BigQuerySettings:
    project: str
    location: str | None = None
    gcp_credentials: str | None = None  # base64 service-account JSON; None = default credentials
    api_endpoint: str | None = None  # a local emulator; anonymous credentials then
    load_format: str = "PARQUET"  # or CSV, for the emulator


class BigQueryWarehouse(StagedWarehouse):
    dialect = "bigquery"
    keeps_decimal_scale = False  # every NUMERIC reads back as DECIMAL(38, 9)

    def __init__(self, settings: BigQuerySettings):
        self.settings = settings
        self._stack: ExitStack | None = None
        self._client = None

    def _connection(self):
        if self._client is None:
            s = self.settings
            self._stack = ExitStack()
            if s.api_endpoint:
                from google.auth.credentials import AnonymousCredentials
                from google.cloud import bigquery

                self._client = bigquery.Client(
                    project=s.project, location=s.location, credentials=AnonymousCredentials(),
                    client_options={"api_endpoint": s.api_endpoint})
            else:
                from dagster_gcp import BigQueryResource

                resource = BigQueryResource(project=s.project, location=s.location,
                                            gcp_credentials=s.gcp_credentials)
                self._client = self._stack.enter_context(resource.get_client())
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._stack is not None:
            self._stack.close()
        self._stack, self._client = None, None

    def query(self, sql: str, params: list | None = None) -> pl.DataFrame:
        return super().query(inline_parameters(sql, params) if params else sql)

    def execute(self, sql: str, params: list | None = None) -> None:
        super().execute(_dml_as_merge(inline_parameters(sql, params) if params else sql))

    def _run(self, statement: str, params: list | None) -> pl.DataFrame | None:
        job = self._connection().query(statement)
        table = job.result().to_arrow(create_bqstorage_client=False)
        if not table.num_columns:
            return None
        nested = [f.name for f in table.schema
                  if (f.metadata or {}).get(b"ARROW:extension:name") == b"google:sqlType:json"]
        return decode_json_columns(pl.from_arrow(_plain_types(table)), nested)

    def _ensure_schema(self, schema: str) -> None:
        self.execute(f"create schema if not exists {schema}")

    def delete_where(self, table: str, condition: str, params: list | None = None) -> None:
        """A MERGE that deletes the target rows matching `condition`: one job like DELETE, and
        the one form the local emulator runs (it has no DELETE statement)."""
        self.execute(f"merge into {check_table_name(table)} using (select 1 as one) as src"
                     f" on false when not matched by source and ({condition}) then delete", params)

    def _load(self, table: str, frame: pl.DataFrame) -> None:
        self._run(create_table_sql(table, frame.schema, self.dialect), None)
        if frame.height == 0:
            return
        if self.settings.load_format.upper() == "CSV":
            self._load_csv(table, frame)
            return
        self._load_parquet(table, json_columns(frame))

    def _load_csv(self, table: str, frame: pl.DataFrame) -> None:
        """The emulator's loads: CSV only, no quoted newlines, few timestamp spellings. Times go
        as text into a side table and are cast in SQL; rows with line breaks go as DML."""
        flat = json_columns(frame)
        multiline = pl.any_horizontal(
            [pl.col(n).str.contains("[\r\n]") for n, t in flat.schema.items() if t == pl.Utf8]
            or [pl.lit(False)]).fill_null(False)
        for statement in insert_values_sql(table, flat.filter(multiline)):
            self.execute(statement)
        times = [n for n, t in flat.schema.items() if isinstance(t, pl.Datetime)]
        text = flat.filter(~multiline).with_columns(pl.col(n).cast(pl.Utf8) for n in times)
        if text.height == 0:
            return
        side = f"{table}_text"
        self._run(create_table_sql(side, text.schema, self.dialect), None)
        try:
            self._load_file(side, text, "CSV")
            columns = ", ".join(
                f"cast({c} as {'timestamptz' if frame.schema[c].time_zone else 'timestamp'})"
                f" as {c}" if c in times else c for c in frame.columns)
            self.execute(f"insert into {table} select {columns} from {side}")
        finally:
            self.execute(f"drop table if exists {side}")

    def _load_parquet(self, table: str, frame: pl.DataFrame) -> None:
        self._load_file(table, frame, "PARQUET")

    def _load_file(self, table: str, frame: pl.DataFrame, source_format: str) -> None:
        from google.cloud import bigquery

        client = self._connection()
        destination = client.get_table(f"{self.settings.project}.{table}")
        data = io.BytesIO()
        if source_format == "CSV":
            # Empty strings are written quoted (""), NULLs as nothing: BigQuery tells them apart.
            frame.write_csv(data, quote_style="necessary", null_value="")
        else:
            frame.write_parquet(data)
        data.seek(0)
        config = bigquery.LoadJobConfig(
            schema=destination.schema, write_disposition="WRITE_APPEND",
            source_format=source_format, skip_leading_rows=1 if source_format == "CSV" else None)
        client.load_table_from_file(data, destination, job_config=config).result()

    def exists(self, table: str) -> bool:
        from google.api_core.exceptions import NotFound

        try:
            self._connection().get_table(f"{self.settings.project}.{table}")
        except NotFound:
            return False
        return bool(split_table_name(table))

    def table_columns(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for table, column, _ in self.column_catalogue().iter_rows():
            found.setdefault(table, []).append(column)
        return found

    def column_catalogue(self) -> pl.DataFrame:
        """From the API (datasets, tables, schemas): INFORMATION_SCHEMA is per dataset in
        BigQuery, and the local emulator has none."""
        client = self._connection()
        rows = []
        for dataset in client.list_datasets(self.settings.project):
            for schema_table in self.tables(dataset.dataset_id):
                table = client.get_table(f"{self.settings.project}.{schema_table}")
                rows += [(schema_table, field.name.lower(), field.field_type == "STRING")
                         for field in table.schema]
        return pl.DataFrame(rows, schema={"tbl": pl.Utf8, "col": pl.Utf8, "is_text": pl.Boolean},
                            orient="row").sort("tbl", maintain_order=True)

    def tables(self, schema: str) -> list[str]:
        from google.api_core.exceptions import NotFound

        split_table_name(f"{schema}.x")
        try:
            found = self._connection().list_tables(f"{self.settings.project}.{schema}")
            names = sorted(t.table_id for t in found if t.table_type in (None, "TABLE"))
        except NotFound:
            return []
        return [f"{schema}.{name}" for name in names]


def _dml_as_merge(sql: str) -> str:
    """A plain UPDATE or DELETE (DuckDB dialect) as the equivalent MERGE over no source rows:
    one job either way, and the form the local emulator runs (it has neither statement)."""
    trees = sqlglot.parse(sql, read="duckdb")
    if len(trees) != 1 or not isinstance(trees[0], exp.Update | exp.Delete):
        return sql
    tree = trees[0]
    if tree.args.get("from") or tree.args.get("using") or tree.args.get("returning"):
        return sql
    where = tree.args.get("where")
    condition = where.this.sql(dialect="duckdb") if where is not None else "true"
    target = tree.this.sql(dialect="duckdb")
    if isinstance(tree, exp.Update):
        sets = ", ".join(e.sql(dialect="duckdb") for e in tree.expressions)
        action = f"update set {sets}"
    else:
        action = "delete"
    return (f"merge into {target} using (select 1 as one) as src on false"
            f" when not matched by source and ({condition}) then {action}")


def _plain_types(table):
    """BigQuery tags DATETIME, JSON and GEOGRAPHY columns with Arrow extension types; keep the
    plain storage type so every engine's frames compare alike."""
    import pyarrow as pa

    columns = [pa.chunked_array([chunk.storage for chunk in column.chunks],
                                type=column.type.storage_type)
               if isinstance(column.type, pa.ExtensionType) else column
               for column in table.columns]
    return pa.Table.from_arrays(columns, names=table.column_names)
