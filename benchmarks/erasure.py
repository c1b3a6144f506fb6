"""Benchmark: the cost of erasure, tombstones and export on N contacts (default 100,000).

    .venv/bin/python benchmarks/erasure.py [--contacts N] [--seed S] [--erase K]

A DuckDB warehouse in a temp folder gets generator contacts as `sources.crm_contacts` and a
cleaned `profiles.clean_profiles`, one entity per record in `identity.entities` and the
generator's engagement as `sources.esp_events`. Timed: filing and carrying out K erasures (the
person found in every table, tombstoned, deleted; no ESP), one export, the per-run sweep and
the blocking check with tombstones present (right after the sweep, when nothing changed, and
after one table's identifiers changed), and the landing hook on a full re-landing of the
contacts. Prints one JSON line.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from email_data_platform.lib.privacy.crypto import PiiCipher  # noqa: E402
from email_data_platform.lib.privacy.erasure import (  # noqa: E402
    process_erasures,
    request_erasure,
)
from email_data_platform.lib.privacy.export import export_subject  # noqa: E402
from email_data_platform.lib.privacy.pseudonyms import PseudonymKeyring  # noqa: E402
from email_data_platform.lib.privacy.tombstones import (  # noqa: E402
    apply_tombstones,
    remaining_rows,
    sweep,
)
from email_data_platform.lib.profiles.stage import clean_contacts  # noqa: E402
from email_data_platform.lib.warehouse import DuckDBWarehouse  # noqa: E402
from email_data_platform.sandbox.generator import generate_dataset  # noqa: E402
from email_data_platform.sandbox.raw_contacts import as_crm_contacts  # noqa: E402


def seed(wh: DuckDBWarehouse, contacts: int, seed_value: int) -> pl.DataFrame:
    dataset = generate_dataset(contacts, seed_value)
    raw = as_crm_contacts(dataset.contacts, "bench")
    wh.write("sources.crm_contacts", raw)
    clean = clean_contacts(raw, "bench").clean
    wh.write("profiles.clean_profiles", clean)
    wh.write("identity.entities", clean.select(
        "record_id", pl.concat_str(pl.lit("ent_"), pl.col("record_id")).alias("entity_id")))
    wh.write("sources.esp_events", dataset.engagement)
    return clean


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return value, round(time.perf_counter() - started, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--erase", type=int, default=5)
    args = parser.parse_args()
    ring = PseudonymKeyring({"k1": "benchmark-secret-0123456789"}, "k1")
    cipher = PiiCipher({"e1": b"0" * 32}, "e1")
    os.environ["EDP_PSEUDONYM_KEYS"] = "k1=benchmark-secret-0123456789"
    with tempfile.TemporaryDirectory() as folder:
        wh = DuckDBWarehouse(Path(folder) / "wh.duckdb")
        clean = seed(wh, args.contacts, args.seed)
        raw = wh.read("sources.crm_contacts")
        emails = clean.filter(pl.col("email_key").is_not_null())["email"].head(args.erase)
        _, export_s = timed(export_subject, wh, ring, email=emails[1])
        for email in emails:
            request_erasure(wh, cipher, ring, email=email)
        outcomes, erase_s = timed(process_erasures, wh, ring, cipher, [], "bench")
        swept, sweep_s = timed(sweep, wh, ring)
        remaining, check_s = timed(remaining_rows, wh, ring)
        _, resweep_s = timed(sweep, wh, ring)
        wh.execute("update profiles.clean_profiles set city = null")  # content of ids unchanged
        _, recheck_s = timed(remaining_rows, wh, ring)
        wh.execute("update sources.crm_contacts set email = lower(email)")  # ids changed
        _, changed_check_s = timed(remaining_rows, wh, ring)
        kept, landing_s = timed(apply_tombstones, wh, "sources.crm_contacts", raw, ring)
        wh.close()
    print(json.dumps({
        "contacts": args.contacts, "erasures": len(outcomes),
        "rows_deleted": sum(sum(o.rows_per_table.values()) for o in outcomes),
        "erase_seconds_per_person": round(erase_s / max(len(outcomes), 1), 3),
        "export_seconds": export_s, "sweep_seconds": sweep_s,
        "swept_rows": sum(swept["erased"].values()),
        "check_after_sweep_seconds": check_s, "sweep_unchanged_seconds": resweep_s,
        "check_other_columns_changed_seconds": recheck_s,
        "check_one_table_changed_seconds": changed_check_s,
        "check_rows_found": sum(remaining.values()),
        "landing_hook_seconds": landing_s, "landing_rows_in": raw.height,
        "landing_rows_dropped": raw.height - kept.height,
        "load_average": os.getloadavg()[0],
    }))


if __name__ == "__main__":
    main()
