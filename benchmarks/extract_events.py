"""First read of Mailchimp engagement for N contacts: paged over REST, or in batch operations.

    .venv/bin/python benchmarks/extract_events.py --contacts 200000

The simulators run in threads of this process (as in `edp run`), so both figures include the
simulator's work. Each mode lands into its own fresh warehouse from the same account. Prints
one JSON line: per mode, seconds, requests and rows landed, and whether both landed the same
events.
"""

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

from email_data_platform.lib.connectors.mailchimp import MailchimpClient
from email_data_platform.lib.sources.stage import extract_esp_events
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform.sandbox.generator import generate_dataset, write_dataset
from email_data_platform.sandbox.server import Sandbox

MODES = {"paged": 10**15, "bulk": 0}  # bulk_min_recipients


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    figures: dict = {"benchmark": "extract_events", "contacts": args.contacts}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_dataset(generate_dataset(args.contacts, args.seed), root / "data")
        sandbox = Sandbox(root / "data", root / "journal.jsonl")
        info = sandbox.start()
        landed = {}
        try:
            for mode, bulk_min in MODES.items():
                wh = DuckDBWarehouse(root / f"{mode}.duckdb")
                client = MailchimpClient(info["mailchimp"]["base_url"],
                                         info["mailchimp"]["api_key"])
                try:
                    started = time.perf_counter()
                    run = extract_esp_events(wh, client, info["mailchimp"]["list_id"], mode,
                                             bulk_min_recipients=bulk_min)
                    figures[f"{mode}_seconds"] = round(time.perf_counter() - started, 2)
                    figures[f"{mode}_requests"] = run.http["requests"]
                    figures[f"{mode}_rows_landed"] = run.rows_landed
                    landed[mode] = wh.query("select count(*) as n, count(distinct event_id) as"
                                            " ids from sources.esp_events").row(0)
                finally:
                    client.close()
                    wh.close()
        finally:
            sandbox.stop()
    figures["same_events"] = landed["paged"] == landed["bulk"]
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
