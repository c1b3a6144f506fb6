"""Orders, ESP engagement and consent events for a set of contact records, vectorised.

Input is a frame of contact records with columns: contact_id, person (int, the true person or a
best guess), country_code (ISO alpha-2), email (as the record holds it), esp_email (the address the
ESP knows for the person, or null), created_ts (naive UTC datetime).
"""

from datetime import datetime, timedelta

import numpy as np
import polars as pl

from email_data_platform.sandbox.generator_people import pick

ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"
CURRENCY = {"GB": "GBP", "US": "USD"}  # everyone else in the sample pays in euro
ORDERS_PER_PERSON_P = (0.3, 0.27, 0.2, 0.12, 0.07, 0.04)  # 0..5 orders, mean ~1.5
INVALID_ORDER_RATE = 0.002
CAMPAIGNS = 36  # ~3 a month over the last year


def pick_record_per_item(records: pl.DataFrame, person_of_item: np.ndarray,
                         rng: np.random.Generator) -> np.ndarray:
    """Row index of a random record of each item's person (records are grouped by person)."""
    by_person = records.with_row_index("_row").sort("person", "_row")
    persons = by_person["person"].to_numpy()
    starts = np.searchsorted(persons, person_of_item, side="left")
    ends = np.searchsorted(persons, person_of_item, side="right")
    offset = (rng.random(len(person_of_item)) * (ends - starts)).astype(np.int64)
    return by_person["_row"].to_numpy()[starts + offset]


def random_times(rng: np.random.Generator, start: pl.Series, end: datetime) -> pl.Series:
    """A uniform moment between each `start` and `end` (naive UTC)."""
    span = (pl.lit(end) - start).dt.total_seconds().clip(1)
    frame = pl.DataFrame({"start": start, "u": rng.random(len(start))})
    return frame.select(
        pl.col("start") + pl.duration(seconds=(pl.col("u") * span).cast(pl.Int64))).to_series()


def build_orders(records: pl.DataFrame, rng: np.random.Generator, as_of: datetime) -> pl.DataFrame:
    """0..5 orders per person, each on one of that person's contact records."""
    persons = records["person"].unique().sort().to_numpy()
    counts = rng.choice(len(ORDERS_PER_PERSON_P), size=len(persons), p=ORDERS_PER_PERSON_P)
    owner_rows = pick_record_per_item(records, np.repeat(persons, counts), rng)
    owners = records[owner_rows]
    n = owners.height
    cents = np.round(rng.lognormal(np.log(4500), 0.8, n)).astype(np.int64) + 99
    placed = random_times(rng, owners["created_ts"], as_of)
    status = pick(("paid", "refunded", "cancelled"), rng.choice(3, size=n, p=(0.88, 0.07, 0.05)))
    orders = pl.DataFrame({
        "contact_id": owners["contact_id"],
        "_cents": cents,
        "currency": owners["country_code"].replace_strict(CURRENCY, default="EUR"),
        "_placed": placed,
        "status": status,
        "_edit": rng.integers(0, 30 * 86400, n),
    })
    orders = break_some_orders(orders, rng)
    orders = orders.sort("_placed", "contact_id")
    return orders.select(
        order_id=pl.int_range(700000001, 700000001 + n).cast(pl.Utf8),
        contact_id="contact_id",
        amount=pl.when(pl.col("_cents") < 0).then(pl.lit("-")).otherwise(pl.lit(""))
        + (pl.col("_cents").abs() // 100).cast(pl.Utf8) + "."
        + (pl.col("_cents").abs() % 100).cast(pl.Utf8).str.zfill(2),
        currency="currency",
        order_date=pl.col("_placed").dt.strftime("%Y-%m-%d"),
        status="status",
        updated_at=(pl.col("_placed") + pl.duration(seconds=pl.col("_edit"))).dt.strftime(ISO_UTC),
    )


def break_some_orders(orders: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """~0.2% invalid: negative amount, currency "XXX" or an order date years in the future."""
    n = orders.height
    kind = np.where(rng.random(n) < INVALID_ORDER_RATE, rng.integers(1, 4, n), 0)
    return orders.with_columns(
        _cents=pl.when(pl.Series(kind == 1)).then(-pl.col("_cents")).otherwise(pl.col("_cents")),
        currency=pl.when(pl.Series(kind == 2)).then(pl.lit("XXX")).otherwise(pl.col("currency")),
        _placed=pl.when(pl.Series(kind == 3)).then(pl.col("_placed") + timedelta(days=3650))
        .otherwise(pl.col("_placed")),
    )


def campaign_calendar(as_of: datetime) -> pl.DataFrame:
    """~3 campaigns a month over the year before `as_of`, sent at 09:00 UTC."""
    first = (as_of - timedelta(days=365)).replace(hour=9, minute=0, second=0, microsecond=0)
    starts = [first + timedelta(days=round(i * 365 / CAMPAIGNS)) for i in range(CAMPAIGNS)]
    return pl.DataFrame({
        "campaign": np.arange(CAMPAIGNS),
        "campaign_id": [f"cmp_{s:%Y%m%d}" for s in starts],
        "sent_ts": pl.Series(starts, dtype=pl.Datetime("us")),
    })


def esp_subscribers(records: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """One ESP address per person (~85% of people with a usable address are on the list)."""
    people = (records.filter(pl.col("esp_email").str.contains("@", literal=True))
              .sort("person", "created_ts")
              .unique(subset="person", keep="first", maintain_order=True)
              .select("person", "esp_email", "created_ts"))
    return people.filter(pl.Series(rng.random(people.height) < 0.85))


def distinct_campaigns(rng: np.random.Generator, sends_per_person: np.ndarray) -> np.ndarray:
    """k distinct campaigns per person without a per-person loop: start + j * step (mod 36)
    with a step coprime to 36 never repeats within 36 steps."""
    steps = np.array([s for s in range(1, CAMPAIGNS) if np.gcd(s, CAMPAIGNS) == 1])
    people = len(sends_per_person)
    start = np.repeat(rng.integers(0, CAMPAIGNS, people), sends_per_person)
    step = np.repeat(steps[rng.integers(0, len(steps), people)], sends_per_person)
    ends = np.cumsum(sends_per_person)
    j = np.arange(int(ends[-1]) if people else 0) - np.repeat(ends - sends_per_person,
                                                               sends_per_person)
    return (start + j * step) % CAMPAIGNS


def campaign_sends(records: pl.DataFrame, rng: np.random.Generator,
                   as_of: datetime) -> pl.DataFrame:
    """One row per (subscriber, campaign) sent after the person appeared in the CRM, with
    random draws for what the person did with it; `is_last` marks each person's latest send."""
    subscribers = esp_subscribers(records, rng)
    sends_per_person = rng.binomial(CAMPAIGNS, 0.12, subscribers.height)
    # a person bounces, unsubscribes or complains at most once: at their latest send
    outcome = rng.choice(4, size=subscribers.height, p=(0.965, 0.015, 0.015, 0.005))
    sends = subscribers[np.repeat(np.arange(subscribers.height), sends_per_person)]
    sends = sends.with_columns(campaign=pl.Series(distinct_campaigns(rng, sends_per_person)),
                               _outcome=pl.Series(np.repeat(outcome, sends_per_person)))
    sends = sends.join(campaign_calendar(as_of), on="campaign", how="left", maintain_order="left")
    sends = sends.filter(pl.col("sent_ts") >= pl.col("created_ts"))
    n = sends.height
    return sends.with_columns(
        ts=pl.col("sent_ts") + pl.duration(minutes=pl.Series(rng.integers(0, 90, n))),
        _open_s=pl.Series(rng.exponential(6 * 3600, n).astype(np.int64) + 30),
        _click_s=pl.Series(rng.exponential(600, n).astype(np.int64) + 5),
        _open_u=pl.Series(rng.random(n)),
        _click_u=pl.Series(rng.random(n)),
        is_last=pl.col("sent_ts") == pl.col("sent_ts").max().over("person"),
    )


def build_engagement(records: pl.DataFrame, rng: np.random.Generator,
                     as_of: datetime) -> pl.DataFrame:
    """sent/open/click per campaign a person received, plus a few bounces, unsubscribes and
    complaints, keyed by the email the ESP knows."""
    sent = campaign_sends(records, rng, as_of)
    opens = sent.filter(pl.col("_open_u") < 0.3).with_columns(
        ts=pl.col("ts") + pl.duration(seconds=pl.col("_open_s")))
    clicks = opens.filter(pl.col("_click_u") < 0.25).with_columns(
        ts=pl.col("ts") + pl.duration(seconds=pl.col("_click_s")))
    events = [sent.with_columns(event_type=pl.lit("sent")),
              opens.with_columns(event_type=pl.lit("open")),
              clicks.with_columns(event_type=pl.lit("click"))]
    reaction = pl.duration(seconds=pl.col("_open_s") + 60)
    for code, kind in ((1, "bounce"), (2, "unsubscribe"), (3, "complaint")):
        events.append(sent.filter(pl.col("is_last") & (pl.col("_outcome") == code))
                      .with_columns(event_type=pl.lit(kind), ts=pl.col("ts") + reaction))
    stream = pl.concat([e.select("person", "esp_email", "event_type", "ts", "campaign_id",
                                 event_code=pl.lit(i)) for i, e in enumerate(events)])
    stream = stream.filter(pl.col("ts") < as_of).sort("ts", "person", "event_code")
    return stream.select(
        event_id="evt_" + pl.int_range(1, stream.height + 1).cast(pl.Utf8).str.zfill(9),
        email="esp_email", event_type="event_type",
        occurred_at=pl.col("ts").dt.strftime(ISO_UTC), campaign_id="campaign_id",
    )
