"""Identity on DuckDB next to Spark (`local[2]`): score every blocked pair with one trained model
and cluster them, on each engine; print one JSON line.

    .venv/bin/python benchmarks/identity_engines.py --contacts 1000000   # needs the spark extra

Both engines get the same prepared records and the same model (trained here on a sample, on
DuckDB, as the assets do); `same_clusters` says whether they resolved the same entities.
`spark_session_seconds` (JVM start) is reported apart from the work.
"""

import argparse
import json
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from email_data_platform.lib.identity.clustering import cluster_records  # noqa: E402
from email_data_platform.lib.identity.linking import score_all_pairs  # noqa: E402
from email_data_platform.lib.identity.matching import prepare_matching_frame  # noqa: E402
from email_data_platform.lib.identity.settings import IdentityConfig  # noqa: E402
from email_data_platform.lib.identity.training import train_model  # noqa: E402
from email_data_platform.lib.profiles.stage import clean_contacts  # noqa: E402
from email_data_platform.sandbox.generator import generate_dataset  # noqa: E402
from email_data_platform.sandbox.raw_contacts import as_crm_contacts  # noqa: E402


def timed(work):
    started = time.perf_counter()
    result = work()
    return result, round(time.perf_counter() - started, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--train-sample", type=int, default=100_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    config = IdentityConfig()
    dataset = generate_dataset(args.contacts, seed=42)
    profiles = clean_contacts(as_crm_contacts(dataset.contacts, "benchmark"), "benchmark").clean
    model = train_model(profiles.sample(min(args.train_sample, profiles.height), seed=1), config)
    frame, _ = prepare_matching_frame(profiles)
    del dataset, profiles
    duck_pairs, duck_score_s = timed(lambda: score_all_pairs(frame, model.settings, config))
    duck_clusters, duck_cluster_s = timed(
        lambda: cluster_records(frame["record_id"], duck_pairs, config.match_threshold))

    from email_data_platform.lib.identity.spark import (
        cluster_records_on_spark,
        local_spark_session,
        score_all_pairs_on_spark,
    )

    workdir = tempfile.mkdtemp(prefix="edp-bench-spark-")
    spark, session_s = timed(lambda: local_spark_session(f"{workdir}/checkpoints"))
    try:
        spark_pairs, spark_score_s = timed(lambda: score_all_pairs_on_spark(
            frame, model.settings, spark, config, workdir=workdir))
        spark_clusters, spark_cluster_s = timed(lambda: cluster_records_on_spark(
            spark, frame["record_id"], spark_pairs, config.match_threshold, workdir=workdir))
    finally:
        spark.stop()
    print(json.dumps({
        "contacts": args.contacts, "records": frame.height,
        "duckdb_pairs": duck_pairs.height, "spark_pairs": spark_pairs.height,
        "duckdb_score_seconds": duck_score_s, "duckdb_cluster_seconds": duck_cluster_s,
        "spark_session_seconds": session_s, "spark_score_seconds": spark_score_s,
        "spark_cluster_seconds": spark_cluster_s,
        "same_clusters": spark_clusters.sort("record_id").equals(duck_clusters.sort("record_id")),
        "driver_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))


if __name__ == "__main__":
    main()
