"""Scale benchmark: generate contacts, clean them, train, resolve identities; print one JSON line.

    .venv/bin/python benchmarks/run.py --contacts 1000000

Every step runs in a fresh process (`identity_step.py`) against a DuckDB warehouse file in a
temporary folder, so `<step>_peak_rss_mb` is that step's own peak (imports included) and
`<step>_cpu_seconds` shows the work apart from waiting for a busy machine. `generate` lands
the generator's contacts in `sources.crm_contacts`, as the sources stage does (the truth, which
record is which person, goes to a parquet file beside the warehouse for the quality figures);
`clean` is the profiles asset's batched cleaning of that table into `profiles.clean_profiles`
(`lib.profiles.batches`); training, identity and golden run as the assets do
(`lib.identity.stage`). Before each step the warehouse is settled (`settle`): earlier writes
flushed to disk, so a step's own checkpoint does not pay to flush the 1M profiles written
before it, and the file read once, so every step starts with it in the OS page cache, as right
after the stage before it wrote it. The full and incremental links run `--repeat` times each
from the same starting file; their figures are medians (every run's seconds are kept in
`<step>_runs`). `--delta` profiles are held out of the clean table for the full link and put
back (the table as cleaned, in its order) for the incremental one.
Issue 5 targets (2 cores): `identity_seconds` (clean profiles -> entities, 1M: <= 35 s,
<= 2 GB), `training_seconds` (100k sample: <= 20 s), `incremental_seconds` (10k new vs 1M:
<= 10% of a full run), quality against the generator's truth (pairwise, cluster F1 >= 0.95).
`golden_incremental_seconds`: golden profiles refreshed after that incremental link (compare
`golden_seconds`, the full build).
"""

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from identity_step import TRUTH  # noqa: E402

from email_data_platform.lib.identity import stage as identity  # noqa: E402
from email_data_platform.lib.identity.evaluation import evaluate  # noqa: E402
from email_data_platform.lib.warehouse import DuckDBWarehouse  # noqa: E402

# The clean table as cleaned, while `--delta` of its profiles are held out of it.
ALL_PROFILES = "profiles.benchmark_all_clean_profiles"


def prefixed(metrics: dict, prefix: str) -> dict:
    keep = ("pairwise_precision", "pairwise_recall", "pairwise_f1", "cluster_precision",
            "cluster_recall", "cluster_f1")
    return {f"{prefix}{key}": metrics[key] for key in keep}


def settle(workdir: Path) -> None:
    """Flush earlier writes and read the warehouse file once (see the module docstring)."""
    os.sync()
    if not (workdir / "warehouse.duckdb").exists():  # before generation
        return
    with open(workdir / "warehouse.duckdb", "rb") as file:
        while file.read(1 << 24):
            pass


def run_step(step: str, workdir: Path, figures: dict, repeat: int = 1,
             label: str | None = None, options: tuple[str, ...] = ()) -> dict:
    """Run one step in a fresh process (`options` passed on), `repeat` times from the same
    warehouse file; record the median `<label>_seconds` (label defaults to the step), CPU
    seconds and warehouse open/close, the peak RSS."""
    label = label or step
    warehouse = workdir / "warehouse.duckdb"
    start = workdir / "before_step.duckdb"
    if repeat > 1:
        shutil.copyfile(warehouse, start)
    runs = []
    for attempt in range(repeat):
        if attempt:
            shutil.copyfile(start, warehouse)
        settle(workdir)
        done = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("identity_step.py")), step,
             str(workdir), *options], check=True, capture_output=True, text=True,
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    start.unlink(missing_ok=True)
    if repeat > 1:
        figures[f"{label}_runs"] = [r["seconds"] for r in runs]
    for key in ("seconds", "cpu_seconds", "warehouse_open_seconds", "warehouse_close_seconds"):
        figures[f"{label}_{key}"] = round(statistics.median(r.pop(key) for r in runs), 2)
    figures[f"{label}_peak_rss_mb"] = max(r.pop("peak_rss_mb") for r in runs)
    result = runs[-1]
    result.pop("import_rss_mb", None)
    return result


def hold_back(workdir: Path, delta: int, seed: int) -> None:
    """Hold a sample of `delta` profiles (at most a tenth) out of the clean table; the table as
    cleaned waits beside it (`ALL_PROFILES`) for the incremental link."""
    warehouse = DuckDBWarehouse(workdir / "warehouse.duckdb")
    ids = warehouse.query(f"select record_id from {identity.PROFILES}")
    held = ids.sample(n=min(delta, ids.height // 10), seed=seed)
    with warehouse.transaction(["profiles"], held=held) as con:
        con.execute(f"alter table {identity.PROFILES} rename to {ALL_PROFILES.split('.')[1]}")
        con.execute(f"create table {identity.PROFILES} as select * from {ALL_PROFILES}"
                    " where record_id not in (select record_id from held) order by rowid")
    warehouse.close()  # one writer at a time: each step opens the file in its own process


def run(contacts: int, seed: int, delta: int, workdir: Path, repeat: int = 1) -> dict:
    figures: dict = {"contacts": contacts, "seed": seed, "delta_contacts": delta,
                     "cpus": os.cpu_count(), "repeat": repeat}
    run_step("generate", workdir, figures,
             options=("--contacts", str(contacts), "--seed", str(seed)))
    cleaned = run_step("clean", workdir, figures)
    figures["clean_rows"], figures["clean_quarantined"] = (cleaned["clean_rows"],
                                                           cleaned["quarantined"])
    if delta:
        hold_back(workdir, delta, seed)
    run_step("training", workdir, figures)
    full = run_step("identity", workdir, figures, repeat)
    figures["pairs_scored"] = full["pairs_scored"]
    figures["comparisons_blocked"] = full.get("comparisons_blocked")
    run_step("golden", workdir, figures)
    warehouse = DuckDBWarehouse(workdir / "warehouse.duckdb")
    truth = pl.read_parquet(workdir / TRUTH)
    figures.update(prefixed(evaluate(warehouse.read(identity.ENTITIES), truth), "full_"))
    del truth  # read again at the end: not held while the incremental steps run
    if delta:
        with warehouse.transaction(["profiles"]) as con:  # every profile, in the clean order
            con.execute(f"drop table {identity.PROFILES}")
            con.execute(f"alter table {ALL_PROFILES} rename to"
                        f" {identity.PROFILES.split('.')[1]}")
        warehouse.close()
        step = run_step("incremental", workdir, figures, repeat)
        figures["incremental_mode"] = step["mode"]
        figures["incremental_pairs_scored"] = step["pairs_scored"]
        figures["incremental_share_of_full"] = round(
            figures["incremental_seconds"] / figures["identity_seconds"], 3)
        figures["incremental_cpu_share_of_full"] = round(
            figures["incremental_cpu_seconds"] / figures["identity_cpu_seconds"], 3)
        # Opening the DuckDB file and checkpointing on close cost the same in both runs.
        work = {s: figures[f"{s}_seconds"] - figures[f"{s}_warehouse_open_seconds"]
                - figures[f"{s}_warehouse_close_seconds"] for s in ("incremental", "identity")}
        figures["incremental_work_share_of_full"] = round(
            work["incremental"] / work["identity"], 3)
        # Golden profiles after the incremental link: only the entities it touched.
        golden = run_step("golden", workdir, figures, repeat, label="golden_incremental")
        figures["golden_incremental_mode"] = golden["golden_mode"]
        warehouse = DuckDBWarehouse(workdir / "warehouse.duckdb")
    entities = warehouse.read(identity.ENTITIES)
    warehouse.close()
    figures.update(prefixed(evaluate(entities, pl.read_parquet(workdir / TRUTH)), ""))
    figures["entities"] = entities["entity_id"].n_unique()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--delta", type=int, default=10_000,
                        help="contacts held back and linked incrementally at the end (0: skip)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the full and the incremental link; medians reported")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="edp-bench-") as tmp:
        figures = run(args.contacts, args.seed, args.delta, args.workdir or Path(tmp),
                      args.repeat)
    sys.stdout.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
