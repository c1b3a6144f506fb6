"""The ledger (per person) and address consent (per address) from privacy.consent_events."""

from datetime import UTC, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from email_data_platform.lib.privacy.addresses import (
    build_address_consent,
    build_marketable_audience,
)
from email_data_platform.lib.privacy.consent import build_consent_ledger, granted_entities
from email_data_platform.lib.privacy.consent_events import conform_events

T1 = datetime(2026, 1, 1, tzinfo=UTC)
T2 = datetime(2026, 2, 1, tzinfo=UTC)
T3 = datetime(2026, 3, 1, tzinfo=UTC)

# record -> (entity, email key)
RECORDS = {"h:1": ("e1", "ann@example.com"), "h:2": ("e1", "ann@exmaple.com"),
           "h:3": ("e2", "bob@example.com"), "h:4": ("e3", "cy@example.com")}
KEYS = pl.DataFrame([{"record_id": r, "entity_id": e, "email_key": k,
                      "email": k, "updated_at": T1} for r, (e, k) in RECORDS.items()])


def events(*rows) -> pl.DataFrame:
    """rows: (record or None, email or None, purpose, status, occurred_at)."""
    return conform_events(pl.DataFrame([
        {"event_id": f"ev{i}", "record_id": rec, "email": email, "email_key": email,
         "purpose": purpose, "status": status, "occurred_at": at, "channel": "web_form",
         "source_system": "cmp", "policy_version": "2024-05"}
        for i, (rec, email, purpose, status, at) in enumerate(rows)
    ], schema_overrides={"record_id": pl.Utf8, "email": pl.Utf8, "email_key": pl.Utf8}),
        "run-1")


def decision(ledger, entity, purpose="email_marketing"):
    row = ledger.filter((pl.col("entity_id") == entity) & (pl.col("purpose") == purpose))
    assert row.height <= 1
    return row.row(0, named=True) if row.height else None


def test_latest_event_of_a_record_wins_and_ties_withdraw():
    ledger = build_consent_ledger(events(
        ("h:3", None, "email_marketing", "granted", T1),
        ("h:3", None, "email_marketing", "withdrawn", T2),
        ("h:3", None, "email_marketing", "granted", T3)), KEYS).ledger
    assert decision(ledger, "e2")["status"] == "granted"
    assert decision(ledger, "e2")["event_id"] == "ev2"
    tied = build_consent_ledger(events(("h:3", None, "email_marketing", "granted", T2),
                                       ("h:3", None, "email_marketing", "withdrawn", T2)),
                                KEYS).ledger
    assert decision(tied, "e2")["status"] == "withdrawn"


def test_merged_records_disagreeing_resolve_most_restrictive():
    rows = (("h:1", None, "email_marketing", "withdrawn", T1),
            ("h:2", None, "email_marketing", "granted", T2))
    strict = build_consent_ledger(events(*rows), KEYS).ledger
    assert (decision(strict, "e1")["status"], decision(strict, "e1")["record_id"]) == (
        "withdrawn", "h:1")
    latest = build_consent_ledger(events(*rows), KEYS, merge_rule="latest_event").ledger
    assert decision(latest, "e1")["status"] == "granted"


def test_no_event_means_no_consent_and_purposes_are_independent():
    result = build_consent_ledger(events(("h:3", None, "analytics", "granted", T1)), KEYS)
    assert decision(result.ledger, "e3") is None
    assert decision(result.ledger, "e2") is None
    assert granted_entities(result.ledger, "email_marketing").height == 0
    assert granted_entities(result.ledger, "analytics")["entity_id"].to_list() == ["e2"]


def test_a_withdrawal_by_address_reaches_every_holder_and_all_withdraws_every_purpose():
    result = build_consent_ledger(events(
        ("h:4", None, "email_marketing", "granted", T1),
        ("h:4", None, "analytics", "granted", T1),
        ("h:99", "cy@example.com", "all", "withdrawn", T2),  # unknown record, known address
    ), KEYS)
    assert decision(result.ledger, "e3")["status"] == "withdrawn"
    assert decision(result.ledger, "e3", "analytics")["status"] == "withdrawn"
    assert set(result.topics.filter(pl.col("entity_id") == "e3")["topic"]) == {
        "newsletter", "offers", "product_updates", "events"}


def test_email_only_grants_count_for_one_person_only():
    shared = KEYS.with_columns(email_key=pl.when(pl.col("record_id") == "h:4")
                               .then(pl.lit("bob@example.com")).otherwise("email_key"))
    result = build_consent_ledger(events(
        (None, "ann@example.com", "email_marketing", "granted", T1),
        (None, "bob@example.com", "email_marketing", "granted", T1),  # e2 and e3 share it
        (None, "nobody@example.com", "email_marketing", "granted", T1),
    ), shared)
    assert granted_entities(result.ledger, "email_marketing")["entity_id"].to_list() == ["e1"]
    assert result.unattributed_events == 2


def test_an_address_needs_its_own_grant():
    """e1 consented at ann@example.com; its merged typo copy ann@exmaple.com never did."""
    evts = events(("h:1", None, "email_marketing", "granted", T1))
    addresses = build_address_consent(evts, KEYS)
    assert addresses.select("email_key", "status").rows() == [("ann@example.com", "granted")]
    ledger = build_consent_ledger(evts, KEYS).ledger
    golden = pl.DataFrame({"entity_id": ["e1"], "first_name": ["Ann"], "last_name": ["L"]})
    typo_newer = KEYS.with_columns(updated_at=pl.when(pl.col("record_id") == "h:2")
                                   .then(pl.lit(T3)).otherwise("updated_at"))
    features = pl.DataFrame({"entity_id": ["e1"], "suppressed": [False]})
    audience, _ = build_marketable_audience(golden, ledger, addresses, typo_newer, features)
    assert audience.select("email", "consent_event_id").rows() == [("ann@example.com", "ev0")]


def test_a_withdrawal_that_reaches_no_one_still_suppresses_its_address():
    addresses = build_address_consent(events(
        (None, "cy@example.com", "email_marketing", "granted", T1),
        ("h:404", "cy@example.com", "email_marketing", "withdrawn", T2)), KEYS)
    assert addresses.row(0, named=True)["status"] == "withdrawn"


def test_the_most_recently_granted_address_is_chosen():
    evts = events(("h:1", None, "email_marketing", "granted", T1),
                  ("h:2", None, "email_marketing", "granted", T2))
    audience, exclusions = build_marketable_audience(
        pl.DataFrame({"entity_id": ["e1"], "first_name": ["A"], "last_name": ["L"]}),
        build_consent_ledger(evts, KEYS).ledger, build_address_consent(evts, KEYS), KEYS,
        pl.DataFrame({"entity_id": ["e1"], "suppressed": [False]}))
    assert audience.select("email", "consent_event_id", "personalisation").rows() == [
        ("ann@exmaple.com", "ev1", False)]
    assert exclusions["marketable"] == 1


def test_marketable_audience_applies_every_rule_and_protects_shared_inboxes():
    people = {"e1": "ann@example.com", "e2": "bob@example.com", "e3": "not-an-email",
              "e4": "fam@example.com", "e5": "fam@example.com", "e6": "flo@example.com"}
    records = [*people.items(), ("e5", "ed@example.com")]
    keys = pl.DataFrame([{"record_id": f"h:{e}:{i}", "entity_id": e, "email": email,
                          "email_key": email if "@" in email else None, "updated_at": T1}
                         for i, (e, email) in enumerate(records)])
    evts = events(*[(f"h:{e}:{i}", None, "email_marketing", "granted", T1)
                    for i, e in enumerate(people)],
                  ("h:e5:6", None, "email_marketing", "withdrawn", T2),  # e5's other record
                  ("h:e1:0", None, "personalisation", "granted", T1))
    golden = pl.DataFrame({"entity_id": list(people), "first_name": ["X"] * 6,
                           "last_name": ["Y"] * 6})
    features = pl.DataFrame({"entity_id": list(people),
                             "suppressed": [False, True, False, False, False, False]})
    audience, exclusions = build_marketable_audience(
        golden, build_consent_ledger(evts, keys).ledger, build_address_consent(evts, keys), keys,
        features, erased_entity_ids=pl.Series(["e6"]))
    # e2 suppressed, e3 has no valid address, e6 erased; e4 shares fam@ (granted as an
    # address) with e5, who withdrew through another record: the shared inbox is not mailed
    assert audience.select("entity_id", "email", "personalisation").rows() == [
        ("e1", "ann@example.com", True)]
    assert exclusions == {"people": 6, "no_email_marketing_consent": 1, "suppressed_at_esp": 1,
                          "erased": 1, "no_address_with_its_own_grant": 1,
                          "inbox_shared_with_ineligible": 1, "marketable": 1}


@pytest.mark.parametrize("history", [events(), pl.DataFrame()], ids=["typed", "no-columns"])
def test_an_empty_history_gives_an_empty_ledger_with_its_columns(history):
    result = build_consent_ledger(history, KEYS)
    assert result.ledger.height == 0 and "event_id" in result.ledger.columns
    assert granted_entities(result.ledger, "email_marketing").height == 0
    assert build_address_consent(history, KEYS).height == 0


def test_unknown_merge_rule_and_purpose_are_rejected():
    with pytest.raises(ValueError, match="merge_rule"):
        build_consent_ledger(events(), KEYS, merge_rule="optimistic")
    with pytest.raises(ValueError, match="unknown consent purpose"):
        granted_entities(pl.DataFrame(), "sms")


def test_an_esp_stop_in_quarantine_still_withdraws():
    from email_data_platform.lib.privacy.consent_events import from_quarantined_esp_stops

    def row(key, rule, record):
        return {"source": "mailchimp", "table_name": "esp_events", "record_key": key,
                "rule": rule, "reason": "r", "raw_record": record, "run_id": "r",
                "quarantined_at": T3}
    quarantine = pl.DataFrame([
        row("m1", "occurred_at_unparseable", '{"event_type":"Unsubscribe","email":'
            '" Cy@Example.com","occurred_at":"soon","source":"mailchimp"}'),
        row("m2", "duplicate_event", '{"event_type":"unsubscribe","email":"bob@example.com"}'),
        row("m3", "occurred_at_unparseable", '{"event_type":"open","email":"bob@example.com"}'),
    ])
    events = from_quarantined_esp_stops(quarantine, "run-1")
    assert events.select("event_id", "email_key", "status", "occurred_at",
                         "metadata_issues").rows() == [
        ("esp:mailchimp:m1", "cy@example.com", "withdrawn", T3,
         "quarantined: occurred_at_unparseable")]
    addresses = build_address_consent(pl.concat([events, events_for_cy_grant()]), KEYS)
    assert addresses.filter(pl.col("email_key") == "cy@example.com")["status"].item() == (
        "withdrawn")


def events_for_cy_grant():
    return events(("h:4", None, "email_marketing", "granted", T2))


history = st.lists(st.tuples(st.sampled_from(["h:1", "h:2", "h:3", "h:4", None]),
                             st.sampled_from(["ann@example.com", "bob@example.com", None]),
                             st.sampled_from(["email_marketing", "analytics", "all"]),
                             st.sampled_from(["granted", "withdrawn"]),
                             st.sampled_from([T1, T2, T3])), max_size=10)


@settings(max_examples=60, deadline=None)
@given(rows=history, record=st.sampled_from(["h:1", "h:2", "h:3", "h:4"]))
def test_ledger_properties_hold_for_any_history(rows, record):
    ledger = build_consent_ledger(events(*rows), KEYS).ledger
    assert not ledger.select("entity_id", "purpose").is_duplicated().any()
    entity = RECORDS[record][0]
    granted = ledger.filter(pl.col("status") == "granted")
    grants = events(*rows).filter(pl.col("status") == "granted")
    # a grant is always backed by a grant event
    assert set(granted["event_id"]) <= set(grants["event_id"])
    # a withdrawal after everything else, on any record of a person, withdraws that person
    later = datetime(2026, 12, 1, tzinfo=UTC)
    after = build_consent_ledger(events(*rows, (record, None, "email_marketing", "withdrawn",
                                                later)), KEYS).ledger
    assert decision(after, entity)["status"] == "withdrawn"


@settings(max_examples=60, deadline=None)
@given(rows=history, merge_rule=st.sampled_from(["most_restrictive", "latest_event"]))
def test_the_ledger_built_in_parts_equals_the_ledger_built_whole(rows, merge_rule):
    from unittest import mock

    from email_data_platform.lib.privacy import consent

    whole = build_consent_ledger(events(*rows), KEYS, merge_rule=merge_rule)
    with mock.patch.object(consent, "PART_ROWS", 2):  # every part holds one or two rows
        parts = build_consent_ledger(events(*rows), KEYS, merge_rule=merge_rule)
    assert parts.ledger.equals(whole.ledger) and parts.topics.equals(whole.topics)
    assert parts.unattributed_events == whole.unattributed_events


@settings(max_examples=60, deadline=None)
@given(rows=history)
def test_address_consent_built_in_parts_equals_address_consent_built_whole(rows):
    from unittest import mock

    from email_data_platform.lib.privacy import consent

    whole = build_address_consent(events(*rows), KEYS)
    with mock.patch.object(consent, "PART_ROWS", 2):
        assert build_address_consent(events(*rows), KEYS).equals(whole)


def test_parts_hold_every_row_once_and_each_key_in_one_part():
    from unittest import mock

    from email_data_platform.lib.privacy import consent

    frame = pl.DataFrame({"k": [None, "a", "b", None, "a", "c", "d", "b"],
                          "n": list(range(8))}, schema={"k": pl.Utf8, "n": pl.Int64})
    with mock.patch.object(consent, "PART_ROWS", 3):
        parts = list(consent.in_parts(frame, "k"))
    assert len(parts) == 3
    assert sorted(pl.concat(parts)["n"].to_list()) == list(range(8))
    for key in ("a", "b", None):
        assert sum(p.filter(pl.col("k").eq_missing(key)).height > 0 for p in parts) == 1
