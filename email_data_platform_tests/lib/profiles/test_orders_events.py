import datetime as dt
import decimal

import polars as pl

from email_data_platform.lib.profiles import schemas
from email_data_platform.lib.profiles.stage import (
    clean_esp_events,
    clean_orders,
)
from email_data_platform_tests.lib.profiles.raw_frames import (
    NOW,
    TODAY,
    raw_esp_events,
    raw_orders,
)


def _rules(result) -> dict[str, str]:
    return dict(result.quarantine.select("record_key", "rule").iter_rows())


def test_orders_amounts_and_currencies():
    result = clean_orders(raw_orders(), "run-1", today=TODAY)
    assert result.clean["amount"].to_list() == [decimal.Decimal("123.40"), decimal.Decimal("1000")]
    assert result.clean.schema["amount"] == pl.Decimal(18, 2)
    assert _rules(result) == {
        "hubspot:deal:neg": "amount_negative",
        "hubspot:deal:xxx": "currency_unknown",
    }
    assert schemas.validate_table(schemas.CleanOrders, result.clean, "order_record_id").passed


def test_esp_events_known_types_and_matchable_email():
    result = clean_esp_events(raw_esp_events(), "run-1", now=NOW)
    assert result.clean["event_type"].to_list() == ["open", "click"]
    assert result.clean["email"].to_list() == ["ann1@example.com"] * 2
    assert _rules(result) == {"mc:3": "event_type_unknown"}
    assert schemas.validate_table(schemas.CleanEspEvents, result.clean, "event_id").passed


def test_future_and_duplicate_events():
    raw = raw_esp_events()
    later = raw.head(1).with_columns(
        pl.lit(dt.datetime(2026, 11, 2, tzinfo=dt.UTC)).alias("extracted_at")
    )
    future = raw.slice(1, 1).with_columns(
        pl.lit("mc:future").alias("event_id"), pl.lit("2030-01-01T00:00:00Z").alias("occurred_at")
    )
    result = clean_esp_events(pl.concat([raw, later, future]), "run-1", now=NOW)
    rules = result.quarantine.select("record_key", "rule").rows()
    assert ("mc:1", "duplicate_event") in rules
    assert ("mc:future", "occurred_at_in_future") in rules
    assert result.clean.height + result.quarantine.height == raw.height + 2
    assert result.clean["event_id"].is_unique().all()


def test_order_dates_outside_1900_to_today_are_quarantined():
    raw = raw_orders().head(2).with_columns(pl.Series("order_date", ["1899-12-31", "2030-01-01"]))
    result = clean_orders(raw, "run-1", today=TODAY)
    assert result.clean.height == 0
    assert sorted(result.quarantine["rule"]) == ["order_date_before_1900", "order_date_in_future"]


def test_missing_columns_and_numeric_types_are_tolerated():
    orders = pl.DataFrame(
        {
            "order_record_id": ["hubspot:deal:1", "hubspot:deal:2"],
            "source": ["hubspot"] * 2,
            "amount": [12.5, 3.0],
            "status": ["paid", "paid"],
        }
    )
    result = clean_orders(orders, "run-1", today=TODAY)
    assert result.clean.height == 0  # no currency column: every order is quarantined, none lost
    assert set(result.quarantine["rule"]) == {"missing_required_field"}
    events = raw_esp_events().drop("campaign_id")
    assert clean_esp_events(events, "run-1", now=NOW).clean["campaign_id"].null_count() == 2
