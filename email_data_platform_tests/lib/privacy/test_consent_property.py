"""No sequence of consent events (bad metadata included) and identity merges lets a withdrawn or
never-consented address receive a push, through the real cleaning, ledger, audience, payload,
proof check and the Mailchimp simulator; judged by an oracle that reads the raw rows alone."""

import itertools
from datetime import UTC, datetime

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from email_data_platform.lib.activation.destinations import load_destinations
from email_data_platform.lib.activation.payload import build_esp_payload, member_from_payload_row
from email_data_platform.lib.connectors.mailchimp import MailchimpClient
from email_data_platform.lib.privacy.stage import (
    build_audience,
    decide_consent,
    prove_payload,
    record_consent_events,
)
from email_data_platform.lib.profiles.emails import normalise_emails
from email_data_platform.lib.profiles.stage import clean_consent_events, clean_esp_events
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.consent_oracle import fold, mailable_addresses

NOW = datetime(2026, 11, 1, tzinfo=UTC)
EXAMPLE = itertools.count()
# local parts and domains; every example gets its own domain suffix so examples never collide
ADDRESSES = ["ann@ex.com", "Ann@EX.com", "ann@exmaple.com", "ann+news@ex.com", "bob@ex.com",
             "fam@ex.com", "not-an-address"]
TIMES = ["2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z",
         "2026-06-01T00:00:00Z", "yesterday-ish", None]

# (address, entity, CRM opt-out flag as landed, the record's updated_at)
records = st.lists(st.tuples(st.sampled_from(ADDRESSES), st.sampled_from(["e1", "e2", "e3"]),
                             st.sampled_from(["false", "false", None, "true", "Yes"]),
                             st.sampled_from(TIMES)),
                   min_size=1, max_size=5)
consent_events = st.lists(st.fixed_dictionaries({
    "record": st.integers(-1, 5),  # an index into the records; -1 names none, 5 names nobody
    "email": st.sampled_from([*ADDRESSES, None]),
    "purpose": st.sampled_from(["email_marketing", "email_marketing", "spam_me", "analytics"]),
    "status": st.sampled_from(["granted", "granted", "withdrawn", "Unsubscribed", "opt-in",
                               "STOP", None]),
    "channel": st.sampled_from(["web_form", "web_form", "carrier_pigeon", None]),
    "policy_version": st.sampled_from(["2024-05", "2024-05", None]),
    "occurred_at": st.sampled_from(TIMES),
    "event_id_missing": st.booleans(),
}), max_size=8)
esp_stops = st.lists(st.tuples(st.sampled_from(ADDRESSES[:6]),
                               st.sampled_from(["unsubscribe", "complaint", "bounce", "open"])),
                     max_size=2)
# HubSpot subscription statuses: (address, type name, status, timestamp)
subscriptions = st.lists(st.tuples(
    st.sampled_from(ADDRESSES[:6]),
    st.sampled_from(["Marketing Information", "marketing information", "Newsletter",
                     "One to One", "Webinars"]),
    st.sampled_from(["NOT_SUBSCRIBED", "SUBSCRIBED", "NOT_SPECIFIED", "opted-out?"]),
    st.sampled_from(TIMES)), max_size=3)
SUBSCRIPTION_COLUMNS = ["source", "email", "subscription_name", "status", "legal_basis",
                        "occurred_at", "extracted_at"]


def localised(email: str | None, tag: str) -> str | None:
    return email.replace(".com", f"{tag}.com") if email else None


def raw_tables(people, events, stops, tag, subs=()):
    contacts = [{"record_id": f"hubspot:{i}", "source": "hubspot", "email": localised(e, tag),
                 "entity": entity, "email_opt_out": flag, "updated_at": updated,
                 "extracted_at": NOW}
                for i, (e, entity, flag, updated) in enumerate(people)]
    consent = [{
        "event_id": None if ev["event_id_missing"] and ev["status"] != "granted" else f"c{n}",
        "source": "consent_platform",
        "contact_record_id": None if ev["record"] < 0 else f"hubspot:{ev['record']}",
        "email": localised(ev["email"], tag), "purpose": ev["purpose"], "status": ev["status"],
        "channel": ev["channel"], "occurred_at": ev["occurred_at"],
        "policy_version": ev["policy_version"], "extracted_at": NOW, "run_id": "r"}
        for n, ev in enumerate(events)]
    esp = [{"event_id": f"m{n}", "source": "mailchimp", "email": localised(e, tag),
            "event_type": kind, "occurred_at": "2026-04-01T00:00:00Z", "campaign_id": "c",
            "extracted_at": NOW, "run_id": "r"} for n, (e, kind) in enumerate(stops)]
    statuses = [{"source": "hubspot", "email": localised(e, tag), "subscription_name": name,
                 "status": status, "legal_basis": None, "occurred_at": at, "extracted_at": NOW}
                for e, name, status, at in subs]
    return contacts, consent, esp, statuses


def frame(rows, columns):
    return pl.DataFrame(rows, schema={c: pl.Utf8 for c in columns} | (
        {"extracted_at": pl.Datetime("us", "UTC")} if "extracted_at" in columns else {}))


def warehouse_for(contacts, consent, esp, statuses=()) -> DuckDBWarehouse:
    """The platform's own stages from raw rows up to the payload, in an in-memory warehouse."""
    wh = DuckDBWarehouse(":memory:")
    raw = frame(contacts, ["record_id", "source", "email", "entity", "email_opt_out",
                           "updated_at", "extracted_at"])
    wh.write("sources.crm_contacts", raw.drop("entity"))
    wh.write("sources.crm_subscriptions", frame(list(statuses), SUBSCRIPTION_COLUMNS))
    profiles = normalise_emails(raw)
    wh.write("profiles.clean_profiles", profiles.select(
        "record_id", "email_key", email=pl.when("email_valid").then("email"),
        updated_at=pl.lit(NOW)))
    wh.write("identity.entities", profiles.select("record_id", entity_id="entity"))
    wh.write("identity.golden_profiles", profiles.select(
        entity_id="entity", first_name=pl.lit("X"), last_name=pl.lit("Y")).unique("entity_id"))
    wh.write("profiles.clean_consent_events", clean_consent_events(
        frame(consent, list(consent[0]) if consent else ["event_id", "extracted_at"]), "r",
        now=NOW).clean)
    wh.write("profiles.clean_esp_events", clean_esp_events(
        frame(esp, list(esp[0]) if esp else ["event_id", "extracted_at"]), "r", now=NOW).clean)
    record_consent_events(wh, "r")
    decide_consent(wh)
    wh.write("audiences.customer_features", profiles.select(
        entity_id="entity", suppressed=pl.lit(False)).unique("entity_id"))
    audience, _ = build_audience(wh)
    wh.write("activation.esp_payload", build_esp_payload(
        audience, audience.select("entity_id", lifetime_value=pl.lit(0.0)),
        pl.DataFrame(schema={"entity_id": pl.Utf8, "segment": pl.Utf8}),
        [d for d in load_destinations() if d.vendor == "mailchimp"]))
    return wh


@pytest.fixture(scope="module")
def esp(tmp_path_factory):
    folder = tmp_path_factory.mktemp("esp")
    with running_sandbox(folder / "no_data", folder / "journal.jsonl") as info:
        client = MailchimpClient(info["mailchimp"]["base_url"], info["mailchimp"]["api_key"])
        yield client, info["mailchimp"]["list_id"]
        client.close()


def check_no_unconsented_push(esp, people, events, stops, subs=()):
    client, list_id = esp
    tag = f"x{next(EXAMPLE)}"
    contacts, consent, esp_rows, statuses = raw_tables(people, events, stops, tag, subs)
    wh = warehouse_for(contacts, consent, esp_rows, statuses)
    checked, unproven = prove_payload(wh)
    assert unproven.height == 0, unproven.to_dicts()  # the blocking check agrees
    payload = wh.read("activation.esp_payload")
    if payload.height:
        client.batch_upsert_members(list_id, [member_from_payload_row(r)
                                              for r in payload.iter_rows(named=True)])
    at_esp = {fold(m["email_address"]) for m in client.iter_members(list_id)
              if tag in m["email_address"]}
    allowed = mailable_addresses(contacts, consent, esp_rows, now=NOW,
                                 subscription_rows=statuses)
    assert at_esp <= allowed, (sorted(at_esp - allowed), consent, contacts)
    return checked


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(people=records, events=consent_events, stops=esp_stops, subs=subscriptions)
def test_no_withdrawn_or_unconsented_address_is_ever_pushed(esp, people, events, stops, subs):
    check_no_unconsented_push(esp, people, events, stops, subs)


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(people=records, events=consent_events, stops=esp_stops, subs=subscriptions)
def test_no_withdrawn_or_unconsented_address_is_ever_pushed_at_length(esp, people, events,
                                                                      stops, subs):
    check_no_unconsented_push(esp, people, events, stops, subs)


def test_the_cases_the_issue_found_are_not_pushed(esp):
    """A withdrawal with an unknown channel after a grant; a grant on the typo'd copy's twin."""
    people = [("ann@ex.com", "e1", None, TIMES[0]), ("ann@exmaple.com", "e1", None, TIMES[0]),
              ("bob@ex.com", "e2", None, TIMES[0])]
    grant = {"record": 0, "email": None, "purpose": "email_marketing", "status": "granted",
             "channel": "web_form", "policy_version": "2024-05",
             "occurred_at": TIMES[0], "event_id_missing": False}
    withdrawal = grant | {"record": 2, "status": "withdrawn", "channel": "carrier_pigeon",
                          "occurred_at": TIMES[3]}
    checked = check_no_unconsented_push(esp, people, [grant, grant | {"record": 2}, withdrawal],
                                        [])
    assert checked == 1  # ann@ex.com only: not the typo, not bob who withdrew


def test_a_grant_for_another_address_does_not_open_the_persons_own(esp):
    """Ann's record carries a grant whose own address is bob's: Ann is granted as a person, but
    no address she holds has a grant of its own, so nothing is pushed."""
    grant = {"record": 0, "email": "bob@ex.com", "purpose": "email_marketing",
             "status": "granted", "channel": "web_form", "policy_version": "2024-05",
             "occurred_at": TIMES[0], "event_id_missing": False}
    assert check_no_unconsented_push(esp, [("ann@ex.com", "e1", None, TIMES[0])], [grant],
                                     []) == 0


GRANT = {"record": 0, "email": None, "purpose": "email_marketing", "status": "granted",
         "channel": "web_form", "policy_version": "2024-05", "occurred_at": TIMES[0],
         "event_id_missing": False}


def test_a_crm_opt_out_flag_withdraws_the_record_and_its_address(esp):
    """HubSpot's hs_email_optout / Salesforce's HasOptedOutOfEmail set after the grant: no push,
    whatever spelling the flag has; a flag seen before a newer grant does not block it."""
    for flag in ("true", "Yes", "1"):
        assert check_no_unconsented_push(
            esp, [("ann@ex.com", "e1", flag, TIMES[3])], [GRANT], []) == 0
    assert check_no_unconsented_push(esp, [("ann@ex.com", "e1", "false", TIMES[3])], [GRANT],
                                     []) == 1
    assert check_no_unconsented_push(
        esp, [("ann@ex.com", "e1", "true", TIMES[0])], [GRANT | {"occurred_at": TIMES[3]}],
        []) == 1


def test_an_opt_out_on_an_unreadable_record_still_withdraws_its_address(esp):
    """The address was granted by its own event; the opted-out record holding it (spelled
    differently) has an unreadable update time: the withdrawal is dated at extraction, after
    the grant, and reaches the address by its key."""
    by_address = GRANT | {"record": -1, "email": "ann@ex.com"}
    people = [("ann@ex.com", "e1", None, TIMES[0]), ("Ann@EX.com", "e1", "true", "yesterday-ish")]
    assert check_no_unconsented_push(esp, people, [by_address], []) == 0
    people[1] = ("Ann@EX.com", "e1", "false", "yesterday-ish")
    assert check_no_unconsented_push(esp, people, [by_address], []) == 1


def test_leaving_hubspot_marketing_information_withdraws_and_joining_grants_nothing(esp):
    """After the grant, the address leaves HubSpot's Marketing Information type: no push. Joining
    it again (no consent-platform grant since) does not reopen the address; leaving only the
    newsletter, or a type the taxonomy does not list, leaves the grant standing."""
    people = [("ann@ex.com", "e1", None, TIMES[0])]
    left = ("ann@ex.com", "Marketing Information", "NOT_SUBSCRIBED", TIMES[3])
    rejoined = ("ann@ex.com", "Marketing Information", "SUBSCRIBED", TIMES[3])
    assert check_no_unconsented_push(esp, people, [GRANT], [], [left]) == 0
    assert check_no_unconsented_push(esp, people, [GRANT], [], [left, rejoined]) == 0
    for other in ("Newsletter", "Webinars", "One to One"):
        assert check_no_unconsented_push(
            esp, people, [GRANT], [], [("ann@ex.com", other, "NOT_SUBSCRIBED", TIMES[3])]) == 1


DECIDED = {"privacy.consent_events": "event_id", "privacy.consent_ledger": "entity_id, purpose",
           "privacy.address_consent": "email_key, purpose",
           "privacy.topic_preferences": "entity_id, topic",
           "activation.esp_payload": "subscriber_hash"}


def decided_tables(wh) -> dict[str, pl.DataFrame]:
    return {t: wh.query(f"select * exclude (run_id) from {t} order by {order}")
            if t == "privacy.consent_events" else wh.query(f"select * from {t} order by {order}")
            for t, order in DECIDED.items()}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(people=records, events=consent_events, stops=esp_stops, subs=subscriptions)
def test_reading_and_deciding_in_parts_changes_no_decision(people, events, stops, subs):
    """Feeds appended part by part and the history read back in parts (two rows each) record
    the same events and decide the same ledger, addresses, topics and payload as one part."""
    tables = raw_tables(people, events, stops, "p", subs)
    whole = decided_tables(warehouse_for(*tables))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("email_data_platform.lib.privacy.stage.PART_ROWS", 2)
        patch.setattr("email_data_platform.lib.privacy.consent.PART_ROWS", 2)
        in_parts = decided_tables(warehouse_for(*tables))
    for table, frame in whole.items():
        assert in_parts[table].equals(frame), table
