"""CRM subscription statuses (HubSpot's per-type statuses) as consent decisions."""

from datetime import UTC, datetime

import polars as pl

from email_data_platform.lib.privacy.addresses import build_address_consent
from email_data_platform.lib.privacy.consent import build_consent_ledger
from email_data_platform.lib.privacy.consent_events import (
    conform_events,
    from_crm_subscriptions,
    unmapped_subscription_types,
)

T1 = datetime(2026, 1, 1, tzinfo=UTC)
T2 = datetime(2026, 2, 1, tzinfo=UTC)
EXTRACTED = datetime(2026, 3, 1, tzinfo=UTC)
KEYS = pl.DataFrame([{"record_id": "h:1", "entity_id": "e1", "email_key": "ann@example.com",
                      "email": "ann@example.com", "updated_at": T1}])


def statuses(*rows) -> pl.DataFrame:
    """rows: (email, subscription name, status, occurred_at or None)."""
    return pl.DataFrame(
        [{"source": "hubspot", "email": email, "subscription_name": name, "status": status,
          "legal_basis": "CONSENT_WITH_NOTICE", "occurred_at": at, "extracted_at": EXTRACTED}
         for email, name, status, at in rows],
        schema={"source": pl.Utf8, "email": pl.Utf8, "subscription_name": pl.Utf8,
                "status": pl.Utf8, "legal_basis": pl.Utf8,
                "occurred_at": pl.Datetime("us", "UTC"),
                "extracted_at": pl.Datetime("us", "UTC")})


def decided(frame: pl.DataFrame) -> list[tuple]:
    return sorted(frame.select("email_key", "purpose", "status").rows())


def test_leaving_a_type_withdraws_what_it_stands_for_and_joining_grants_topics_only():
    feed = from_crm_subscriptions(statuses(
        (" Ann@Example.com", "Newsletter", "NOT_SUBSCRIBED", T1),
        ("bob@example.com", "newsletter", "SUBSCRIBED", T1),
        ("bob@example.com", "Marketing Information", "SUBSCRIBED", T1),  # no proof: no grant
        ("cy@example.com", "MARKETING INFORMATION", "NOT_SUBSCRIBED", T1),
        ("dee@example.com", "Offers", "NOT_SPECIFIED", T1),  # decides nothing
        ("eve@example.com", "Offers", "OPTED_OUT_SOMEHOW", T1),  # unknown word: withdraws
        ("flo@example.com", "One to One", "NOT_SUBSCRIBED", T1),  # sales mail: not ours
        ("gus@example.com", "Webinars", "NOT_SUBSCRIBED", T1),  # not in the taxonomy
    ), "run-1")
    assert decided(feed) == [
        ("ann@example.com", "newsletter", "withdrawn"),
        ("bob@example.com", "newsletter", "granted"),
        ("cy@example.com", "email_marketing", "withdrawn"),
        ("eve@example.com", "offers", "withdrawn"),
    ]
    assert set(feed["channel"]) == {"crm"} and set(feed["source_system"]) == {"hubspot"}
    assert feed["proof_reference"].to_list()[0] == "hubspot subscription Newsletter NOT_SUBSCRIBED"


def test_unlisted_types_are_named_and_sales_or_service_types_are_not():
    raw = statuses(("a@example.com", "Webinars", "NOT_SUBSCRIBED", T1),
                   ("a@example.com", "One to One", "NOT_SUBSCRIBED", T1),
                   ("a@example.com", "Newsletter", "SUBSCRIBED", T1))
    assert unmapped_subscription_types(raw) == ["Webinars"]


def test_event_ids_are_stable_name_no_address_and_date_unreadable_times_at_extraction():
    raw = statuses(("ann@example.com", "Newsletter", "NOT_SUBSCRIBED", None),
                   ("ann@example.com", "Newsletter", "NOT_SUBSCRIBED", T2))
    first, again = from_crm_subscriptions(raw, "run-1"), from_crm_subscriptions(raw, "run-2")
    assert first["event_id"].to_list() == again["event_id"].to_list()
    assert first["event_id"].n_unique() == 2
    assert all(i.startswith("crm_subscription:") and "ann" not in i for i in first["event_id"])
    assert first["occurred_at"].to_list() == [EXTRACTED, T2]


def test_a_crm_withdrawal_overrides_an_earlier_grant_for_the_person_and_the_address():
    grant = conform_events(pl.DataFrame([{
        "event_id": "cmp1", "record_id": "h:1", "email": "ann@example.com",
        "email_key": "ann@example.com", "purpose": "email_marketing", "status": "granted",
        "occurred_at": T1, "channel": "web_form", "source_system": "cmp",
        "policy_version": "2024-05"}]), "run-1")
    left = from_crm_subscriptions(statuses(
        ("ann@example.com", "Marketing Information", "NOT_SUBSCRIBED", T2),
        ("ann@example.com", "Offers", "NOT_SUBSCRIBED", T2)), "run-1")
    history = pl.concat([grant, left])
    result = build_consent_ledger(history, KEYS)
    assert result.ledger.filter(pl.col("purpose") == "email_marketing")["status"].to_list() == [
        "withdrawn"]
    assert result.topics.select("entity_id", "topic", "status").rows() == [
        ("e1", "offers", "withdrawn")]
    addresses = build_address_consent(history, KEYS)
    assert sorted(addresses.select("email_key", "purpose", "status").rows()) == [
        ("ann@example.com", "email_marketing", "withdrawn"),
        ("ann@example.com", "offers", "withdrawn")]


def test_no_statuses_give_no_events():
    assert from_crm_subscriptions(pl.DataFrame(), "run-1").height == 0
