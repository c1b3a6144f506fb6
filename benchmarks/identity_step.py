"""One benchmark step in a fresh process, so its peak RSS is its own: prints one JSON line.

    python benchmarks/identity_step.py STEP WORKDIR [--contacts N] [--seed S]

STEP: `generate` (N generator contacts landed as `sources.crm_contacts`, batch by batch as a
CRM export lands, and the truth written to WORKDIR/truth.parquet), `clean` (the profiles
asset's batched cleaning of the contacts: `sources.crm_contacts` -> `profiles.clean_profiles`
and the quarantine), `training` (100k-record sample), `identity` (clean profiles -> pairs ->
entities, full), `golden`, `incremental` (link new/changed profiles only). WORKDIR holds
warehouse.duckdb.
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# DuckDB imports pandas on the first query with parameters (~1 s): an import, paid once per
# process (a Dagster run has it loaded already), so it is taken out of every step's timing.
# Likewise pyarrow.dataset (DuckDB, first registered arrow table) and sqlglot's DuckDB
# dialect (Splink, first SQL it builds): ~0.08 s of imports in every step that links.
import pandas  # noqa: E402, F401
import pyarrow.dataset  # noqa: E402, F401
import sqlglot.dialects.duckdb  # noqa: E402, F401
from identity_measure import peak_rss_mb  # noqa: E402

from email_data_platform.defs.profiles.tables import (  # noqa: E402
    CONTACTS,
    FIELD_ISSUES_TABLE,
    QUARANTINE_TABLE,
)
from email_data_platform.lib.identity import stage  # noqa: E402
from email_data_platform.lib.identity.settings import IdentityConfig  # noqa: E402
from email_data_platform.lib.profiles.countries import country_lookup  # noqa: E402
from email_data_platform.lib.profiles.stage import clean_table, publish  # noqa: E402
from email_data_platform.lib.sources.pulls import EXPORT_BATCH  # noqa: E402
from email_data_platform.lib.warehouse import DuckDBWarehouse  # noqa: E402
from email_data_platform.sandbox.generator import generate_dataset  # noqa: E402
from email_data_platform.sandbox.raw_contacts import as_crm_contacts  # noqa: E402

RUN_ID = "benchmark"
TRUTH = "truth.parquet"  # record -> true person, for the quality evaluation


def generate(warehouse: DuckDBWarehouse, workdir: Path, contacts: int, seed: int) -> dict:
    """Generator contacts landed where the sources stage lands them; the truth on disk."""
    dataset = generate_dataset(contacts, seed)
    dataset.truth.write_parquet(workdir / TRUTH)
    raw = as_crm_contacts(dataset.contacts, RUN_ID)
    del dataset  # orders, events and consent: not used here
    for start in range(0, max(raw.height, 1), EXPORT_BATCH):
        warehouse.write(CONTACTS.raw_table, raw.slice(start, EXPORT_BATCH),
                        mode="append" if start else "replace")
    return {"raw_rows": raw.height}


def clean(warehouse: DuckDBWarehouse) -> dict:
    """The contacts part of the profiles asset (`clean_profiles_tables`), as it runs on DuckDB:
    cleaned in batches into a staging table, published, quarantine and field issues written."""
    result = clean_table(warehouse, CONTACTS.raw_table, CONTACTS.raw_key, CONTACTS.clean_table,
                         CONTACTS.cleaner, RUN_ID)
    publish(warehouse, [result])
    warehouse.write(QUARANTINE_TABLE, result.quarantine)
    warehouse.write(FIELD_ISSUES_TABLE, result.field_issues)
    return {"clean_rows": result.clean_rows, "quarantined": result.quarantine.height,
            "batches": result.batches}


def run_step(name: str, warehouse: DuckDBWarehouse, workdir: Path, contacts: int = 0,
             seed: int = 42) -> dict:
    if name == "generate":
        return generate(warehouse, workdir, contacts, seed)
    if name == "clean":
        return clean(warehouse)
    config = IdentityConfig()
    if name == "training":
        row = stage.ensure_model(warehouse, workdir / "models", config, force=True,
                                 max_age_days=0)
        return {"training_rows": int(row["training_rows"]), "u_seconds": float(row["u_seconds"]),
                "em_seconds": float(row["em_seconds"])}
    if name in ("identity", "incremental"):
        mode = "full" if name == "identity" else "incremental"
        pairs = stage.link_pairs(warehouse, config, mode)
        entities = stage.resolve_entities(warehouse, config)
        figures = {"mode": pairs["mode"], "pairs_scored": pairs["pairs_scored"],
                   "entities": entities["entities"], "records": entities["records"]}
        if "comparisons_by_rule" in pairs:
            figures["comparisons_blocked"] = int(pairs["comparisons_by_rule"]["comparisons"].sum())
        return figures
    if name == "golden":
        summary = stage.build_golden(warehouse)
        return {"golden_rows": summary["rows"], "golden_mode": summary["mode"]}
    raise ValueError(f"unknown step {name!r}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("step")
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--contacts", type=int, default=0, help="generate: contacts")
    parser.add_argument("--seed", type=int, default=42, help="generate: seed")
    args = parser.parse_args()
    if args.step == "clean":
        country_lookup()  # a one-off lazy import (~2 s per process), not cleaning work
    warehouse = DuckDBWarehouse(args.workdir / "warehouse.duckdb")
    baseline = peak_rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    warehouse.exists("identity.entities")  # opens the file: a fixed cost of any run
    opened = time.perf_counter()
    figures = run_step(args.step, warehouse, args.workdir, args.contacts, args.seed)
    closing = time.perf_counter()
    warehouse.close()  # DuckDB checkpoints the step's writes into the file here
    figures.update({
        "warehouse_open_seconds": round(opened - started, 2),
        "warehouse_close_seconds": round(time.perf_counter() - closing, 2),
        "seconds": round(time.perf_counter() - started, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "peak_rss_mb": peak_rss_mb(),
        "import_rss_mb": baseline,
    })
    sys.stdout.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
