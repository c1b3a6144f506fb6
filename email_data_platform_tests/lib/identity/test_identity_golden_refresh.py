"""Golden profiles rebuilt only for changed entities must equal a full rebuild, always."""

from datetime import timedelta

import polars as pl
import pytest

from email_data_platform.lib.identity import golden_refresh, stage
from email_data_platform.lib.identity.golden import build_golden_profiles
from email_data_platform.lib.identity.settings import IdentityConfig
from email_data_platform.lib.warehouse import DuckDBWarehouse


@pytest.fixture
def warehouse(tmp_path, population, trained):
    """Profiles minus 30 held back, linked in full, golden profiles built in full."""
    profiles, _ = population
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    warehouse.write(stage.PROFILES, profiles.sort("record_id").head(profiles.height - 30))
    _store_model(warehouse, trained, tmp_path)
    _link(warehouse)
    assert stage.build_golden(warehouse)["mode"] == "full"
    yield warehouse
    warehouse.close()


def _store_model(warehouse, trained, tmp_path) -> None:
    """The session's trained model as the warehouse's current one (training is slow)."""
    row = {"model_version": trained.model_version, "trained_at": trained.trained_at,
           "model_path": str(trained.save(tmp_path / "models")),
           "settings_json": trained.settings_json}
    warehouse.write(stage.MODEL, pl.DataFrame([row]))


def _link(warehouse, mode: str = "auto") -> None:
    stage.link_pairs(warehouse, IdentityConfig(), mode)
    stage.resolve_entities(warehouse, IdentityConfig())


def _full_rebuild(warehouse) -> pl.DataFrame:
    return build_golden_profiles(warehouse.read(stage.PROFILES),
                                 warehouse.read(stage.ENTITIES, ["record_id", "entity_id"]))


def _golden(warehouse) -> pl.DataFrame:
    return warehouse.read(stage.GOLDEN).sort("entity_id")


def _edit(profiles: pl.DataFrame, population) -> pl.DataFrame:
    """New records (the 30 held back), 10 changed ones (new email, later stamp), 8 removed."""
    everyone = population[0].sort("record_id")
    changed_ids = profiles["record_id"].head(10).implode()
    removed_ids = profiles["record_id"].slice(20, 8).implode()
    changed = pl.col("record_id").is_in(changed_ids)
    return everyone.filter(~pl.col("record_id").is_in(removed_ids)).with_columns(
        pl.when(changed).then(pl.lit("moved@example.org")).otherwise(pl.col("email"))
        .alias("email"),
        pl.when(changed).then(pl.col("updated_at") + timedelta(days=400))
        .otherwise(pl.col("updated_at")).alias("updated_at"))


def test_after_an_incremental_link_only_touched_entities_are_rebuilt(warehouse, population):
    warehouse.write(stage.PROFILES, _edit(warehouse.read(stage.PROFILES), population))
    _link(warehouse)
    assert warehouse.read(stage.LINK_STATE)["mode"][0] == "incremental"
    summary = stage.build_golden(warehouse)
    assert summary["mode"] == "incremental"
    assert 0 < summary["entities_rebuilt"] < summary["rows"] / 4
    assert _golden(warehouse).equals(_full_rebuild(warehouse).sort("entity_id"))
    assert warehouse.row_count(golden_refresh.PENDING) == 0


def test_profiles_changed_since_the_last_link_are_still_reflected(warehouse, population):
    edited = _edit(warehouse.read(stage.PROFILES), population)
    warehouse.write(stage.PROFILES, edited)  # entities not re-run: golden sees the new values
    assert stage.build_golden(warehouse)["mode"] == "incremental"
    assert _golden(warehouse).equals(_full_rebuild(warehouse).sort("entity_id"))
    assert "moved@example.org" in _golden(warehouse)["email"].to_list()


def test_pending_entities_accumulate_until_golden_profiles_are_built(warehouse, population):
    profiles = warehouse.read(stage.PROFILES)
    edited = _edit(profiles, population)
    warehouse.write(stage.PROFILES, edited.filter(
        pl.col("record_id").is_in(profiles["record_id"].implode())))  # changes, removals
    _link(warehouse)
    warehouse.write(stage.PROFILES, edited)  # then the newcomers, another run
    _link(warehouse)
    assert stage.build_golden(warehouse)["mode"] == "incremental"
    assert _golden(warehouse).equals(_full_rebuild(warehouse).sort("entity_id"))


def test_a_full_link_or_other_rules_make_the_next_build_full(warehouse, population):
    _link(warehouse, "full")
    assert not warehouse.exists(golden_refresh.PENDING)
    assert stage.build_golden(warehouse)["mode"] == "full"
    warehouse.write(golden_refresh.STATE, pl.DataFrame({"fingerprint": ["older rules"]}))
    assert stage.build_golden(warehouse)["mode"] == "full"
    assert stage.build_golden(warehouse)["mode"] == "incremental"
    assert _golden(warehouse).equals(_full_rebuild(warehouse).sort("entity_id"))
