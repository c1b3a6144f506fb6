"""Tiny synthetic upstream tables (identity, profiles) for the privacy/audiences/activation
asset tests, written straight into a temp warehouse so these stages test on their own.

People (entity: records; story):
- e1 (h:1, h:2) Ann: grants marketing, 600 GBP of orders -> high_value, marketable.
- e2 (h:3) Bob: grants, then unsubscribes at the ESP -> suppressed.
- e3 (h:4) Cy: no consent event at all -> not marketable.
- e4 (h:5, h:6) Di: h:6 withdrew in March, h:5 granted in June -> merged: withdrawn.
- e5 (h:7) Ed: grants, but the email is invalid.
- e6 (h:8) Flo: grants, last order in 2024 -> lapsed, marketable.
- e7 (h:9) Gus: grants, never ordered -> marketable.
Analytics consent: e1 and e7 granted, e2 withdrew. Personalisation: only e1 (Ann) granted,
so only her name and value are sent. Profiling (segments): everyone but Cy (e3).
"""

from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl

from email_data_platform.lib.profiles.emails import normalise_emails
from email_data_platform.lib.warehouse import DuckDBWarehouse

AS_OF = "2026-11-28T00:00:00+00:00"
MARKETABLE = ["e1", "e6", "e7"]
ANALYTICS_CONSENTED = ["e1", "e7"]
PEOPLE = [  # entity, records, first, last, email
    ("e1", ["h:1", "h:2"], "Ann", "Lee", "ann@example.com"),
    ("e2", ["h:3"], "Bob", "Ray", "bob@example.com"),
    ("e3", ["h:4"], "Cy", "Fox", "cy@example.com"),
    ("e4", ["h:5", "h:6"], "Di", "Oak", "di@example.com"),
    ("e5", ["h:7"], "Ed", "Elm", "ed@@bad"),
    ("e6", ["h:8"], "Flo", "Ash", "flo@example.com"),
    ("e7", ["h:9"], "Gus", "Yew", "gus@example.com"),
]


def at(month: int, day: int = 1, year: int = 2026) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def seed_upstream(wh: DuckDBWarehouse) -> None:
    records = [(e, r, first, last, email) for e, rs, first, last, email in PEOPLE for r in rs]
    wh.write("identity.entities", pl.DataFrame(
        {"record_id": [r[1] for r in records], "entity_id": [r[0] for r in records]}))
    profiles = pl.DataFrame({"record_id": [r[1] for r in records], "email": [r[4] for r in records],
                             "updated_at": [at(1)] * len(records)})
    wh.write("profiles.clean_profiles", _with_email_key(profiles))
    wh.write("identity.golden_profiles", pl.DataFrame([
        {"entity_id": e, "email": email, "first_name": first, "last_name": last,
         "phone": "+447700900123", "city": "Leeds", "postal_code": "LS1 1AA", "country": "GB",
         "company": None, "record_count": len(rs)}
        for e, rs, first, last, email in PEOPLE
    ], schema_overrides={"company": pl.Utf8}))
    wh.write("profiles.clean_orders", pl.DataFrame([
        {"order_record_id": f"hubspot:deal:{i}", "contact_record_id": rec,
         "amount": Decimal(amount), "currency": "GBP", "order_date": day, "status": "paid",
         "updated_at": at(11)}
        for i, (rec, amount, day) in enumerate([
            ("h:1", "400.00", date(2026, 11, 1)), ("h:2", "200.00", date(2026, 10, 1)),
            ("h:8", "30.00", date(2024, 5, 1)),
        ])
    ]))
    wh.write("profiles.clean_esp_events", _with_email_key(pl.DataFrame([
        {"event_id": "x1", "source": "mailchimp", "email": "bob@example.com",
         "event_type": "unsubscribe", "occurred_at": at(9), "campaign_id": "c1"},
        {"event_id": "x2", "source": "mailchimp", "email": "gus@example.com",
         "event_type": "open", "occurred_at": at(11, 20), "campaign_id": "c1"},
    ]).with_columns(extracted_at=pl.lit(at(11, 27)))))
    marketing = [("h:1", "granted", at(1)), ("h:3", "granted", at(1)), ("h:5", "granted", at(6)),
                 ("h:6", "withdrawn", at(3)), ("h:7", "granted", at(1)),
                 ("h:8", "granted", at(1)), ("h:9", "granted", at(2))]
    analytics = [("h:1", "granted", at(1)), ("h:9", "granted", at(1)),
                 ("h:3", "withdrawn", at(1))]
    personalisation = [("h:1", "granted", at(1))]
    # segments on behaviour or value need profiling consent: everyone marketable gave it
    profiling = [(rec, "granted", at(1)) for rec in ("h:1", "h:2", "h:3", "h:5", "h:6", "h:7",
                                                     "h:8", "h:9")]
    wh.write("profiles.clean_consent_events", consent_events([
        (f"{purpose}{i}", rec, None, purpose, status, when)
        for purpose, events in (("email_marketing", marketing), ("analytics", analytics),
                                ("personalisation", personalisation), ("profiling", profiling))
        for i, (rec, status, when) in enumerate(events)
    ]))


def consent_events(rows) -> pl.DataFrame:
    """profiles.clean_consent_events rows: (event_id, record_id, email, purpose, status, at)."""
    frame = pl.DataFrame([
        {"event_id": event_id, "source": "hubspot", "contact_record_id": record, "email": email,
         "purpose": purpose, "status": status, "channel": "web_form", "occurred_at": when,
         "policy_version": "2024-05", "extracted_at": at(11, 27), "recorded_at": when,
         "legal_basis": None, "proof_reference": None, "metadata_issues": None}
        for event_id, record, email, purpose, status, when in rows
    ], schema_overrides={c: pl.Utf8 for c in ("email", "contact_record_id", "legal_basis",
                                              "proof_reference", "metadata_issues")})
    return _with_email_key(frame)


def _with_email_key(frame: pl.DataFrame) -> pl.DataFrame:
    """The profiles stage's own email normalisation: normalised address and matching key."""
    keyed = normalise_emails(frame)
    return keyed.with_columns(
        email=pl.when(pl.col("email_valid")).then(pl.col("email")).otherwise(frame["email"]),
    ).drop("email_valid")
