"""Scale benchmark: generate contacts, clean them, train, resolve identities; print one JSON line.

    .venv/bin/python benchmarks/run.py --contacts 1000000

Stages run in one process against a DuckDB warehouse file in a temporary folder, exactly as the
assets do (`lib.identity.stage`). The peak-RSS mark is reset before each stage, so
`<stage>_peak_rss_mb` is that stage's own peak. Figures (issue 5 targets, 2 cores):
`identity_seconds` (clean profiles -> entities, 1M: <= 35 s, <= 2 GB), `training_seconds`
(100k sample: <= 20 s), `incremental_seconds` (10k new vs 1M: <= 10% of a full run), and
quality against the generator's truth (pairwise and cluster F1 >= 0.95).
"""

import argparse
import json
import logging
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from identity_measure import stage  # noqa: E402

from email_data_platform.lib.cleaning import clean_contacts  # noqa: E402
from email_data_platform.lib.identity import stage as identity  # noqa: E402
from email_data_platform.lib.identity.evaluation import evaluate  # noqa: E402
from email_data_platform.lib.identity.settings import IdentityConfig  # noqa: E402
from email_data_platform.lib.warehouse import DuckDBWarehouse  # noqa: E402
from email_data_platform.sandbox.generator import generate_dataset  # noqa: E402


def crm_contacts(contacts: pl.DataFrame) -> pl.DataFrame:
    """Generator contacts in the `sources.crm_contacts` shape."""
    return contacts.with_columns(
        pl.concat_str(pl.lit("hubspot:"), pl.col("id")).alias("record_id"),
        pl.lit("hubspot").alias("source"),
        pl.col("id").alias("object_id"),
        pl.lit(False).alias("archived"),
        pl.lit(datetime.now(UTC)).alias("extracted_at"),
        pl.lit("benchmark").alias("run_id"),
    ).drop("id")


def prefixed(metrics: dict, prefix: str) -> dict:
    keep = ("pairwise_precision", "pairwise_recall", "pairwise_f1", "cluster_precision",
            "cluster_recall", "cluster_f1")
    return {f"{prefix}{key}": metrics[key] for key in keep}


def run(contacts: int, seed: int, delta: int, workdir: Path) -> dict:
    figures: dict = {"contacts": contacts, "seed": seed, "delta_contacts": delta}
    with stage(figures, "generate"):
        dataset = generate_dataset(contacts, seed)
        truth = dataset.truth
        raw = crm_contacts(dataset.contacts)
        del dataset
    with stage(figures, "clean"):
        clean = clean_contacts(raw, "benchmark").clean
    del raw
    figures["clean_rows"] = clean.height
    warehouse = DuckDBWarehouse(workdir / "warehouse.duckdb")
    held_back = clean.sample(n=min(delta, clean.height // 10), seed=seed)["record_id"]
    is_held_back = pl.col("record_id").is_in(held_back.implode())
    warehouse.write(identity.PROFILES, clean.filter(~is_held_back))
    config = IdentityConfig()
    with stage(figures, "training"):
        identity.ensure_model(warehouse, workdir / "models", config, force=True, max_age_days=0)
    with stage(figures, "identity"):
        pairs = identity.link_pairs(warehouse, config, "full")
        identity.resolve_entities(warehouse, config)
    figures["pairs_scored"] = pairs["pairs_scored"]
    figures["comparisons_blocked"] = int(pairs["comparisons_by_rule"]["comparisons"].sum())
    with stage(figures, "golden"):
        identity.build_golden(warehouse)
    figures.update(prefixed(evaluate(warehouse.read(identity.ENTITIES), truth), "full_"))
    if delta:
        warehouse.write(identity.PROFILES, clean)
        del clean
        with stage(figures, "incremental"):
            step = identity.link_pairs(warehouse, config, "incremental")
            identity.resolve_entities(warehouse, config)
        figures["incremental_mode"] = step["mode"]
        figures["incremental_pairs_scored"] = step["pairs_scored"]
        figures["incremental_share_of_full"] = round(
            figures["incremental_seconds"] / figures["identity_seconds"], 3)
    entities = warehouse.read(identity.ENTITIES)
    figures.update(prefixed(evaluate(entities, truth), ""))
    figures["entities"] = entities["entity_id"].n_unique()
    warehouse.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--delta", type=int, default=10_000,
                        help="contacts held back and linked incrementally at the end (0: skip)")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="edp-bench-") as tmp:
        figures = run(args.contacts, args.seed, args.delta, args.workdir or Path(tmp))
    sys.stdout.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
