from datetime import UTC, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from email_data_platform.lib.privacy.consent import build_consent_ledger, granted_entities

T1 = datetime(2026, 1, 1, tzinfo=UTC)
T2 = datetime(2026, 2, 1, tzinfo=UTC)
T3 = datetime(2026, 3, 1, tzinfo=UTC)

ENTITIES = pl.DataFrame(
    {"record_id": ["h:1", "h:2", "h:3", "h:4"], "entity_id": ["e1", "e1", "e2", "e3"]}
)
ENTITY_OF = dict(zip(ENTITIES["record_id"], ENTITIES["entity_id"], strict=True))


def events(*rows):
    """rows: (record, purpose, status, occurred_at)."""
    return pl.DataFrame(
        [
            {"event_id": f"ev{i}", "source": "hubspot", "contact_record_id": rec,
             "email": "x@example.com", "purpose": purpose, "status": status,
             "channel": "web_form", "occurred_at": at, "policy_version": "2024-05"}
            for i, (rec, purpose, status, at) in enumerate(rows)
        ]
    )


def decision(ledger, entity, purpose="email_marketing"):
    row = ledger.filter((pl.col("entity_id") == entity) & (pl.col("purpose") == purpose))
    assert row.height <= 1
    return row.row(0, named=True) if row.height else None


def test_latest_event_of_a_record_wins():
    result = build_consent_ledger(
        events(("h:3", "email_marketing", "granted", T1),
               ("h:3", "email_marketing", "withdrawn", T2),
               ("h:3", "email_marketing", "granted", T3)),
        ENTITIES,
    )
    assert decision(result.ledger, "e2")["status"] == "granted"
    assert decision(result.ledger, "e2")["decided_at"] == T3


def test_tie_at_same_instant_is_withdrawn():
    result = build_consent_ledger(
        events(("h:3", "email_marketing", "granted", T2),
               ("h:3", "email_marketing", "withdrawn", T2)),
        ENTITIES,
    )
    assert decision(result.ledger, "e2")["status"] == "withdrawn"


def test_merged_records_disagreeing_resolve_most_restrictive():
    # h:1 withdrew earlier, h:2 granted later: both are the same person (e1)
    rows = (("h:1", "email_marketing", "withdrawn", T1), ("h:2", "email_marketing", "granted", T2))
    strict = build_consent_ledger(events(*rows), ENTITIES).ledger
    assert decision(strict, "e1")["status"] == "withdrawn"
    assert decision(strict, "e1")["record_id"] == "h:1"
    latest = build_consent_ledger(events(*rows), ENTITIES, merge_rule="latest_event").ledger
    assert decision(latest, "e1")["status"] == "granted"


def test_silent_record_does_not_block_a_grant():
    result = build_consent_ledger(events(("h:2", "email_marketing", "granted", T1)), ENTITIES)
    assert decision(result.ledger, "e1")["status"] == "granted"


def test_no_event_means_no_consent_and_purposes_are_independent():
    result = build_consent_ledger(events(("h:3", "analytics", "granted", T1)), ENTITIES)
    assert decision(result.ledger, "e3") is None
    assert decision(result.ledger, "e2", "email_marketing") is None
    assert granted_entities(result.ledger, "email_marketing").height == 0
    assert granted_entities(result.ledger, "analytics")["entity_id"].to_list() == ["e2"]


def test_one_row_per_entity_and_purpose():
    result = build_consent_ledger(
        events(("h:1", "email_marketing", "granted", T1), ("h:2", "email_marketing", "granted", T2),
               ("h:1", "analytics", "withdrawn", T1)),
        ENTITIES,
    )
    assert result.ledger.select("entity_id", "purpose").is_duplicated().sum() == 0
    assert result.ledger.height == 2


def test_unmatched_and_invalid_events_are_reported_not_attributed():
    result = build_consent_ledger(
        events(("h:99", "email_marketing", "granted", T1),
               ("h:1", "newsletters", "granted", T1),
               ("h:1", "email_marketing", "maybe", T1)),
        ENTITIES,
    )
    assert result.ledger.height == 0
    assert result.unmatched_events == 1
    assert sorted(result.invalid_events["rule"].to_list()) == ["purpose_known", "status_known"]


def test_unknown_merge_rule_and_purpose_are_rejected():
    with pytest.raises(ValueError, match="merge_rule"):
        build_consent_ledger(events(), ENTITIES, merge_rule="optimistic")
    with pytest.raises(ValueError, match="unknown consent purpose"):
        granted_entities(pl.DataFrame(), "sms")


def test_marketable_audience_applies_every_rule_and_protects_shared_inboxes():
    from email_data_platform.lib.privacy.consent import build_marketable_audience

    golden = pl.DataFrame({
        "entity_id": ["e1", "e2", "e3", "e4", "e5", "e6"],
        "email": ["Ann@Example.com", "bob@example.com", "not-an-email", "fam@example.com",
                  "fam@example.com", "erased@example.com"],
        "first_name": ["Ann", "Bob", "Cy", "Di", "Ed", "Flo"], "last_name": ["L"] * 6,
    })
    ledger = build_consent_ledger(
        events(*[(f"h:{i}", "email_marketing", "granted", T1) for i in (1, 2, 3, 4, 5, 6)],
               ("h:5", "email_marketing", "withdrawn", T2)),
        pl.DataFrame({"record_id": [f"h:{i}" for i in range(1, 7)],
                      "entity_id": [f"e{i}" for i in range(1, 7)]}),
    ).ledger
    features = pl.DataFrame({"entity_id": ["e1", "e2", "e3", "e4", "e5", "e6"],
                             "suppressed": [False, True, False, False, False, False]})
    audience, exclusions = build_marketable_audience(
        golden, ledger, features, erased_entity_ids=pl.Series(["e6"]))
    # e2 suppressed, e3 invalid email, e4 shares an inbox with e5 who withdrew, e6 erased
    assert audience["entity_id"].to_list() == ["e1"]
    assert audience["email"].to_list() == ["ann@example.com"]
    assert exclusions == {"people": 6, "no_email_marketing_consent": 1, "suppressed_at_esp": 1,
                          "erased": 1, "invalid_email": 1, "inbox_shared_with_ineligible": 1,
                          "marketable": 1}


def test_email_only_events_grant_for_one_person_and_withdraw_for_all():
    record_emails = pl.DataFrame({
        "record_id": ["h:1", "h:3", "h:4"],
        "email": ["ann@example.com", "family@example.com", "FAMILY@example.com"],
    })
    email_events = pl.DataFrame([
        {"event_id": f"m{i}", "source": "consent_platform", "contact_record_id": None,
         "email": email, "purpose": "email_marketing", "status": status,
         "channel": "preference_centre", "occurred_at": at, "policy_version": "2024-05"}
        for i, (email, status, at) in enumerate([
            ("Ann@Example.com", "granted", T1),       # one person: counts for e1
            ("family@example.com", "granted", T1),    # e2 and e3 share it: cannot count
            ("family@example.com", "withdrawn", T2),  # reaches both
            ("nobody@example.com", "granted", T1),    # no such address: unmatched
        ])
    ], schema_overrides={"contact_record_id": pl.Utf8})
    result = build_consent_ledger(email_events, ENTITIES, record_emails=record_emails)
    assert decision(result.ledger, "e1")["status"] == "granted"
    assert decision(result.ledger, "e1")["record_id"] == "h:1"
    assert decision(result.ledger, "e2")["status"] == "withdrawn"
    assert decision(result.ledger, "e3")["status"] == "withdrawn"
    assert result.unmatched_events == 2  # nobody@ and the shared-inbox grant: attributed to no one


def test_shared_inbox_grant_alone_gives_nobody_consent():
    record_emails = pl.DataFrame({"record_id": ["h:3", "h:4"],
                                  "email": ["family@example.com"] * 2})
    grant = pl.DataFrame([{
        "event_id": "m1", "source": "consent_platform", "contact_record_id": None,
        "email": "family@example.com", "purpose": "email_marketing", "status": "granted",
        "channel": "web_form", "occurred_at": T1, "policy_version": "2024-05"}],
        schema_overrides={"contact_record_id": pl.Utf8})
    result = build_consent_ledger(grant, ENTITIES, record_emails=record_emails)
    assert result.ledger.height == 0 and result.unmatched_events == 1


# -- properties over random event histories -------------------------------------------------

RECORDS = ["h:1", "h:2", "h:3", "h:4"]
random_events = st.lists(
    st.tuples(st.sampled_from(RECORDS), st.sampled_from(["email_marketing", "analytics"]),
              st.sampled_from(["granted", "withdrawn"]), st.integers(0, 5)),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(random_events)
def test_ledger_properties_hold_for_any_history(rows):
    history = events(*[(rec, purpose, status, datetime(2026, 1, 1 + day, tzinfo=UTC))
                       for rec, purpose, status, day in rows])
    strict = build_consent_ledger(history, ENTITIES).ledger if rows else pl.DataFrame(
        schema={"entity_id": pl.Utf8, "purpose": pl.Utf8, "status": pl.Utf8})
    latest = build_consent_ledger(history, ENTITIES, merge_rule="latest_event").ledger \
        if rows else strict
    # one decision per entity and purpose, and only where some event exists
    assert strict.select("entity_id", "purpose").is_duplicated().sum() == 0
    assert strict.height == latest.height == len({(ENTITY_OF[r], p) for r, p, _, _ in rows})
    # most-restrictive never grants what latest-event withholds
    granted = set(strict.filter(pl.col("status") == "granted")
                  .select("entity_id", "purpose").iter_rows())
    assert granted <= set(latest.filter(pl.col("status") == "granted")
                          .select("entity_id", "purpose").iter_rows())
    # a grant means no record of that person currently says withdrawn
    for entity, purpose in granted:
        for record in [r for r, e in ENTITY_OF.items() if e == entity]:
            own = [(day, status) for r, p, status, day in rows if r == record and p == purpose]
            if own:
                last_day = max(day for day, _ in own)
                assert "withdrawn" not in {s for d, s in own if d == last_day}
