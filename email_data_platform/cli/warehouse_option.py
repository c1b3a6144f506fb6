"""The warehouse a maintenance command works on: the one the code location binds.

`--warehouse PATH` opens that DuckDB file. Without it, `EDP_WAREHOUSE` decides, as for the code
location (defs/warehouse.py): `duckdb` (default) opens `EDP_WAREHOUSE_PATH`, else
`.edp/warehouse.duckdb`; `snowflake` and `bigquery` open the same `WarehouseResource`, its
settings and secrets read from the environment now (SNOWFLAKE_*, BIGQUERY_*).
"""

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

DEFAULT_WAREHOUSE = Path(".edp/warehouse.duckdb")
HELP = ("a DuckDB warehouse file (default: the configured warehouse: EDP_WAREHOUSE, and for "
        f"DuckDB EDP_WAREHOUSE_PATH, else {DEFAULT_WAREHOUSE})")


def add_warehouse_option(parser) -> None:
    parser.add_argument("--warehouse", type=Path, default=None, help=HELP)


def duckdb_path(path: Path | None, environ: Mapping[str, str]) -> Path | None:
    """The DuckDB file to open, or None when the configured warehouse is not DuckDB."""
    if path is not None:
        return path
    if (environ.get("EDP_WAREHOUSE") or "duckdb") != "duckdb":
        return None
    return Path(environ.get("EDP_WAREHOUSE_PATH") or DEFAULT_WAREHOUSE)


@contextlib.contextmanager
def configured_warehouse(path: Path | None, environ: Mapping[str, str] | None = None,
                         must_exist: bool = True, hint: str = "") -> Iterator:
    """Open the warehouse for a command (see the module docstring); closed on exit."""
    environ = os.environ if environ is None else environ
    file = duckdb_path(path, environ)
    if file is not None:
        from email_data_platform.lib.warehouse import DuckDBWarehouse

        if must_exist and not file.exists():
            raise FileNotFoundError(f"no warehouse at {file}{hint}")
        warehouse = DuckDBWarehouse(file)
        try:
            yield warehouse
        finally:
            warehouse.close()
        return
    import dagster as dg

    from email_data_platform.defs.warehouse import warehouse_resource

    resource = warehouse_resource(dict(environ))  # validates EDP_WAREHOUSE
    with dg.build_resources({"warehouse": resource}) as resources:
        yield resources.warehouse.get()
