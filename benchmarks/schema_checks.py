"""A pandera table check on a large warehouse table: read whole, or in the cleaning's batches.

    .venv/bin/python benchmarks/schema_checks.py --rows 3100000

The table is synthetic, shaped like `sources.esp_events` at 1M contacts (3.1M events, a few bad
event types; keys unique as landing leaves them, or with `--repeat-key` one key twice so the
batches split by key hash). Each mode runs in a fresh process
on the same warehouse file. Prints one JSON line: per mode, seconds and peak RSS over the
process's RSS before the check (`base`), and whether both verdicts agree.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from identity_measure import peak_rss_mb, stage  # noqa: E402

from email_data_platform.lib.profiles.stage import (  # noqa: E402
    schemas,
    validate_warehouse_table,
)
from email_data_platform.lib.warehouse import DuckDBWarehouse  # noqa: E402

KINDS = ["sent", "open", "open", "click", "bounce", "unsubscribe", "complaint", "teleport"]


def synthetic_events(rows: int, seed: int, repeat_key: bool) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    kinds = np.array(KINDS)[rng.integers(0, len(KINDS), rows)]
    events = pl.DataFrame({
        "event_id": pl.int_range(rows, eager=True).cast(pl.Utf8).str.pad_start(9, "0"),
        "source": "mailchimp", "campaign_id": rng.integers(0, 300, rows).astype(str),
        "email": pl.int_range(rows, eager=True).cast(pl.Utf8) + "@example.com",
        "event_type": kinds, "occurred_at": "2026-01-01T00:00:00Z", "run_id": "r"})
    return pl.concat([events, events.head(1)]) if repeat_key else events


def verdict(summary) -> list:
    return sorted((r["column"], r["check"], r["failing_rows"])
                  for r in summary.failures.to_dicts())


def check(warehouse: Path, mode: str) -> dict:
    """One mode's figures, in this (fresh) process."""
    wh = DuckDBWarehouse(warehouse)
    figures: dict = {"base_rss_mb": peak_rss_mb()}
    with stage(figures, mode):
        if mode == "batched":
            summary = validate_warehouse_table(wh, schemas.RawEspEvents, "sources.esp_events",
                                               "event_id")
        else:
            summary = schemas.validate_table(schemas.RawEspEvents,
                                             wh.read("sources.esp_events"), "event_id")
    return figures | {"verdict": verdict(summary)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=3_100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat-key", action="store_true",
                        help="repeat one key: batches split by key hash, not runs of rows")
    parser.add_argument("--check", choices=["batched", "whole"])
    parser.add_argument("--warehouse", type=Path)
    args = parser.parse_args()
    if args.check:
        print(json.dumps(check(args.warehouse, args.check)))
        return
    figures: dict = {"rows": args.rows + args.repeat_key, "repeat_key": args.repeat_key}
    with tempfile.TemporaryDirectory() as folder:
        warehouse = Path(folder) / "wh.duckdb"
        wh = DuckDBWarehouse(warehouse)
        wh.write("sources.esp_events", synthetic_events(args.rows, args.seed, args.repeat_key))
        wh.close()
        verdicts = []
        for mode in ("batched", "whole"):
            out = subprocess.run([sys.executable, __file__, "--check", mode, "--warehouse",
                                  str(warehouse)], check=True, capture_output=True, text=True)
            found = json.loads(out.stdout.strip().splitlines()[-1])
            verdicts.append(found.pop("verdict"))
            figures.update({f"{mode}_{k}" if k == "base_rss_mb" else k: v
                            for k, v in found.items()})
    figures["same_verdict"] = verdicts[0] == verdicts[1]
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
