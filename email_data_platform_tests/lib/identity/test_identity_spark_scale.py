"""Identity on Spark: frames cross as Parquet, pairs are scored and clustered on Spark, and the
test population resolves to the same entities (same stable ids) as on DuckDB."""

from datetime import UTC, datetime

import polars as pl
import pytest

from email_data_platform.lib.identity.clustering import cluster_records
from email_data_platform.lib.identity.linking import score_all_pairs
from email_data_platform.lib.identity.matching import prepare_matching_frame
from email_data_platform.lib.identity.settings import IdentityConfig
from email_data_platform.lib.identity.stable_ids import assign_stable_ids

pytestmark = pytest.mark.spark
NOW = datetime(2026, 11, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    pytest.importorskip("pyspark")
    from email_data_platform.lib.identity.spark import local_spark_session

    session = local_spark_session(str(tmp_path_factory.mktemp("checkpoints")))
    yield session
    session.stop()


def entities_of(clusters: pl.DataFrame) -> pl.DataFrame:
    entities, _ = assign_stable_ids(clusters, None, NOW, None)
    return entities.select("record_id", "entity_id").sort("record_id")


def test_spark_resolves_the_same_entities_as_duckdb(population, trained, spark, tmp_path):
    from email_data_platform.lib.identity.spark import (
        cluster_records_on_spark,
        score_all_pairs_on_spark,
    )

    profiles, _ = population
    frame, _ = prepare_matching_frame(profiles)
    threshold = IdentityConfig().match_threshold
    on_duckdb = cluster_records(frame["record_id"], score_all_pairs(frame, trained.settings),
                                threshold)
    spark_pairs = score_all_pairs_on_spark(frame, trained.settings, spark, workdir=tmp_path)
    on_spark = cluster_records_on_spark(spark, frame["record_id"], spark_pairs, threshold,
                                        workdir=tmp_path)
    assert on_spark.height == frame.height
    assert on_spark.sort("record_id").equals(on_duckdb.sort("record_id"))
    assert on_duckdb["cluster_id"].n_unique() < frame.height, "duplicates must merge"
    assert entities_of(on_spark).equals(entities_of(on_duckdb))


def test_frames_cross_to_spark_and_back_as_parquet(spark, tmp_path):
    from email_data_platform.lib.identity.spark import from_spark, to_spark

    frame = pl.DataFrame({"record_id": ["a", "b"], "n": [1, None]})
    assert from_spark(to_spark(spark, frame, tmp_path), tmp_path).sort("record_id").equals(frame)


def test_edp_identity_engine_switches_scoring_and_clustering(population, trained, spark,
                                                             monkeypatch):
    from email_data_platform.lib.identity import engines

    frame, _ = prepare_matching_frame(population[0].head(200))
    config = IdentityConfig()
    monkeypatch.setenv("EDP_IDENTITY_ENGINE", "duckdb")
    duck_pairs = engines.score_pairs(frame, trained.settings, config)
    duck = engines.cluster(frame["record_id"], duck_pairs, config.match_threshold)
    monkeypatch.setenv("EDP_IDENTITY_ENGINE", "spark")
    spark_pairs = engines.score_pairs(frame, trained.settings, config)
    on_spark = engines.cluster(frame["record_id"], spark_pairs, config.match_threshold)
    assert spark_pairs.height == duck_pairs.height > 0
    assert on_spark.sort("record_id").equals(duck.sort("record_id"))
    monkeypatch.setenv("EDP_IDENTITY_ENGINE", "flink")
    with pytest.raises(ValueError, match="EDP_IDENTITY_ENGINE"):
        engines.score_pairs(frame, trained.settings, config)
