"""Full extraction of N contacts from the local HubSpot simulator into DuckDB; prints one JSON line.

    .venv/bin/python benchmarks/extract_contacts.py --contacts 100000

The simulators run in threads of this process (as in `edp run`); the figure covers listing every
contact over HTTP (100 per page, as HubSpot allows), mapping and landing them in the warehouse.
"""

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

from email_data_platform.lib.connectors.hubspot import HubSpotClient
from email_data_platform.lib.sources.pulls import extract_hubspot
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform.sandbox.faults import FaultConfig
from email_data_platform.sandbox.generator import generate_dataset, write_dataset
from email_data_platform.sandbox.server import Sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--error-rate", type=float, default=0.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        write_dataset(generate_dataset(args.contacts, args.seed), root / "data")
        generated_s = time.perf_counter() - started
        started = time.perf_counter()
        sandbox = Sandbox(root / "data", root / "journal.jsonl",
                          FaultConfig(error_rate=args.error_rate))
        info = sandbox.start()
        startup_s = time.perf_counter() - started
        wh = DuckDBWarehouse(root / "wh.duckdb")
        client = HubSpotClient(info["hubspot"]["base_url"], info["hubspot"]["access_token"])
        try:
            started = time.perf_counter()
            run = extract_hubspot(wh, client, "contacts", "benchmark")
            extract_s = time.perf_counter() - started
            stats = sandbox.hubspot.stats()["contacts"]
        finally:
            client.close()
            sandbox.stop()
            wh.close()
    print(json.dumps({
        "benchmark": "extract_contacts", "contacts": args.contacts,
        "extract_seconds": round(extract_s, 2),
        "records_per_second": round(run.rows_landed / extract_s),
        "sandbox_startup_seconds": round(startup_s, 2),
        "generate_seconds": round(generated_s, 2),
        "rows_landed": run.rows_landed, "pages": run.pages, "requests": run.http["requests"],
        "retries": run.http["retries"], "target_seconds": 30,
        "count_matches": run.table_active_rows == stats["total"],
        "checksum_matches": run.table_checksum == stats["checksum"],
    }))


if __name__ == "__main__":
    main()
