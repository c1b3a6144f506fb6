"""Scale-out: score pairs with the trained model on Spark through Splink's `SparkAPI`.

A saved model holds SQL in the dialect it was trained in (DuckDB). The comparisons are rebuilt
for Spark from the same definitions (`build_settings`) and the trained parameters are copied
across level by level, so both backends score with one model. Spark is an optional extra
(`pip install .[spark]`, Java 17); nothing here imports pyspark until it is used.
"""

import logging

import polars as pl
from splink import Linker

from email_data_platform.lib.identity.linking import PAIR_SCHEMA
from email_data_platform.lib.identity.settings import (
    IdentityConfig,
    build_settings,
    with_blocking_rules,
)

logger = logging.getLogger(__name__)

_TRAINED_KEYS = ("m_probability", "u_probability")


def settings_for_dialect(trained: dict, config: IdentityConfig, dialect: str) -> dict:
    """The trained model re-expressed in another SQL dialect (e.g. `spark`).

    Raises:
        ValueError: the trained model's comparisons differ from `build_settings(config)`.
    """
    target = build_settings(config).get_settings(dialect).as_dict()
    trained_comparisons = trained["comparisons"]
    target_comparisons = target["comparisons"]
    shape = [(c["output_column_name"], len(c["comparison_levels"])) for c in trained_comparisons]
    expected = [(c["output_column_name"], len(c["comparison_levels"])) for c in target_comparisons]
    if shape != expected:
        raise ValueError(f"model comparisons {shape} do not match the settings {expected}: "
                         "retrain the model with the current settings")
    for source, destination in zip(trained_comparisons, target_comparisons, strict=True):
        for level_from, level_to in zip(source["comparison_levels"],
                                        destination["comparison_levels"], strict=True):
            for key in _TRAINED_KEYS:
                if key in level_from:
                    level_to[key] = level_from[key]
    target["probability_two_random_records_match"] = trained[
        "probability_two_random_records_match"]
    return with_blocking_rules(target, config, dialect)


def local_spark_session(checkpoint_dir: str, app_name: str = "edp-identity", cores: int = 2):
    """A local Spark session with Splink's similarity UDF jar (Jaro-Winkler and friends).

    Splink breaks Spark lineage with checkpoints, so a checkpoint folder is required.
    """
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    session = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.jars", similarity_jar_location())
        .config("spark.sql.shuffle.partitions", str(cores * 2))
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setCheckpointDir(checkpoint_dir)
    return session


def score_all_pairs_on_spark(
    frame: pl.DataFrame, trained: dict, spark, config: IdentityConfig | None = None
) -> pl.DataFrame:
    """Spark counterpart of `linking.score_all_pairs` for a prepared matching frame."""
    from splink.backends.spark import SparkAPI

    config = config or IdentityConfig()
    db_api = SparkAPI(spark_session=spark)
    records = db_api.register(spark.createDataFrame(frame.to_pandas()), table_name="records")
    linker = Linker(records, settings_for_dialect(trained, config, "spark"), log_level=None)
    scored = linker.inference.predict(
        threshold_match_probability=config.pair_floor_probability, warning_mode="never"
    )
    table = pl.from_pandas(scored.as_pandas_dataframe())
    if table.height == 0:
        return pl.DataFrame(schema=PAIR_SCHEMA)
    return table.select(
        pl.min_horizontal("record_id_l", "record_id_r").alias("record_id_l"),
        pl.max_horizontal("record_id_l", "record_id_r").alias("record_id_r"),
        pl.col("match_weight").cast(pl.Float64),
        pl.col("match_probability").cast(pl.Float64),
    )
