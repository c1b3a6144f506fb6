"""The ESP sync at scale against both simulators; prints one JSON line of figures.

    nice -n 10 .venv/bin/python benchmarks/sync.py --members 100000

The simulators run in their own process (as `edp run` starts them); the payload is built from
the project's generator (one member per generated contact address, with the shipped
destinations.yaml) and written to a fresh DuckDB warehouse. Phases, each timed and counted from
the simulators' request journal:
- initial: every member pushed to Mailchimp and SendGrid;
- unchanged: the same payload again (target: zero write requests);
- changed_1pct: 1% of members get a new lifetime value (target: only they are pushed);
- left_1pct: 1% leave the audience (removals: Mailchimp batch operations, SendGrid list removals).
Expected write requests are ceil(rows / the API's batch maximum) (Mailchimp 500, SendGrid 30,000;
SendGrid removals go 100 contact ids per call); job polls are counted apart.
"""

import argparse
import json
import logging
import math
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from email_data_platform.cli.sandbox_process import sandbox_process  # noqa: E402
from email_data_platform.lib.activation.stage import (  # noqa: E402
    DEFAULT_DESTINATIONS_PATH,
    SyncSettings,
    build_payload,
    destinations_for,
    esp_targets,
    sync_destination,
)
from email_data_platform.lib.connectors.mailchimp import MailchimpClient  # noqa: E402
from email_data_platform.lib.connectors.sendgrid import SendGridClient  # noqa: E402
from email_data_platform.lib.warehouse import DuckDBWarehouse  # noqa: E402
from email_data_platform.sandbox.generator import generate_dataset  # noqa: E402

WRITES = ("PUT", "POST", "DELETE", "PATCH")
READ_POSTS = ("/search/emails",)
BATCH = {"mailchimp": 500, "sendgrid": 30_000}


def audience_tables(members: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(audience, features, segments) for `members` distinct generated addresses."""
    contacts = generate_dataset(max(members * 2, 1000), seed).contacts
    people = (contacts.select("email", "first_name", "last_name")
              .with_columns(pl.col("email").str.strip_chars().str.to_lowercase())
              .filter(pl.col("email").str.contains(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"))
              .unique("email", keep="first", maintain_order=True).head(members)
              .with_row_index("n"))
    if people.height < members:
        raise SystemExit(f"the generator gave only {people.height} distinct valid addresses")
    audience = people.select(entity_id=pl.format("e{}", "n"), email="email",
                             first_name="first_name", last_name="last_name",
                             consent_event_id=pl.format("c{}", "n"), personalisation=pl.lit(True))
    features = people.select(entity_id=pl.format("e{}", "n"),
                             lifetime_value=(pl.col("n") % 997).cast(pl.Float64))
    segments = people.filter(pl.col("n") % 3 == 0).select(entity_id=pl.format("e{}", "n"),
                                                           segment=pl.lit("high_value"))
    return audience, features, segments


def write_requests(journal: Path, start: int) -> tuple[int, dict]:
    """(line count now, {vendor: {"writes", "polls", "reads"}}) since line `start`."""
    lines = journal.read_text().splitlines()
    counts: dict = {"mailchimp": {"writes": 0, "polls": 0, "reads": 0},
                    "sendgrid": {"writes": 0, "polls": 0, "reads": 0}}
    for line in lines[start:]:
        entry = json.loads(line)
        vendor = counts.get(entry["vendor"])
        if vendor is None:
            continue
        path = entry["path"]
        if entry["method"] in WRITES and not path.endswith(READ_POSTS):
            vendor["writes"] += 1
        elif "/imports/" in path or "/batches/" in path:
            vendor["polls"] += 1
        else:
            vendor["reads"] += 1
    return len(lines), counts


def run_phase(wh, targets, name: str, journal: Path, start: int) -> tuple[int, dict]:
    figures, outcomes = {}, {}
    for target in targets:  # one destination after the other, each timed on its own
        started = time.perf_counter()
        outcomes[target.destination.name] = sync_destination(
            wh, target, f"bench-{name}", SyncSettings(max_archive_fraction=1.0))
        figures[target.destination.name] = {"seconds": round(time.perf_counter() - started, 2)}
    end, requests = write_requests(journal, start)
    for vendor, outcome in outcomes.items():
        row = outcome.summary.row(0, named=True)
        figures[vendor].update({"upserted": row["upserted"], "removed": row["archived"],
                                "failed": row["failed"] + row["rejected"], **requests[vendor]})
    return end, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    destinations = destinations_for(DEFAULT_DESTINATIONS_PATH)
    audience, features, segments = audience_tables(args.members, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "data").mkdir()
        journal = root / "journal.jsonl"
        wh = DuckDBWarehouse(root / "wh.duckdb")
        with sandbox_process(root / "data", journal) as info:
            chimp = MailchimpClient(info["mailchimp"]["base_url"], info["mailchimp"]["api_key"])
            grid = SendGridClient(info["sendgrid"]["base_url"], info["sendgrid"]["api_key"])
            targets = esp_targets(destinations, chimp, info["mailchimp"]["list_id"], grid)
            figures, start = {"members": args.members}, 0

            def phase(name: str, audience_now: pl.DataFrame, features_now: pl.DataFrame):
                nonlocal start
                for table, frame in (("identity.golden_profiles",
                                      audience.select("entity_id", "email")),
                                     ("audiences.marketable_audience", audience_now),
                                     ("audiences.customer_features", features_now),
                                     ("audiences.segments", segments)):
                    wh.write(table, frame)
                build_payload(wh, destinations)
                for target in targets:
                    target.requests.clear()
                start, figures[name] = run_phase(wh, targets, name, journal, start)

            phase("initial", audience, features)
            phase("unchanged", audience, features)
            changed = max(1, args.members // 100)
            bumped = features.with_columns(lifetime_value=pl.when(
                pl.col("entity_id").is_in(audience["entity_id"].head(changed).implode()))
                .then(pl.col("lifetime_value") + 1000).otherwise("lifetime_value"))
            phase("changed_1pct", audience, bumped)
            phase("left_1pct", audience.slice(changed), bumped)
            chimp.close()
            grid.close()
        figures["expected_initial_writes"] = {
            v: math.ceil(args.members / b) for v, b in BATCH.items()}
        figures["expected_changed_writes"] = {
            v: math.ceil(changed / b) for v, b in BATCH.items()}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
