"""Clean-table metadata counted by the warehouse equals the metadata counted in memory."""

import dataclasses

import pytest

from email_data_platform.defs.profiles.metadata import clean_table_metadata
from email_data_platform.defs.profiles.tables import PROFILE_TABLES
from email_data_platform.lib.profiles.stage import clean_table, publish
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform_tests.lib.profiles.raw_frames import generated_sources


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    wh = DuckDBWarehouse(tmp_path_factory.mktemp("metadata") / "wh.duckdb")
    for table, raw in generated_sources(300, seed=21).items():
        wh.write(table, raw)
    cleaned = [clean_table(wh, t.raw_table, t.raw_key, t.clean_table, t.cleaner, "run-1",
                           batch_rows=50) for t in PROFILE_TABLES]
    publish(wh, cleaned)
    return wh, cleaned


@pytest.mark.parametrize("index", range(len(PROFILE_TABLES)),
                         ids=[t.clean_name for t in PROFILE_TABLES])
def test_warehouse_counts_give_the_in_memory_metadata(warehouse, index):
    wh, cleaned = warehouse
    table, result = PROFILE_TABLES[index], cleaned[index]
    in_memory = dataclasses.replace(result, clean=wh.read(table.clean_table))
    counted = clean_table_metadata(table, result, wh)
    assert counted == clean_table_metadata(table, in_memory, wh)
    assert counted["dagster/row_count"] == wh.row_count(table.clean_table)
    assert counted["preview"].value.count("\n") > 3  # several combinations counted
    if table.clean_name == "clean_profiles":
        assert "phone" in counted["completeness"].value
        assert "_" in counted["cleaning_notes"].value.split("\n", 2)[2]  # a note was counted
