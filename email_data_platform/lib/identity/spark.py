"""Scale-out: score pairs and cluster them on Spark through Splink's `SparkAPI`.

A saved model holds SQL in the dialect it was trained in (DuckDB). The comparisons are rebuilt
for Spark from the same definitions (`build_settings`) and the trained parameters are copied
across level by level, so both backends score with one model. Frames cross to and from Spark as
Parquet files (never pandas, never row by row through the driver); clusters are the same
connected components as `clustering.cluster_records`, named by their smallest record id, so
stable entity ids are assigned exactly as on DuckDB. Spark is an optional extra
(`pip install .[spark]`, Java 17); nothing here imports pyspark until it is used.
"""

import logging
import tempfile
import uuid
from pathlib import Path

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


def to_spark(spark, frame: pl.DataFrame, workdir: str | Path):
    """A polars frame as a Spark DataFrame, through a Parquet file Spark reads in parallel."""
    path = Path(workdir) / f"in-{uuid.uuid4().hex}.parquet"
    frame.write_parquet(path)
    return spark.read.parquet(str(path))


def from_spark(sdf, workdir: str | Path) -> pl.DataFrame:
    """A Spark DataFrame as polars, written by the executors to Parquet and read back."""
    path = Path(workdir) / f"out-{uuid.uuid4().hex}"
    sdf.write.mode("overwrite").parquet(str(path))
    parts = sorted(path.glob("*.parquet"))
    if not parts:
        return pl.DataFrame(schema={f.name: pl.Utf8 for f in sdf.schema.fields})
    return pl.read_parquet(parts)


def score_all_pairs_on_spark(
    frame: pl.DataFrame, trained: dict, spark, config: IdentityConfig | None = None,
    workdir: str | Path | None = None,
) -> pl.DataFrame:
    """Spark counterpart of `linking.score_all_pairs` for a prepared matching frame."""
    from splink.backends.spark import SparkAPI

    config = config or IdentityConfig()
    workdir = workdir or tempfile.mkdtemp(prefix="edp-spark-")
    db_api = SparkAPI(spark_session=spark)
    # A session outlives one link (engines.py keeps it): a fresh name per registration.
    records = db_api.register(to_spark(spark, frame, workdir),
                              table_name=f"records_{uuid.uuid4().hex[:12]}")
    linker = Linker(records, settings_for_dialect(trained, config, "spark"), log_level=None)
    scored = linker.inference.predict(
        threshold_match_probability=config.pair_floor_probability, warning_mode="never"
    )
    table = from_spark(scored.as_spark_dataframe().select(
        "record_id_l", "record_id_r", "match_weight", "match_probability"), workdir)
    if table.height == 0:
        return pl.DataFrame(schema=PAIR_SCHEMA)
    return table.select(
        pl.min_horizontal("record_id_l", "record_id_r").alias("record_id_l"),
        pl.max_horizontal("record_id_l", "record_id_r").alias("record_id_r"),
        pl.col("match_weight").cast(pl.Float64),
        pl.col("match_probability").cast(pl.Float64),
    )


def cluster_records_on_spark(
    spark, record_ids: pl.Series, pairs: pl.DataFrame, threshold: float,
    workdir: str | Path | None = None,
) -> pl.DataFrame:
    """Spark counterpart of `clustering.cluster_records`: `record_id`, `cluster_id` (the
    cluster's smallest record id), one row per record, connected components on Spark."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention
    from splink.backends.spark import SparkAPI
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    workdir = workdir or tempfile.mkdtemp(prefix="edp-spark-")
    nodes = to_spark(spark, record_ids.unique().cast(pl.Utf8).to_frame("record_id"), workdir)
    edges = to_spark(spark, pairs.select("record_id_l", "record_id_r", "match_probability")
                     .with_columns(pl.col("record_id_l", "record_id_r").cast(pl.Utf8)), workdir)
    clusters = cluster_pairwise_predictions_at_threshold(
        nodes, edges, db_api=SparkAPI(spark_session=spark), node_id_column_name="record_id",
        edge_id_column_name_left="record_id_l", edge_id_column_name_right="record_id_r",
        threshold_match_probability=threshold,
    ).as_spark_dataframe()
    named = clusters.select(
        "record_id", F.min("record_id").over(Window.partitionBy("cluster_id")).alias("cluster_id"))
    return from_spark(named, workdir).select("record_id", "cluster_id")
