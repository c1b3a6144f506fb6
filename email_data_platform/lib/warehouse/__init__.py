"""The one warehouse interface (`Warehouse`) and its implementations.

DuckDB is the default and is imported here; Snowflake and BigQuery live in their own modules,
imported only when configured (`open_warehouse`), because their client libraries are slow to
import (dagster_snowflake alone takes ~10 s).
"""

from email_data_platform.lib.warehouse.base import TableWrite, Warehouse
from email_data_platform.lib.warehouse.bigquery_warehouse import BigQuerySettings
from email_data_platform.lib.warehouse.duckdb_warehouse import (
    DuckDBWarehouse,
    WarehouseBusyError,
    table_exists,
)
from email_data_platform.lib.warehouse.factory import KINDS, open_warehouse
from email_data_platform.lib.warehouse.local import local_workspace
from email_data_platform.lib.warehouse.names import check_table_name
from email_data_platform.lib.warehouse.snowflake_warehouse import SnowflakeSettings

__all__ = [
    "KINDS",
    "BigQuerySettings",
    "SnowflakeSettings",
    "open_warehouse",
    "local_workspace",
    "DuckDBWarehouse",
    "TableWrite",
    "Warehouse",
    "WarehouseBusyError",
    "check_table_name",
    "table_exists",
]
