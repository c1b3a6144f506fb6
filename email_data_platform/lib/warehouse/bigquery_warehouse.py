"""BigQuery, through dagster-gcp's `BigQueryResource` (google-cloud-bigquery, imported lazily).

Every statement is a job, so writes are one load job into a staging table plus one statement.
Parameters are inlined as literals rendered by sqlglot (quoted and escaped there), which also
lets the local emulator run them (it accepts no query parameters). Loads go as Parquet; the
emulator only takes CSV (`load_format="CSV"`).
"""

import io
import logging
from contextlib import ExitStack
from dataclasses import dataclass

import polars as pl

from email_data_platform.lib.warehouse.dialect import (
    create_table_sql,
    inline_parameters,
    json_columns,
)
from email_data_platform.lib.warehouse.names import split_table_name
from email_data_platform.lib.warehouse.staged import StagedWarehouse

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BigQuerySettings:
    project: str
    location: str | None = None
    gcp_credentials: str | None = None  # base64 service-account JSON; None = default credentials
    api_endpoint: str | None = None  # a local emulator; anonymous credentials then
    load_format: str = "PARQUET"


class BigQueryWarehouse(StagedWarehouse):
    dialect = "bigquery"

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
        super().execute(inline_parameters(sql, params) if params else sql)

    def _run(self, statement: str, params: list | None) -> pl.DataFrame | None:
        job = self._connection().query(statement)
        table = job.result().to_arrow(create_bqstorage_client=False)
        return pl.from_arrow(table) if table.num_columns else None

    def _ensure_schema(self, schema: str) -> None:
        self.execute(f"create schema if not exists {schema}")

    def _load(self, table: str, frame: pl.DataFrame) -> None:
        from google.cloud import bigquery

        self._run(create_table_sql(table, frame.schema, self.dialect), None)
        if frame.height == 0:
            return
        client = self._connection()
        destination = client.get_table(f"{self.settings.project}.{table}")
        data = io.BytesIO()
        flat = json_columns(frame)
        csv = self.settings.load_format.upper() == "CSV"
        if csv:
            flat.write_csv(data, quote_style="non_numeric", null_value="")
        else:
            flat.write_parquet(data)
        data.seek(0)
        config = bigquery.LoadJobConfig(
            schema=destination.schema, write_disposition="WRITE_APPEND",
            source_format="CSV" if csv else "PARQUET", skip_leading_rows=1 if csv else None)
        client.load_table_from_file(data, destination, job_config=config).result()

    def exists(self, table: str) -> bool:
        from google.api_core.exceptions import NotFound

        try:
            self._connection().get_table(f"{self.settings.project}.{table}")
        except NotFound:
            return False
        return bool(split_table_name(table))
