"""A golden build in parts (ranges of entity ids) must equal the whole build, row for row."""

from bisect import bisect_right
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from email_data_platform.lib.identity import golden_refresh
from email_data_platform.lib.identity.golden import build_golden_profiles
from email_data_platform.lib.profiles.stage import clean_contacts
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform.lib.warehouse.base import part_starts_query
from email_data_platform.sandbox.generator import generate_dataset
from email_data_platform.sandbox.raw_contacts import as_crm_contacts

TINY = 50  # records per part: ~60 parts from 3,000 records


@pytest.fixture(scope="module")
def generated():
    """(clean profiles, entities) of 3,000 generator contacts; entities are its true persons."""
    dataset = generate_dataset(3000, seed=3)
    raw = as_crm_contacts(dataset.contacts, "test", datetime(2024, 1, 1, tzinfo=UTC))
    profiles = clean_contacts(raw, "test").clean.with_columns(
        # The generator is one CRM: a third from the other one exercises source priority.
        source=pl.when(pl.col("object_id").str.ends_with("3")).then(pl.lit("salesforce"))
        .otherwise(pl.col("source")))
    entities = profiles.join(dataset.truth, left_on="object_id", right_on="id").select(
        "record_id", "entity_id", record_updated_at="updated_at")
    assert entities["entity_id"].is_duplicated().any()  # several records per person
    return profiles, entities


@pytest.fixture
def warehouse(tmp_path, generated):
    profiles, entities = generated
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    warehouse.write(golden_refresh.PROFILES, profiles)
    warehouse.write(golden_refresh.ENTITIES, entities)
    yield warehouse
    warehouse.close()


def _whole(warehouse) -> pl.DataFrame:
    return build_golden_profiles(
        warehouse.read(golden_refresh.PROFILES),
        warehouse.read(golden_refresh.ENTITIES, ["record_id", "entity_id"])).sort("entity_id")


def _stored(warehouse) -> pl.DataFrame:
    return warehouse.read(golden_refresh.GOLDEN).sort("entity_id")


def test_a_full_build_in_tiny_parts_equals_the_whole_build(warehouse):
    summary = golden_refresh.refresh_golden(warehouse, part_rows=TINY)
    assert summary["mode"] == "full" and summary["parts"] > 40
    whole = _whole(warehouse)
    assert summary["rows"] == whole.height
    assert _stored(warehouse).equals(whole)
    assert not warehouse.exists(golden_refresh.BUILDING)


def test_an_incremental_build_in_tiny_parts_equals_the_whole_build(warehouse, generated):
    golden_refresh.refresh_golden(warehouse, part_rows=TINY)
    profiles = generated[0]
    # Every tenth record moved since it was linked: its entity is rebuilt.
    moved = pl.col("record_id").str.ends_with("0")
    warehouse.write(golden_refresh.PROFILES, profiles.with_columns(
        email=pl.when(moved).then(pl.lit("moved@example.org")).otherwise("email"),
        updated_at=pl.when(moved).then(pl.col("updated_at") + timedelta(days=400))
        .otherwise("updated_at")))
    summary = golden_refresh.refresh_golden(warehouse, part_rows=TINY)
    assert summary["mode"] == "incremental" and summary["parts"] > 3
    assert 0 < summary["entities_rebuilt"] < summary["rows"] / 4
    assert _stored(warehouse).equals(_whole(warehouse))
    assert "moved@example.org" in _stored(warehouse)["email"].to_list()


def test_parts_hold_about_part_rows_records(warehouse, generated):
    entities = generated[1]
    starts = warehouse.query(part_starts_query(
        f"select entity_id from {golden_refresh.ENTITIES}", "entity_id", TINY))["k"].to_list()
    part = entities["entity_id"].map_elements(lambda e: bisect_right(starts, e), pl.Int64)
    sizes = part.value_counts()["count"]
    largest = entities.group_by("entity_id").len()["len"].max()
    assert sizes.len() == len(starts) + 1 and sizes.max() < TINY + largest
