"""Which warehouse a run uses, decided from settings at launch (never at import)."""

from pathlib import Path

from email_data_platform.lib.warehouse.base import Warehouse
from email_data_platform.lib.warehouse.bigquery_warehouse import BigQuerySettings
from email_data_platform.lib.warehouse.snowflake_warehouse import SnowflakeSettings

KINDS = ("duckdb", "snowflake", "bigquery")


def open_warehouse(kind: str, *, duckdb_path: str | Path | None = None,
                   snowflake: SnowflakeSettings | None = None,
                   bigquery: BigQuerySettings | None = None) -> Warehouse:
    """The warehouse of `kind` (`duckdb`, `snowflake` or `bigquery`) with its settings."""
    if kind == "duckdb":
        from email_data_platform.lib.warehouse.duckdb_warehouse import DuckDBWarehouse

        return DuckDBWarehouse(duckdb_path or ".edp/warehouse.duckdb")
    if kind == "snowflake":
        if snowflake is None:
            raise ValueError("EDP_WAREHOUSE=snowflake needs Snowflake settings (SNOWFLAKE_*)")
        from email_data_platform.lib.warehouse.snowflake_warehouse import SnowflakeWarehouse

        return SnowflakeWarehouse(snowflake)
    if kind == "bigquery":
        if bigquery is None:
            raise ValueError("EDP_WAREHOUSE=bigquery needs BigQuery settings (BIGQUERY_*)")
        from email_data_platform.lib.warehouse.bigquery_warehouse import BigQueryWarehouse

        return BigQueryWarehouse(bigquery)
    raise ValueError(f"EDP_WAREHOUSE must be one of {', '.join(KINDS)}, not {kind!r}")
