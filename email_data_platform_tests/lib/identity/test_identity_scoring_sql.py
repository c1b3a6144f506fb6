"""Splink's incremental scoring SQL, recorded once per model and replayed: same scores."""

import dataclasses

import duckdb
import polars as pl
import pytest

from email_data_platform.lib.identity import scoring_sql
from email_data_platform.lib.identity.linking import record_scoring_sql, score_new_pairs
from email_data_platform.lib.identity.matching import prepare_matching_frame
from email_data_platform.lib.identity.settings import IdentityConfig
from email_data_platform.lib.warehouse import DuckDBWarehouse

KEY = ["record_id_l", "record_id_r"]


class CountingCache(dict):
    """A dict that counts hits, so a test can tell replay from Splink."""

    hits = 0

    def get(self, key, default=None):
        found = super().get(key, default)
        self.hits += found is not None
        return found


@pytest.fixture(scope="module")
def split(population):
    frame, _ = prepare_matching_frame(population[0])
    is_new = pl.col("record_id").is_in(frame["record_id"].sort().tail(80).implode())
    return frame.filter(~is_new), frame.filter(is_new)


def test_replayed_statements_score_exactly_as_splink(split, trained):
    existing, new = split
    by_splink = score_new_pairs(existing, new, trained.settings)
    cache = CountingCache()
    record_scoring_sql(trained.settings, IdentityConfig(), cache)
    assert len(cache) == 1
    replayed = score_new_pairs(existing, new, trained.settings, sql_cache=cache)
    assert cache.hits == 1 and len(cache) == 1
    assert by_splink.height > 0
    assert replayed.sort(KEY).equals(by_splink.sort(KEY))


def test_a_miss_scores_with_splink_and_records_for_next_time(split, trained):
    existing, new = split
    cache = CountingCache()
    first = score_new_pairs(existing, new, trained.settings, sql_cache=cache)
    assert cache.hits == 0 and len(cache) == 1
    again = score_new_pairs(existing, new, trained.settings, sql_cache=cache)
    assert cache.hits == 1
    assert again.sort(KEY).equals(first.sort(KEY))


def test_anything_that_changes_the_sql_changes_the_key(split, trained):
    existing, new = split
    cache = CountingCache()
    record_scoring_sql(trained.settings, IdentityConfig(), cache)
    stricter = dataclasses.replace(IdentityConfig(), pair_floor_probability=0.9)
    pairs = score_new_pairs(existing, new, trained.settings, stricter, sql_cache=cache)
    assert cache.hits == 0 and len(cache) == 2
    assert pairs["match_probability"].min() >= 0.9
    fewer_rules = dataclasses.replace(IdentityConfig(),
                                      blocking_rules=IdentityConfig().blocking_rules[:2])
    score_new_pairs(existing, new, trained.settings, fewer_rules, sql_cache=cache)
    assert cache.hits == 0 and len(cache) == 3


def test_statements_kept_in_the_warehouse_hold_the_current_model_only(tmp_path, trained):
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    stored = scoring_sql.StoredStatements(warehouse)
    assert stored.get("any") is None
    record_scoring_sql(trained.settings, IdentityConfig(), stored)
    (key,) = warehouse.read(scoring_sql.TABLE)["key"].to_list()
    statements = stored.get(key)
    assert len(statements) == 2 and all(s.startswith("CREATE TABLE") for s in statements)
    stored["another model"] = ["CREATE TABLE t AS SELECT 1"]
    assert warehouse.read(scoring_sql.TABLE)["key"].to_list() == ["another model"]
    assert stored.get(key) is None
    warehouse.close()


def test_replay_refuses_statements_that_do_not_create_the_output():
    with pytest.raises(ValueError, match="CREATE TABLE"):
        scoring_sql.replay(["select 1"], {}, "1GB")


def test_replayed_statements_cannot_reach_files(tmp_path):
    leak = tmp_path / "leak.csv"
    with pytest.raises(duckdb.PermissionException):
        scoring_sql.replay([f"COPY (SELECT 1) TO '{leak}'",
                            "CREATE TABLE t AS SELECT 1"], {}, "1GB")
    assert not leak.exists()


def test_statements_that_fail_are_scored_by_splink_and_recorded_again(split, trained):
    existing, new = split
    cache = CountingCache()
    record_scoring_sql(trained.settings, IdentityConfig(), cache)
    (key,) = cache
    expected = score_new_pairs(existing, new, trained.settings).sort(KEY)
    for broken in (["CREATE TABLE t AS SELECT * FROM no_such_table"],
                   ["CREATE TABLE t AS SELECT 1 AS record_id_l"]):
        cache[key] = broken
        pairs = score_new_pairs(existing, new, trained.settings, sql_cache=cache)
        assert pairs.sort(KEY).equals(expected)
        assert len(cache[key]) == 2 and cache[key][0].startswith("CREATE TABLE __splink__")
