"""The identity invariants, counted in SQL: each violation is found and counted per row."""

import polars as pl
import pytest

from email_data_platform.lib.identity import checks, stage
from email_data_platform.lib.warehouse import DuckDBWarehouse


@pytest.fixture
def warehouse(tmp_path):
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    yield warehouse
    warehouse.close()


def _entities(rows: list[tuple[str, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["record_id", "entity_id"], orient="row")


def test_healthy_tables_have_no_violations(warehouse):
    warehouse.write(stage.PROFILES, pl.DataFrame({"record_id": ["a", "b", "c"]}))
    warehouse.write(stage.ENTITIES, _entities([("a", "E1"), ("b", "E1"), ("c", "E2")]))
    warehouse.write(stage.PAIRS, pl.DataFrame({
        "record_id_l": ["a"], "record_id_r": ["b"], "match_probability": [0.9]}))
    warehouse.write(stage.GOLDEN, pl.DataFrame({"entity_id": ["E1", "E2"]}))
    problems = {**checks.entity_coverage(warehouse), **checks.pair_problems(warehouse),
                **checks.golden_problems(warehouse)}
    assert set(problems.values()) == {0}, problems


def test_entity_coverage_counts_missing_repeated_and_unknown_records(warehouse):
    warehouse.write(stage.PROFILES, pl.DataFrame({"record_id": ["a", "b", "c"]}))
    warehouse.write(stage.ENTITIES, _entities(
        [("a", "E1"), ("a", "E2"), ("a", "E3"), ("b", "E1"), ("x", "E9")]))
    assert checks.entity_coverage(warehouse) == {
        "records_without_entity": 1, "records_with_several_entity_rows": 3,
        "entity_rows_for_unknown_records": 1}


def test_pair_problems_counts_repeats_disorder_and_bad_probabilities(warehouse):
    warehouse.write(stage.PAIRS, pl.DataFrame({
        "record_id_l": ["a", "a", "c", "d", "e", "f"],
        "record_id_r": ["b", "b", "c", "b", "g", "h"],
        "match_probability": [0.9, 0.9, 0.8, 0.7, 1.5, None]}))
    assert checks.pair_problems(warehouse) == {
        "duplicate_pairs": 2, "unordered_or_self_pairs": 2, "probabilities_out_of_range": 2}


def test_golden_problems_counts_repeats_gaps_and_orphans(warehouse):
    warehouse.write(stage.ENTITIES, _entities([("a", "E1"), ("b", "E1"), ("c", "E2")]))
    warehouse.write(stage.GOLDEN, pl.DataFrame({"entity_id": ["E1", "E1", "E9"]}))
    assert checks.golden_problems(warehouse) == {
        "duplicate_golden_rows": 2, "entities_without_golden_row": 1,
        "golden_rows_without_entity": 1}


def test_cluster_sizes_buckets_and_largest(warehouse):
    rows = [(f"a{i}", "A") for i in range(12)] + [("b1", "B"), ("b2", "B"), ("c", "C")]
    warehouse.write(stage.ENTITIES, _entities(rows))
    assert checks.cluster_sizes(warehouse) == {
        "entities": 3, "size_1": 1, "size_2_3": 1, "size_4_10": 0, "size_over_10": 1,
        "largest": 12}
