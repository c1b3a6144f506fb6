"""HubSpot and Mailchimp connectors against the simulators."""

from datetime import UTC, datetime

import polars as pl
import pytest

from email_data_platform.lib.connectors.consent import ConsentFeedClient
from email_data_platform.lib.connectors.http import RetryPolicy
from email_data_platform.lib.connectors.hubspot import HubSpotClient, record_problem, to_ms
from email_data_platform.lib.connectors.mailchimp import MailchimpClient, subscriber_hash
from email_data_platform.sandbox.faults import FaultConfig
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.sandbox.sandbox_helpers import write_small_dataset

FAST = RetryPolicy(base_delay_s=0.01, max_delay_s=0.05)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_small_dataset(tmp_path_factory.mktemp("connector_data"), contacts=600)


def _hubspot(info: dict) -> HubSpotClient:
    return HubSpotClient(info["hubspot"]["base_url"], info["hubspot"]["access_token"],
                         policy=FAST)


def test_full_listing_and_search_agree(data_dir, tmp_path):
    with running_sandbox(data_dir, tmp_path / "j.jsonl") as info:
        client = _hubspot(info)
        listed = list(client.iter_contacts())
        searched = list(client.search_modified_since("contacts", 0, 2**62))
        total = client.count("contacts")
        client.close()
    assert len(listed) == len(searched) == total == 600
    assert {r["id"] for r in listed} == {r["id"] for r in searched}
    stamps = [to_ms(r["properties"]["lastmodifieddate"]) for r in searched]
    assert stamps == sorted(stamps)


def test_search_never_skips_records_that_share_a_timestamp(data_dir, tmp_path):
    """450 contacts on one instant: more than two search pages of ties, drained by id."""
    faults = FaultConfig(shared_modified_count=450, seed=5)
    with running_sandbox(data_dir, tmp_path / "j.jsonl", faults) as info:
        client = _hubspot(info)
        found = list(client.search_modified_since("contacts", 0, 2**62))
        client.close()
    ids = [r["id"] for r in found]
    assert len(ids) == len(set(ids)) == 600


def test_search_windows_step_past_the_10000_result_cap(tmp_path):
    contacts = pl.DataFrame({
        "id": [str(i) for i in range(1, 10_451)],
        "updated_at": [f"2025-01-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z"
                       for i in range(10_450)],
    })
    (tmp_path / "data").mkdir()
    contacts.write_parquet(tmp_path / "data" / "contacts.parquet")
    with running_sandbox(tmp_path / "data", tmp_path / "j.jsonl") as info:
        client = _hubspot(info)
        found = list(client.search_modified_since("contacts", 0, 2**62, ("email",)))
        client.close()
    assert len(found) == len({r["id"] for r in found}) == 10_450


def test_deals_come_with_their_contacts(data_dir, tmp_path):
    orders = pl.read_parquet(data_dir / "orders.parquet")
    with running_sandbox(data_dir, tmp_path / "j.jsonl") as info:
        client = _hubspot(info)
        deals = list(client.iter_deals())
        via_v4 = client.deal_contact_ids([d["id"] for d in deals[:5]])
        client.close()
    expected = dict(zip(orders["order_id"], orders["contact_id"], strict=True))
    assert len(deals) == orders.height
    listed = {d["id"]: d["associations"]["contacts"]["results"][0]["id"] for d in deals}
    assert listed == expected
    assert via_v4 == {k: expected[k] for k in via_v4} and len(via_v4) == 5


def test_bad_records_are_named_with_the_rule_they_broke():
    assert record_problem({"properties": {}})[0] == "missing_id"
    assert record_problem({"id": "12", "properties": ["x"]})[0] == "wrong_type"
    assert "email" in record_problem({"id": "12", "properties": {"email": 5}})[1]
    assert record_problem({"id": "12", "properties": {}}, "lastmodifieddate")[0] == (
        "missing_property")
    assert record_problem({"id": "12", "properties": {"email": None}}) is None


def test_mailchimp_client_contract_for_activation(tmp_path):
    with running_sandbox(tmp_path / "empty", tmp_path / "j.jsonl") as info:
        mc = info["mailchimp"]
        client = MailchimpClient(mc["base_url"], mc["api_key"], policy=FAST)
        members = [{"email_address": f"user{i}@example.com", "status_if_new": "subscribed",
                    "merge_fields": {"FNAME": f"U{i}"}, "tags": ["new"]} for i in range(500)]
        created = client.batch_upsert_members(mc["list_id"], members)
        with pytest.raises(ValueError, match="at most 500"):
            client.batch_upsert_members(mc["list_id"], members + members[:1])
        client.archive_member(mc["list_id"], subscriber_hash("USER1@example.com"))
        client.delete_member_permanently(mc["list_id"], subscriber_hash("user2@example.com"))
        client.archive_member(mc["list_id"], subscriber_hash("nobody@example.com"))
        active = list(client.iter_members(mc["list_id"]))
        archived = list(client.iter_members(mc["list_id"], status="archived"))
        client.close()
    assert created["total_created"] == 500 and created["error_count"] == 0
    assert len(active) == 498
    assert [m["email_address"] for m in archived] == ["user1@example.com"]
    assert subscriber_hash(" User@Example.COM ") == subscriber_hash("user@example.com")


def test_consent_feed_client_reads_everything_with_the_source_total(data_dir, tmp_path):
    consent = pl.read_parquet(data_dir / "consent.parquet")
    with running_sandbox(data_dir, tmp_path / "j.jsonl") as info:
        client = ConsentFeedClient(info["consent"]["base_url"], info["consent"]["api_key"])
        events = list(client.iter_events())
        client.close()
    assert len(events) == client.total == consent.height


def test_search_since_accepts_iso_and_defaults_until_to_now(data_dir, tmp_path):
    with running_sandbox(data_dir, tmp_path / "j.jsonl") as info:
        client = _hubspot(info)
        stamps = sorted(to_ms(r["properties"]["lastmodifieddate"])
                        for r in client.search_modified_since("contacts", 0, 2**62))
        client.close()
        # "now" is fixed inside the data, so records modified after it must be left out
        middle, now = stamps[300], stamps[450]
        client = HubSpotClient(info["hubspot"]["base_url"], info["hubspot"]["access_token"],
                               policy=FAST, clock_ms=lambda: now)
        iso = datetime.fromtimestamp(middle / 1000, UTC).isoformat()
        later = list(client.search_modified_since("contacts", iso))
        client.close()
    assert len(stamps) == 600
    expected = sum(middle <= s <= now for s in stamps)
    assert len(later) == expected and expected < 600 - 300
