"""The warehouse resource every asset reads and writes through."""

from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from email_data_platform.lib.warehouse import DuckDBWarehouse


class WarehouseResource(dg.ConfigurableResource):
    """Embedded DuckDB by default; one connection per run, closed when the run ends."""

    path: str = ".edp/warehouse.duckdb"
    _warehouse: DuckDBWarehouse | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._warehouse = DuckDBWarehouse(self.path)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._warehouse is not None:
            self._warehouse.close()

    def get(self) -> DuckDBWarehouse:
        if self._warehouse is None:  # used outside a run (sensors, scripts)
            self._warehouse = DuckDBWarehouse(self.path)
        return self._warehouse


class ArtifactsResource(dg.ConfigurableResource):
    """A folder for files that are not tables: model JSON, charts, sandbox journals."""

    root: str = ".edp"

    def path(self, *parts: str) -> Path:
        target = Path(self.root).joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target
