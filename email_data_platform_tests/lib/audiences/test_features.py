from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl

from email_data_platform.lib.audiences.features import FEATURE_COLUMNS, build_customer_features

AS_OF = datetime(2026, 11, 28, tzinfo=UTC)
ENTITIES = pl.DataFrame({"record_id": ["h:1", "h:2", "h:3", "h:4"],
                         "entity_id": ["e1", "e1", "e2", "e3"]})
GOLDEN = pl.DataFrame({"entity_id": ["e1", "e2", "e3"],
                       "email": ["ann@example.com", "bob@example.com", "cy@example.com"]})
RECORD_EMAILS = pl.DataFrame({"record_id": ["h:1", "h:2", "h:3", "h:4"],
                              "email": ["ann@example.com", "ann.old@example.com",
                                        "bob@example.com", "cy@example.com"]})


def orders(*rows):
    return pl.DataFrame(
        [{"order_record_id": f"o{i}", "contact_record_id": rec, "amount": Decimal(amount),
          "currency": cur, "order_date": day, "status": status,
          "updated_at": AS_OF} for i, (rec, amount, cur, day, status) in enumerate(rows)],
        schema_overrides={"amount": pl.Decimal(18, 2)},
    )


def esp(*rows):
    return pl.DataFrame(
        [{"event_id": f"x{i}", "source": "mailchimp", "email": email, "event_type": kind,
          "occurred_at": at, "campaign_id": "c1"} for i, (email, kind, at) in enumerate(rows)]
    )


def build(order_rows=(), esp_rows=()):
    empty_orders = orders(("h:0", "1.00", "GBP", date(2020, 1, 1), "cancelled"))
    empty_esp = esp(("nobody@example.com", "sent", AS_OF))
    features = build_customer_features(
        ENTITIES, GOLDEN, orders(*order_rows) if order_rows else empty_orders,
        esp(*esp_rows) if esp_rows else empty_esp, RECORD_EMAILS, as_of=AS_OF,
    )
    return {row["entity_id"]: row for row in features.iter_rows(named=True)}, features


def test_ltv_counts_paid_orders_across_an_entitys_records_in_gbp():
    rows, features = build([
        ("h:1", "100.00", "GBP", date(2026, 11, 18), "paid"),
        ("h:2", "100.00", "EUR", date(2026, 1, 1), "paid"),
        ("h:2", "999.00", "GBP", date(2026, 1, 2), "refunded"),
        ("h:3", "10.00", "ZZZ", date(2025, 1, 1), "paid"),
    ])
    assert features.columns == FEATURE_COLUMNS and features.height == 3
    assert rows["e1"]["order_count"] == 2 and rows["e1"]["lifetime_value"] == 186.0
    assert rows["e1"]["last_order_date"] == date(2026, 11, 18)
    assert rows["e1"]["recency_days"] == 10
    assert rows["e2"]["unpriced_orders"] == 1 and rows["e2"]["lifetime_value"] == 0.0
    assert rows["e3"]["order_count"] == 0 and rows["e3"]["rfm_segment"] == "prospect"
    assert rows["e3"]["recency_days"] is None and rows["e3"]["r_score"] is None


def test_rfm_scores_rank_recent_frequent_buyers_higher():
    rows, _ = build([
        ("h:1", "500.00", "GBP", date(2026, 11, 20), "paid"),
        ("h:1", "500.00", "GBP", date(2026, 11, 21), "paid"),
        ("h:3", "5.00", "GBP", date(2024, 1, 1), "paid"),
    ])
    assert rows["e1"]["r_score"] > rows["e2"]["r_score"]
    assert rows["e1"]["m_score"] > rows["e2"]["m_score"]
    assert rows["e1"]["rfm_segment"] == "champion"
    assert rows["e2"]["rfm_segment"] == "lapsed"


def test_engagement_counts_only_the_last_90_days_on_any_address():
    rows, _ = build(esp_rows=[
        ("ANN.OLD@example.com", "open", datetime(2026, 11, 1, tzinfo=UTC)),
        ("ann@example.com", "click", datetime(2026, 11, 2, tzinfo=UTC)),
        ("ann@example.com", "sent", datetime(2026, 11, 1, tzinfo=UTC)),
        ("ann@example.com", "open", datetime(2025, 1, 1, tzinfo=UTC)),
    ])
    assert (rows["e1"]["opens_90d"], rows["e1"]["clicks_90d"], rows["e1"]["sends_90d"]) == (1, 1, 1)
    assert rows["e1"]["engagement_score"] == 3.0
    assert rows["e2"]["engagement_score"] == 0.0


def test_suppression_from_unsubscribe_complaint_and_golden_bounce():
    rows, _ = build(esp_rows=[
        ("ann.old@example.com", "bounce", datetime(2026, 11, 1, tzinfo=UTC)),  # old address only
        ("bob@example.com", "bounce", datetime(2020, 1, 1, tzinfo=UTC)),
        ("cy@example.com", "complaint", datetime(2026, 1, 1, tzinfo=UTC)),
        ("cy@example.com", "unsubscribe", datetime(2026, 1, 1, tzinfo=UTC)),
    ])
    assert rows["e1"]["suppressed"] is False
    assert rows["e2"]["suppressed"] is True and rows["e2"]["suppression_reason"] == "bounce"
    assert rows["e3"]["suppression_reason"] == "complaint,unsubscribe"


def test_events_match_by_canonical_key_without_double_counting():
    keyed_records = RECORD_EMAILS.with_columns(
        email_key=pl.col("email").str.replace(r"\.old", "").str.replace(r"\.", "", n=1))
    events = esp(("ann+promo@example.com", "unsubscribe", datetime(2026, 11, 1, tzinfo=UTC)),
                 ("ann@example.com", "open", datetime(2026, 11, 2, tzinfo=UTC)))
    keys = {"ann+promo@example.com": "ann@examplecom", "ann@example.com": "ann@examplecom"}
    events = events.with_columns(email_key=pl.col("email").replace_strict(keys))
    features = build_customer_features(
        ENTITIES, GOLDEN, orders(("h:0", "1.00", "GBP", date(2020, 1, 1), "cancelled")),
        events, keyed_records, as_of=AS_OF)
    ann = features.filter(pl.col("entity_id") == "e1").row(0, named=True)
    assert ann["suppressed"] is True and ann["suppression_reason"] == "unsubscribe"
    assert ann["opens_90d"] == 1  # matched by address and by key: still one open


def test_average_order_value_30_day_engagement_and_last_engaged():
    rows, features = build(
        [("h:1", "100.00", "GBP", date(2026, 11, 1), "paid"),
         ("h:2", "50.00", "GBP", date(2026, 10, 1), "paid")],
        [("ann@example.com", "open", datetime(2026, 11, 20, tzinfo=UTC)),
         ("ann@example.com", "click", datetime(2026, 9, 20, tzinfo=UTC)),
         ("ann@example.com", "open", datetime(2025, 1, 1, tzinfo=UTC))])
    ann = rows["e1"]
    assert ann["average_order_value"] == 75.0 and rows["e3"]["average_order_value"] is None
    assert (ann["opens_30d"], ann["opens_90d"], ann["clicks_30d"], ann["clicks_90d"]) == (
        1, 1, 0, 1)
    assert ann["last_engaged_at"] == datetime(2026, 11, 20, tzinfo=UTC)
    assert rows["e2"]["last_engaged_at"] is None
    assert features.columns == FEATURE_COLUMNS


def test_preferred_category_is_where_most_orders_go_when_orders_carry_one():
    _, plain = build([("h:1", "10.00", "GBP", date(2026, 11, 1), "paid")])
    assert plain["preferred_category"].null_count() == plain.height  # no category column
    rows = {r["entity_id"]: r for r in build_customer_features(
        ENTITIES, GOLDEN,
        orders(("h:1", "10.00", "GBP", date(2026, 11, 1), "paid"),
               ("h:2", "90.00", "GBP", date(2026, 11, 2), "paid"),
               ("h:1", "5.00", "GBP", date(2026, 11, 3), "paid"),
               ("h:3", "5.00", "GBP", date(2026, 11, 3), "refunded"))
        .with_columns(category=pl.Series(["shoes", "bags", "shoes", "hats"])),
        esp(("nobody@example.com", "sent", AS_OF)), RECORD_EMAILS, as_of=AS_OF,
    ).iter_rows(named=True)}
    assert rows["e1"]["preferred_category"] == "shoes"  # two orders beat one larger one
    assert rows["e2"]["preferred_category"] is None  # refunded orders do not count
