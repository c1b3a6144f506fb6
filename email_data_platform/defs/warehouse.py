"""The warehouse resource every asset reads and writes through, and its binding per environment.

`EDP_WAREHOUSE` (duckdb | snowflake | bigquery) picks the implementation when the definitions
load (process start), never at import; its settings and secrets are `dg.EnvVar`s resolved when a
run launches. `EDP_ENV=prod` refuses to load when a variable it needs is missing (deployment.py).
"""

import os
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from email_data_platform.lib.warehouse import (
    BigQuerySettings,
    SnowflakeSettings,
    Warehouse,
    open_warehouse,
)


class WarehouseResource(dg.ConfigurableResource):
    """Embedded DuckDB by default, or Snowflake / BigQuery; one connection per run."""

    kind: str = "duckdb"
    path: str = ".edp/warehouse.duckdb"
    lock_timeout_s: float = 60.0  # how long a run waits for a DuckDB file another run holds
    snowflake_account: str | None = None
    snowflake_user: str | None = None
    snowflake_password: str | None = None
    snowflake_private_key: str | None = None
    snowflake_database: str | None = None
    snowflake_warehouse: str | None = None
    snowflake_role: str | None = None
    snowflake_host: str | None = None  # a non-default endpoint (a local fakesnow server)
    snowflake_port: int | None = None
    snowflake_protocol: str | None = None
    bigquery_project: str | None = None
    bigquery_location: str | None = None
    bigquery_credentials: str | None = None  # base64 service-account JSON
    bigquery_api_endpoint: str | None = None  # a local emulator
    bigquery_load_format: str = "PARQUET"
    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._warehouse = self.open()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._warehouse is not None:
            self._warehouse.close()

    def get(self) -> Warehouse:
        if self._warehouse is None:  # used outside a run (sensors, scripts)
            self._warehouse = self.open()
        return self._warehouse

    def open(self) -> Warehouse:
        snowflake = bigquery = None
        if self.kind == "snowflake":
            endpoint = {"host": self.snowflake_host, "port": self.snowflake_port,
                        "protocol": self.snowflake_protocol}
            snowflake = SnowflakeSettings(
                account=self.snowflake_account or "", user=self.snowflake_user or "",
                database=self.snowflake_database or "", password=self.snowflake_password,
                private_key=self.snowflake_private_key, warehouse=self.snowflake_warehouse,
                role=self.snowflake_role,
                connection_args={k: v for k, v in endpoint.items() if v is not None})
        if self.kind == "bigquery":
            bigquery = BigQuerySettings(
                project=self.bigquery_project or "", location=self.bigquery_location,
                gcp_credentials=self.bigquery_credentials,
                api_endpoint=self.bigquery_api_endpoint, load_format=self.bigquery_load_format)
        if self.kind == "duckdb":
            from email_data_platform.lib.warehouse import DuckDBWarehouse

            return DuckDBWarehouse(self.path, lock_timeout_s=self.lock_timeout_s)
        return open_warehouse(self.kind, snowflake=snowflake, bigquery=bigquery)


def _release_warehouse_memory(context: dg.HookContext) -> None:
    warehouse = context.resources.warehouse.get()
    if hasattr(warehouse, "release_memory"):  # embedded DuckDB: its cache is in our process
        warehouse.release_memory()


@dg.success_hook(required_resource_keys={"warehouse"})
def release_warehouse_memory_after_success(context: dg.HookContext) -> None:
    """After each step, the warehouse gives back the memory it cached for that step."""
    _release_warehouse_memory(context)


@dg.failure_hook(required_resource_keys={"warehouse"})
def release_warehouse_memory_after_failure(context: dg.HookContext) -> None:
    _release_warehouse_memory(context)


RELEASE_WAREHOUSE_MEMORY = {release_warehouse_memory_after_success,
                            release_warehouse_memory_after_failure}


class ArtifactsResource(dg.ConfigurableResource):
    """A folder for files that are not tables: model JSON, charts, sandbox journals."""

    root: str = ".edp"

    def path(self, *parts: str) -> Path:
        target = Path(self.root).joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target


# Settings of each implementation: resource field -> environment variable (all optional ones
# are bound only when set, so an unset optional variable never fails a launch).
WAREHOUSE_VARIABLES = {
    "duckdb": {"path": "EDP_WAREHOUSE_PATH"},
    "snowflake": {f"snowflake_{name}": f"SNOWFLAKE_{name.upper()}" for name in (
        "account", "user", "password", "private_key", "database", "warehouse", "role", "host",
        "port", "protocol")},
    "bigquery": {"bigquery_project": "BIGQUERY_PROJECT", "bigquery_location": "BIGQUERY_LOCATION",
                 "bigquery_credentials": "BIGQUERY_CREDENTIALS",
                 "bigquery_api_endpoint": "BIGQUERY_API_ENDPOINT",
                 "bigquery_load_format": "BIGQUERY_LOAD_FORMAT"},
}


def warehouse_resource(environ: dict[str, str] | None = None) -> WarehouseResource:
    """The resource for `EDP_WAREHOUSE` (default duckdb), its settings bound as EnvVars."""
    environ = os.environ if environ is None else environ
    kind = environ.get("EDP_WAREHOUSE") or "duckdb"
    if kind not in WAREHOUSE_VARIABLES:
        raise ValueError(f"EDP_WAREHOUSE must be one of {', '.join(WAREHOUSE_VARIABLES)}, "
                         f"not {kind!r}")
    fields = {field: dg.EnvVar(variable) for field, variable in WAREHOUSE_VARIABLES[kind].items()
              if variable in environ or field == "path"}
    if kind == "snowflake" and "snowflake_port" in fields:
        fields["snowflake_port"] = dg.EnvVar.int("SNOWFLAKE_PORT")
    return WarehouseResource(kind=kind, **fields)
