"""How much the ESP reconciliation costs next to the push it checks, against the Mailchimp
simulator: the push of N members (batches of 500), the count request reconciliation makes
when the counts agree, and the full member listing it makes when they differ.

    .venv/bin/python benchmarks/reconcile.py --members 100000

Prints one JSON line. Issue 13's target: reconciling costs at most 10% of the sync's time.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import polars as pl

from email_data_platform.lib.connectors.mailchimp import MailchimpClient, subscriber_hash
from email_data_platform.lib.observability.stage import synced_state_vs_esp
from email_data_platform.sandbox.server import running_sandbox


def push(client: MailchimpClient, list_id: str, members: int) -> float:
    started = time.perf_counter()
    for first in range(0, members, 500):
        batch = [{"email_address": f"member{i}@example.com", "status": "subscribed"}
                 for i in range(first, min(first + 500, members))]
        client.batch_upsert_members(list_id, batch)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=100_000, help="members in the audience")
    args = parser.parse_args()
    synced = pl.DataFrame({
        "subscriber_hash": [subscriber_hash(f"member{i}@example.com")
                            for i in range(args.members)],
        "status": ["active"] * args.members})
    with tempfile.TemporaryDirectory() as tmp, running_sandbox(
            Path(tmp) / "none", Path(tmp) / "journal.jsonl") as info:
        esp = info["mailchimp"]
        client = MailchimpClient(esp["base_url"], esp["api_key"])
        push_seconds = push(client, esp["list_id"], args.members)

        def count() -> int:
            stats = client.http.request("GET", f"/lists/{esp['list_id']}")["stats"]
            return int(stats["member_count"])

        started = time.perf_counter()
        fast = synced_state_vs_esp(synced, count(), lambda: [])
        count_seconds = time.perf_counter() - started
        started = time.perf_counter()
        full = synced_state_vs_esp(synced, count(),
                                   lambda: list(client.iter_members(esp["list_id"])),
                                   always_list=True)
        list_seconds = time.perf_counter() - started
        client.close()
    assert fast.row.ok and full.row.ok
    print(json.dumps({
        "members": args.members, "push_seconds": round(push_seconds, 2),
        "reconcile_count_seconds": round(count_seconds, 4),
        "reconcile_full_listing_seconds": round(list_seconds, 2),
        "count_share_of_push": round(count_seconds / push_seconds, 5),
        "full_listing_share_of_push": round(list_seconds / push_seconds, 3),
    }))


if __name__ == "__main__":
    main()
