"""Tiny raw source frames shaped like the `sources.*` tables, shared by the profiles tests.

Each frame holds a few good rows and one row per rule we expect to quarantine, so tests can
assert exactly which record lands where.
"""

import datetime as dt

import polars as pl

from email_data_platform.sandbox.raw_contacts import as_crm_contacts, with_hostile_values

EXTRACTED_AT = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 28)
NOW = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)


def _lineage(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.lit(EXTRACTED_AT, dtype=pl.Datetime("us", "UTC")).alias("extracted_at"),
        pl.lit("run-src").alias("run_id"),
    )


def contact(object_id: str, **overrides) -> dict:
    row = {
        "record_id": f"hubspot:{object_id}",
        "source": "hubspot",
        "object_id": object_id,
        "first_name": "Ann",
        "last_name": "Lee",
        "email": f"ann{object_id}@example.com",
        "phone": "020 7946 0958",
        "date_of_birth": "1985-03-07",
        "city": "London",
        "postal_code": "SW1A 1AA",
        "country": "GB",
        "company": "Acme",
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-06-01T00:00:00Z",
        "archived": False,
    }
    return row | overrides


def raw_contacts() -> pl.DataFrame:
    """Good: hubspot:1, :2, :3 (latest of two). Quarantined: one per rule, keys say which."""
    rows = [
        contact("1"),
        contact(
            "2",
            first_name="  MARY  jane ",
            last_name=None,
            email="Mary.J+news@GoogleMail.com",
            phone="+44 (0)20 7946 0959",
            date_of_birth="07/03/1985",
            country="United Kingdom",
        ),
        contact("3", updated_at="2024-01-01T00:00:00Z", first_name="Old"),
        contact("3", updated_at="2024-07-01T00:00:00Z", first_name="New"),
        contact("archived", archived=True),
        contact("bad_email", email="not-an-email"),
        contact("future_dob", date_of_birth="2090-01-01"),
        contact("old_dob", date_of_birth="1899-12-31"),
        contact("script", first_name="<script>alert(1)</script>"),
        contact("long", company="x" * 5000),
    ]
    return _lineage(pl.DataFrame(rows))


def raw_orders() -> pl.DataFrame:
    base = {
        "source": "hubspot",
        "contact_record_id": "hubspot:1",
        "currency": "GBP",
        "order_date": "2026-01-05",
        "status": "paid",
        "updated_at": "2026-01-05T10:00:00Z",
    }
    rows = [
        base | {"order_record_id": "hubspot:deal:1", "object_id": "1", "amount": "123.40"},
        base | {"order_record_id": "hubspot:deal:2", "object_id": "2", "amount": "1,000.00"},
        base | {"order_record_id": "hubspot:deal:neg", "object_id": "3", "amount": "-5.00"},
        base
        | {
            "order_record_id": "hubspot:deal:xxx",
            "object_id": "4",
            "amount": "5.00",
            "currency": "XXX",
        },
    ]
    return _lineage(pl.DataFrame(rows))


def raw_esp_events() -> pl.DataFrame:
    base = {
        "source": "mailchimp",
        "email": "Ann1@Example.com",
        "campaign_id": "c1",
        "occurred_at": "2026-10-01T09:00:00Z",
    }
    rows = [
        base | {"event_id": "mc:1", "event_type": "open"},
        base | {"event_id": "mc:2", "event_type": "CLICK"},
        base | {"event_id": "mc:3", "event_type": "teleport"},
    ]
    return _lineage(pl.DataFrame(rows))


def raw_consent() -> pl.DataFrame:
    base = {
        "source": "consent_platform",
        "contact_record_id": "hubspot:1",
        "email": "ann1@example.com",
        "status": "granted",
        "channel": "web_form",
        "occurred_at": "2026-10-01T09:00:00Z",
        "policy_version": "2024-05",
    }
    rows = [
        base | {"event_id": "cp:1", "purpose": "email_marketing"},
        base | {"event_id": "cp:2", "purpose": "analytics", "status": "withdrawn"},
        base | {"event_id": "cp:3", "purpose": "telepathy"},
        base | {"event_id": "cp:4", "purpose": "analytics", "channel": "carrier_pigeon"},
    ]
    return _lineage(pl.DataFrame(rows))


RAW_TABLES = {
    "sources.crm_contacts": raw_contacts,
    "sources.crm_orders": raw_orders,
    "sources.esp_events": raw_esp_events,
    "sources.consent_raw": raw_consent,
}


def generated_contacts(count: int, seed: int, hostile_share: float = 0.0) -> pl.DataFrame:
    """The sandbox generator's contacts in the `sources.crm_contacts` shape, optionally with
    hostile values scattered over the free-text columns."""
    from email_data_platform.sandbox.generator import generate_dataset

    raw = as_crm_contacts(generate_dataset(count, seed).contacts, "run-src", EXTRACTED_AT)
    return with_hostile_values(raw, hostile_share, seed)


def generated_sources(count: int, seed: int) -> dict[str, pl.DataFrame]:
    """All four `sources.*` tables from one generated data set, with what makes a split
    unsafe: every 7th record delivered again later (a newer version, or the same event), bad
    values the rules quarantine, hostile text, and consent withdrawals without an event id
    (their synthetic ids repeat when the same row comes twice)."""
    from email_data_platform.sandbox.generator import generate_dataset

    data = generate_dataset(count, seed)
    contacts = with_hostile_values(
        as_crm_contacts(data.contacts, "run-src", EXTRACTED_AT), 0.05, seed)
    orders = data.orders.select(
        pl.concat_str(pl.lit("hubspot:deal:"), "order_id").alias("order_record_id"),
        pl.lit("hubspot").alias("source"), pl.col("order_id").alias("object_id"),
        pl.concat_str(pl.lit("hubspot:"), "contact_id").alias("contact_record_id"),
        pl.when(pl.int_range(pl.len()) % 11 == 3).then(pl.lit("-1.00"))
        .otherwise(pl.col("amount")).alias("amount"),
        pl.when(pl.int_range(pl.len()) % 13 == 5).then(pl.lit("XXX"))
        .otherwise(pl.col("currency")).alias("currency"),
        "order_date", "status", "updated_at")
    events = data.engagement.select(
        pl.concat_str(pl.lit("mailchimp:"), "event_id").alias("event_id"),
        pl.lit("mailchimp").alias("source"), "email",
        pl.when(pl.int_range(pl.len()) % 17 == 2).then(pl.lit("teleport"))
        .otherwise(pl.col("event_type")).alias("event_type"), "occurred_at", "campaign_id")
    row = pl.int_range(pl.len())
    consent = data.consent.select(
        pl.when(row % 19 == 4).then(None).otherwise(pl.col("event_id")).alias("event_id"),
        pl.lit("consent_platform").alias("source"),
        pl.concat_str(pl.lit("hubspot:"), "contact_id").alias("contact_record_id"), "email",
        pl.when(row % 23 == 6).then(pl.lit("telepathy")).otherwise(pl.col("purpose"))
        .alias("purpose"),
        pl.when(row % 19 == 4).then(pl.lit("withdrawn")).otherwise(pl.col("status"))
        .alias("status"),
        "channel", "occurred_at", "policy_version", "proof_reference")
    return {
        "sources.crm_contacts": _delivered_again(contacts, "updated_at"),
        "sources.crm_orders": _delivered_again(_lineage(orders), "updated_at"),
        "sources.esp_events": _delivered_again(_lineage(events), None),
        "sources.consent_raw": _delivered_again(_lineage(consent), None),
    }


def _delivered_again(raw: pl.DataFrame, version: str | None) -> pl.DataFrame:
    """Every 7th row again at the end, extracted a day later; records get a newer `version`
    on every second copy, so both the copy and the original can be the latest."""
    again = raw.filter(pl.int_range(pl.len()) % 7 == 0).with_columns(
        (pl.col("extracted_at") + dt.timedelta(days=1)).alias("extracted_at"))
    if version is not None:
        newer = pl.int_range(pl.len()) % 2 == 0
        again = again.with_columns(
            pl.when(newer).then(pl.lit("2026-10-30T00:00:00Z")).otherwise(pl.col(version))
            .alias(version))
    return pl.concat([raw, again], how="vertical_relaxed")
