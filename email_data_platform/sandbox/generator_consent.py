"""Consent events per contact record: grants, later withdrawals and a few invalid rows."""

from datetime import datetime

import numpy as np
import polars as pl

from email_data_platform.sandbox.generator_events import ISO_UTC, random_times
from email_data_platform.sandbox.generator_people import pick

# (policy_version, in force from): an event carries the version in force when it happened.
POLICY_VERSIONS = (("2023-06", datetime(1970, 1, 1)), ("2024-05", datetime(2024, 5, 1)),
                   ("2025-09", datetime(2025, 9, 1)), ("2026-06", datetime(2026, 6, 1)))
CHANNELS = ("web_form", "checkout", "preference_centre", "import")
CHANNEL_P = (0.45, 0.3, 0.1, 0.15)
# purpose -> share of contact records granting it (email marketing first; others are extras)
PURPOSE_GRANT_RATE = {"email_marketing": 0.7, "personalisation": 0.35, "analytics": 0.25,
                      "profiling": 0.3}
TOPICS = ("newsletter", "offers", "product_updates", "events")
TOPIC_LEAVE_RATE = 0.05  # of email-marketing grants: left one topic at the preference centre
WITHDRAW_RATE = 0.1
INVALID_CONSENT_RATE = 0.003


def grant_events(records: pl.DataFrame, rng: np.random.Generator, as_of: datetime,
                 purpose: str, rate: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Grants of `purpose` on ~rate of the records, and withdrawals of ~10% of those grants."""
    granting = records.filter(pl.Series(rng.random(records.height) < rate))
    n = granting.height
    granted = granting.with_columns(
        purpose=pl.lit(purpose), status=pl.lit("granted"),
        channel=pick(CHANNELS, rng.choice(len(CHANNELS), size=n, p=CHANNEL_P)),
        ts=random_times(rng, granting["created_ts"], as_of),
    )
    leaving = granted.filter(pl.Series(rng.random(n) < WITHDRAW_RATE))
    withdrawn = leaving.with_columns(
        status=pl.lit("withdrawn"),
        channel=pick(("web_form", "preference_centre"), rng.integers(0, 2, leaving.height)),
        ts=random_times(rng, leaving["ts"], as_of),
    )
    return granted, withdrawn


def policy_version_at(ts: pl.Expr) -> pl.Expr:
    version = pl.lit(POLICY_VERSIONS[0][0])
    for name, start in POLICY_VERSIONS[1:]:
        version = pl.when(ts >= start).then(pl.lit(name)).otherwise(version)
    return version


def build_consent(records: pl.DataFrame, rng: np.random.Generator,
                  as_of: datetime) -> pl.DataFrame:
    """~70% of contact records grant email marketing (~10% withdraw later); some grant
    personalisation or analytics; the rest never consent. ~0.3% rows are invalid."""
    events: list[pl.DataFrame] = []
    for purpose, rate in PURPOSE_GRANT_RATE.items():
        events.extend(grant_events(records, rng, as_of, purpose, rate))
    events.append(topic_departures(events[0], rng, as_of))
    columns = ["contact_id", "email", "purpose", "status", "channel", "ts"]
    stream = pl.concat([e.select(columns) for e in events]).sort("ts", "contact_id", "purpose")
    n = stream.height
    broken = np.where(rng.random(n) < INVALID_CONSENT_RATE, rng.integers(1, 3, n), 0)
    return stream.select(
        event_id="cns_" + pl.int_range(1, n + 1).cast(pl.Utf8).str.zfill(9),
        contact_id="contact_id", email="email",
        purpose=pl.when(pl.Series(broken == 1)).then(pl.lit("spam_me"))
        .otherwise(pl.col("purpose")),
        status="status",
        channel=pl.when(pl.Series(broken == 2)).then(pl.lit("carrier_pigeon"))
        .otherwise(pl.col("channel")),
        occurred_at=pl.col("ts").dt.strftime(ISO_UTC),
        policy_version=policy_version_at(pl.col("ts")),
        # the consent platform's receipt: what an auditor is shown as proof
        proof_reference="rcpt-" + pl.int_range(1, n + 1).cast(pl.Utf8).str.zfill(9),
    )


def topic_departures(marketing_grants: pl.DataFrame, rng: np.random.Generator,
                     as_of: datetime) -> pl.DataFrame:
    """A few people leave one preference-centre topic while keeping email marketing."""
    leaving = marketing_grants.filter(pl.Series(rng.random(marketing_grants.height)
                                                < TOPIC_LEAVE_RATE))
    return leaving.with_columns(
        purpose=pick(TOPICS, rng.integers(0, len(TOPICS), leaving.height)),
        status=pl.lit("withdrawn"), channel=pl.lit("preference_centre"),
        ts=random_times(rng, leaving["ts"], as_of),
    )
