"""Which engine scores and clusters a full link: DuckDB (default) or Spark.

`EDP_IDENTITY_ENGINE=duckdb|spark`, read when a link runs (never at import). On Spark the
prepared records cross as Parquet, Splink scores them with the DuckDB-trained model re-expressed
for Spark, and connected components run on Spark; stable ids are then assigned as on DuckDB, so
both engines give the same entities (test_identity_spark_scale.py). Incremental links stay on
DuckDB: a daily delta is small. One local Spark session (`local[2]`) per process, started on
first use.
"""

import os
import tempfile
import threading

import polars as pl

from email_data_platform.lib.identity.clustering import cluster_records
from email_data_platform.lib.identity.linking import score_all_pairs
from email_data_platform.lib.identity.settings import IdentityConfig

ENGINES = ("duckdb", "spark")
_SESSION_LOCK = threading.Lock()
_SESSION: dict = {}


def identity_engine() -> str:
    engine = os.environ.get("EDP_IDENTITY_ENGINE") or "duckdb"
    if engine not in ENGINES:
        raise ValueError(f"EDP_IDENTITY_ENGINE must be one of {', '.join(ENGINES)}, not "
                         f"{engine!r}")
    return engine


def _spark():
    """The process's Spark session and a scratch folder for its Parquet exchanges."""
    from email_data_platform.lib.identity.spark import local_spark_session

    with _SESSION_LOCK:
        if "session" not in _SESSION:
            workdir = tempfile.mkdtemp(prefix="edp-spark-")
            _SESSION["workdir"] = workdir
            _SESSION["session"] = local_spark_session(f"{workdir}/checkpoints")
        return _SESSION["session"], _SESSION["workdir"]


def score_pairs(frame: pl.DataFrame, settings: dict, config: IdentityConfig) -> pl.DataFrame:
    """Every blocked pair scored by the trained model, on the configured engine."""
    if identity_engine() == "duckdb":
        return score_all_pairs(frame, settings, config)
    from email_data_platform.lib.identity.spark import score_all_pairs_on_spark

    spark, workdir = _spark()
    return score_all_pairs_on_spark(frame, settings, spark, config, workdir=workdir)


def cluster(record_ids: pl.Series, pairs: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Connected components of the pairs at `threshold`, on the configured engine."""
    if identity_engine() == "duckdb":
        return cluster_records(record_ids, pairs, threshold)
    from email_data_platform.lib.identity.spark import cluster_records_on_spark

    spark, workdir = _spark()
    return cluster_records_on_spark(spark, record_ids, pairs, threshold, workdir=workdir)
