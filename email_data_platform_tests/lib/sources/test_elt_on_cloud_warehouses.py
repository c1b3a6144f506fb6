"""ELT tables read from Snowflake (fakesnow's server) and BigQuery (the emulator) land the same
raw rows as from DuckDB."""

import polars as pl
import pytest

from email_data_platform.lib.sources import elt
from email_data_platform.lib.warehouse import DuckDBWarehouse, open_warehouse
from email_data_platform_tests.defs.sources.test_elt_sources_assets import _fivetran_fixture
from email_data_platform_tests.warehouse_servers import (
    bigquery_emulator_settings,
    fakesnow_settings,
)

TABLES = [elt.fivetran("hubspot", "contacts"), elt.fivetran("hubspot", "orders"),
          elt.fivetran("salesforce", "contacts"), elt.fivetran("salesforce", "orders")]
COMPARED = ["source", "object_id", "updated_at", "archived"]


def _land(wh) -> dict[str, pl.DataFrame]:
    runs = [elt.extract_elt(wh, table, "run-1") for table in TABLES]
    assert [r.mode for r in runs] == ["full"] * 4
    assert [r.source_total for r in runs] == [1, 1, 1, 1]
    again = [elt.extract_elt(wh, table, "run-2") for table in TABLES]
    assert [(r.mode, r.rows_fetched) for r in again] == [("incremental", 0)] * 4
    return {name: wh.query(f"select * from {name}").select(
                [c for c in wh.query(f"select * from {name} limit 0").columns
                 if c not in ("extracted_at", "run_id")]).sort(pl.all())
            for name in ("sources.crm_contacts", "sources.crm_orders")}


SERVERS = {"snowflake": lambda: fakesnow_settings("edp_elt"),
           "bigquery": lambda: bigquery_emulator_settings("edp-elt")}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["snowflake", "bigquery"])
def test_fivetran_tables_in_a_cloud_warehouse_land_what_duckdb_lands(tmp_path, kind):
    path = tmp_path / "fixture.duckdb"
    _fivetran_fixture(path)
    with DuckDBWarehouse(path) as wh:
        fixtures = {t: wh.read(t) for t in ("hubspot.contact", "hubspot.deal",
                                            "hubspot.deal_contact", "salesforce.contact",
                                            "salesforce.opportunity")}
        on_duckdb = _land(wh)
    with SERVERS[kind]() as settings:
        wh = open_warehouse(kind, **{kind: settings})
        try:
            for name, frame in fixtures.items():
                wh.replace(name, frame)
            on_cloud = _land(wh)
        finally:
            wh.close()
    for name, frame in on_duckdb.items():
        assert on_cloud[name].equals(frame), name
