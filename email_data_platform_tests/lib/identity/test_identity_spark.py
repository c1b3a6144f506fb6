"""The DuckDB-trained model scores the same pairs, with the same weights, on Spark."""

import polars as pl
import pytest

from email_data_platform.lib.identity.linking import score_all_pairs
from email_data_platform.lib.identity.matching import prepare_matching_frame
from email_data_platform.lib.identity.settings import IdentityConfig
from email_data_platform.lib.identity.spark import settings_for_dialect


def test_model_translates_to_spark_sql_keeping_every_trained_parameter(trained):
    spark_settings = settings_for_dialect(trained.settings, IdentityConfig(), "spark")
    assert spark_settings["sql_dialect"] == "spark"
    for duck, spark in zip(trained.settings["comparisons"], spark_settings["comparisons"],
                           strict=True):
        for a, b in zip(duck["comparison_levels"], spark["comparison_levels"], strict=True):
            assert a.get("m_probability") == b.get("m_probability")
            assert a.get("u_probability") == b.get("u_probability")
    assert "jaro_winkler_similarity" not in str(spark_settings["comparisons"])


@pytest.mark.spark
def test_spark_scores_the_same_pairs_as_duckdb(population, trained, tmp_path):
    pytest.importorskip("pyspark")
    from email_data_platform.lib.identity.spark import (
        local_spark_session,
        score_all_pairs_on_spark,
    )

    profiles, _ = population
    frame, _ = prepare_matching_frame(profiles.head(300))
    spark = local_spark_session(str(tmp_path / "checkpoints"))
    try:
        on_spark = score_all_pairs_on_spark(frame, trained.settings, spark)
    finally:
        spark.stop()
    on_duckdb = score_all_pairs(frame, trained.settings)
    key = ["record_id_l", "record_id_r"]
    joined = on_duckdb.join(on_spark, on=key, how="full", coalesce=True)
    assert joined.height == on_duckdb.height == on_spark.height > 0
    assert (joined["match_weight"] - joined["match_weight_right"]).abs().max() < 1e-6
    assert joined.filter(pl.col("match_probability").is_null()).height == 0
