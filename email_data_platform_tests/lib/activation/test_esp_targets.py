"""The Mailchimp and SendGrid sync targets against the simulators (real HTTP, real connectors)."""

import hashlib
import json

import pytest

from email_data_platform.lib.activation.destinations import Destination
from email_data_platform.lib.activation.esp_targets import MailchimpTarget, SendGridTarget
from email_data_platform.lib.connectors.mailchimp import MailchimpClient
from email_data_platform.lib.connectors.sendgrid import SendGridClient
from email_data_platform.sandbox.faults import FaultConfig
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.sandbox.sandbox_helpers import admin


@pytest.fixture
def vendors(tmp_path):
    with running_sandbox(tmp_path / "no_data", tmp_path / "journal.jsonl") as info:
        yield info


def row(email, tags=(), previous=None, **fields):
    return {"email": email, "subscriber_hash": hashlib.md5(email.encode()).hexdigest(),
            "merge_fields": json.dumps(fields), "tags": list(tags), "previous_tags": previous,
            "payload_hash": "h"}


def mailchimp(vendors, on_leave="archive"):
    info = vendors["mailchimp"]
    client = MailchimpClient(info["base_url"], info["api_key"])
    return client, MailchimpTarget(client, info["list_id"], Destination(
        "mailchimp", "mailchimp", None, {"first_name": "FNAME"}, True, "", on_leave))


def test_mailchimp_removes_only_the_tags_a_member_left(vendors):
    client, target = mailchimp(vendors)
    ann = row("ann@example.com", ["high_value", "lapsed"], FNAME="Ann")
    assert target.upsert([ann]) == {}
    client.update_member_tags(target.list_id, ann["subscriber_hash"],
                              [{"name": "marketer_vip", "status": "active"}])
    left = row("ann@example.com", ["lapsed"], previous=["high_value", "lapsed"], FNAME="Ann")
    assert target.upsert([left]) == {}
    member = client.get_member(target.list_id, ann["subscriber_hash"])
    assert sorted(t["name"] for t in member["tags"]) == ["lapsed", "marketer_vip"]
    assert target.requests["writes"] == 3  # two batch subscribes, one batch operation


def test_mailchimp_removals_are_batch_operations_and_unknown_members_count_as_done(vendors):
    client, target = mailchimp(vendors, on_leave="unsubscribe")
    people = [row(f"p{i}@example.com") for i in range(3)]
    target.upsert(people)
    writes = target.requests["writes"]
    assert target.remove(people + [row("never@example.com")]) == {}
    assert target.requests["writes"] == writes + 1  # one request for four removals
    statuses = {m["email_address"]: m["status"] for m in client.iter_members(
        target.list_id, status="unsubscribed")}
    assert statuses == {f"p{i}@example.com": "unsubscribed" for i in range(3)}


def test_mailchimp_classifies_refusals(vendors):
    client, target = mailchimp(vendors)
    gone = row("gone@example.com")
    target.upsert([gone])
    client.delete_member_permanently(target.list_id, gone["subscriber_hash"])
    failures = target.upsert([gone, row("fake@nowhere")])
    assert all(f.permanent for f in failures.values()) and len(failures) == 2
    admin(vendors, "mailchimp", "faults", FaultConfig(member_error_rate=1.0).to_dict())
    (transient,) = target.upsert([row("later@example.com")]).values()
    assert not transient.permanent


def sendgrid(vendors, on_leave="remove_from_list"):
    info = vendors["sendgrid"]
    client = SendGridClient(info["base_url"], info["api_key"])
    target = SendGridTarget(client, Destination(
        "sendgrid", "sendgrid", None, {"first_name": "first_name", "lifetime_value": "ltv"},
        False, "edp_everyone", on_leave))
    target.prepare()
    return client, target


def test_sendgrid_upserts_onto_its_list_with_custom_fields_and_reports_bad_contacts(vendors):
    client, target = sendgrid(vendors)
    failures = target.upsert([row("ann@example.com", first_name="Ann", ltv="12.5"),
                              row("not-an-address", first_name="X", ltv="")])
    assert list(failures.values())[0].permanent and len(failures) == 1
    ann = client.search_emails(["ann@example.com"])["ann@example.com"]
    (field,) = [f for f in client.field_definitions() if f["name"] == "ltv"]
    assert ann["first_name"] == "Ann" and ann["custom_fields"] == {field["id"]: "12.5"}
    assert ann["list_ids"] == [target._list_id]
    assert target.requests["polls"] >= 1
    _, again = sendgrid(vendors)  # a second prepare reuses the list and fields
    assert again.requests["writes"] == 0


def test_sendgrid_removal_takes_people_off_the_list_or_deletes_them(vendors):
    client, target = sendgrid(vendors)
    target.upsert([row("a@example.com"), row("b@example.com")])
    refused = target.remove([row("a@example.com"), {"subscriber_hash": "f" * 32}])
    assert list(refused) == ["f" * 32] and refused["f" * 32].permanent  # no address to find
    assert client.search_emails(["a@example.com"])["a@example.com"]["list_ids"] == []
    _, deleting = sendgrid(vendors, on_leave="delete")
    deleting.remove([row("b@example.com")])
    assert client.search_emails(["b@example.com"]) == {}


def test_mailchimp_lists_its_members_only_when_the_count_disagrees(vendors):
    client, target = mailchimp(vendors)
    people = [row(f"p{i}@example.com") for i in range(3)]
    target.upsert(people)
    assert target.present_members(expected=3) is None  # one count request, no listing
    client.archive_member(target.list_id, people[0]["subscriber_hash"])
    assert sorted(target.present_members(expected=3)) == sorted(
        p["subscriber_hash"] for p in people[1:])
