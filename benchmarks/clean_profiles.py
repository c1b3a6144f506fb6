"""Benchmark: clean and validate N raw CRM contacts (default 1,000,000); prints one JSON line.

    .venv/bin/python benchmarks/clean_profiles.py [--contacts N] [--seed S] [--hostile-share F]
        [--warehouse]

Generation (the synthetic CRM export) is not timed. Timed: `clean_contacts` (normalise, dedupe,
rules, quarantine) and pandera validation of the clean table and the quarantine, i.e. what the
profiles asset and its blocking checks do, minus warehouse I/O. The machine's load average is
reported with the figures because the 2 cores are shared. `--warehouse` also times the
DuckDB round trip the asset adds (read the raw table, write clean + quarantine) in a temp file.
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from email_data_platform.lib.profiles import schemas  # noqa: E402
from email_data_platform.lib.profiles.countries import (  # noqa: E402
    country_lookup,
    to_iso_alpha2,
)
from email_data_platform.lib.profiles.phones import library_share  # noqa: E402
from email_data_platform.lib.profiles.stage import clean_contacts  # noqa: E402
from email_data_platform.lib.profiles.text import tidy_text  # noqa: E402
from email_data_platform.lib.warehouse import DuckDBWarehouse  # noqa: E402
from email_data_platform.sandbox.generator import generate_dataset  # noqa: E402
from email_data_platform.sandbox.raw_contacts import (  # noqa: E402
    as_crm_contacts,
    with_hostile_values,
)


def raw_contacts(count: int, seed: int, hostile_share: float) -> pl.DataFrame:
    """Generator contacts in the `sources.crm_contacts` shape, with hostile text sprinkled in."""
    raw = as_crm_contacts(generate_dataset(count, seed).contacts, "benchmark")
    return with_hostile_values(raw, hostile_share, seed)


def measure(raw: pl.DataFrame) -> dict:
    # Country names load lazily on first use (a one-off ~2 s import per process): not cleaning.
    country_lookup()
    cpu_started = time.process_time()
    started = time.perf_counter()
    result = clean_contacts(raw, "benchmark")
    cleaned = time.perf_counter()
    profiles = schemas.validate_table(schemas.CleanProfiles, result.clean, "record_id")
    quarantine = schemas.validate_table(schemas.Quarantine, result.quarantine, "record_key")
    validated = time.perf_counter()
    cpu_seconds = time.process_time() - cpu_started
    phones = raw.select(
        tidy_text(raw["phone"]).alias("phone"),
        to_iso_alpha2(tidy_text(raw["country"])).alias("country"),
    )
    return {
        "clean_rows": result.clean.height,
        "quarantined_rows": result.quarantine.height,
        "accounted": result.clean.height + result.quarantine.height == raw.height,
        "validation_passed": profiles.passed and quarantine.passed,
        "clean_seconds": round(cleaned - started, 3),
        "validate_seconds": round(validated - cleaned, 3),
        "total_seconds": round(validated - started, 3),
        "rows_per_second": round(raw.height / (validated - started)),
        # CPU seconds over all threads: on a busy shared machine wall time overstates cost.
        "cpu_seconds": round(cpu_seconds, 3),
        "phone_library_share": round(library_share(phones), 5),
        "quarantine_by_rule": dict(
            result.quarantine.group_by("rule").len().sort("rule").iter_rows()
        ),
    }


def measure_warehouse(raw: pl.DataFrame) -> dict:
    """Seconds for the asset's warehouse I/O around the cleaning (DuckDB file in a temp dir)."""
    with tempfile.TemporaryDirectory() as folder:
        warehouse = DuckDBWarehouse(Path(folder) / "bench.duckdb")
        warehouse.write("sources.crm_contacts", raw)
        started = time.perf_counter()
        loaded = warehouse.read("sources.crm_contacts")
        read = time.perf_counter()
        result = clean_contacts(loaded, "benchmark")
        cleaned = time.perf_counter()
        warehouse.write("profiles.clean_profiles", result.clean)
        warehouse.write("profiles.quarantine", result.quarantine)
        written = time.perf_counter()
        warehouse.close()
    return {
        "warehouse_read_seconds": round(read - started, 3),
        "warehouse_clean_seconds": round(cleaned - read, 3),
        "warehouse_write_seconds": round(written - cleaned, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--hostile-share", type=float, default=0.001)
    parser.add_argument("--warehouse", action="store_true", help="also time DuckDB I/O")
    args = parser.parse_args()
    generation_started = time.perf_counter()
    raw = raw_contacts(args.contacts, args.seed, args.hostile_share)
    figures = {
        "benchmark": "clean_profiles",
        "raw_rows": raw.height,
        "generate_seconds": round(time.perf_counter() - generation_started, 3),
        **measure(raw),
        **(measure_warehouse(raw) if args.warehouse else {}),
        "cpu_count": os.cpu_count(),
        "polars_threads": pl.thread_pool_size(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
