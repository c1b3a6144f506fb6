"""Consent decisions at scale: privacy.consent_ledger, address_consent and topic preferences
from N records' consent events (decide_consent, as the consent_ledger asset runs it).

    .venv/bin/python benchmarks/consent_ledger.py --records 1000000

Events are synthetic but shaped like the feeds': per record about 1.5 consent-platform events
over the four purposes and a topic, an ESP withdrawal by address for 5% of addresses, a CRM
opt-out for 2% of records; ~1.4 records per person. Prints one JSON line: rows and, per stage,
seconds and peak RSS (the kernel's high-water mark, reset before each stage).
"""

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from identity_measure import peak_rss_mb, stage  # noqa: E402

from email_data_platform.lib.privacy.consent_events import CONSENT_EVENT_SCHEMA  # noqa: E402
from email_data_platform.lib.privacy.stage import decide_consent  # noqa: E402
from email_data_platform.lib.warehouse import DuckDBWarehouse  # noqa: E402

PURPOSES = ["email_marketing", "email_marketing", "personalisation", "analytics", "profiling",
            "newsletter"]
START = datetime(2024, 1, 1, tzinfo=UTC)


def synthetic(records: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = pl.Series([f"hubspot:{i}" for i in range(records)])
    people = (np.arange(records) / 1.4).astype(np.int64)
    keys = pl.Series([f"p{p}@example.com" for p in people])
    profiles = pl.DataFrame({"record_id": ids, "entity_id": pl.Series(people).cast(pl.Utf8),
                             "email_key": keys})
    n = int(records * 1.5)
    pick = rng.integers(0, records, n)
    times = pl.Series(START.timestamp() + rng.integers(0, 2 * 365 * 86400, n)) * 1_000_000
    platform = pl.DataFrame({
        "event_id": [f"c{i}" for i in range(n)], "record_id": ids.gather(pick),
        "email_key": keys.gather(pick),
        "purpose": pl.Series(PURPOSES).gather(rng.integers(0, len(PURPOSES), n)),
        "status": pl.Series(["granted", "withdrawn"]).gather((rng.random(n) < 0.2).astype(int)),
        "occurred_at": times.cast(pl.Datetime("us", "UTC"))})
    stops = rng.choice(records, int(records * 0.07), replace=False)
    esp = pl.DataFrame({"event_id": [f"esp:{i}" for i in stops], "record_id": None,
                        "email_key": keys.gather(stops), "purpose": "email_marketing",
                        "status": "withdrawn",
                        "occurred_at": pl.Series([START] * len(stops))})
    events = pl.concat([platform, esp], how="diagonal_relaxed").with_columns(
        email=pl.col("email_key"), recorded_at=pl.col("occurred_at"), channel=pl.lit("web_form"),
        source_system=pl.lit("consent_platform"), legal_basis=pl.lit("consent"),
        policy_version=pl.lit("2024-05"),
        proof_reference=pl.concat_str(pl.lit("consent_platform:"), "event_id"),
        metadata_issues=pl.lit(None, pl.Utf8), run_id=pl.lit("bench"))
    events = events.select([pl.col(c).cast(t) for c, t in CONSENT_EVENT_SCHEMA.items()])
    return profiles, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    profiles, events = synthetic(args.records, args.seed)
    wh = DuckDBWarehouse(":memory:")
    wh.write("profiles.clean_profiles", profiles.select(
        "record_id", "email_key", email="email_key", updated_at=pl.lit(START)))
    wh.write("identity.entities", profiles.select("record_id", "entity_id"))
    wh.write("privacy.consent_events", events)
    figures = {"records": args.records, "events": events.height,
               "setup_peak_rss_mb": peak_rss_mb()}
    del profiles, events
    with stage(figures, "decide_consent"):
        decisions = decide_consent(wh)
    figures |= {"ledger_rows": decisions.ledger.height,
                "address_rows": decisions.address_consent.height,
                "topic_rows": decisions.topics.height}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
