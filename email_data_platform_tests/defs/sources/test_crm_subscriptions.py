"""`sources/crm_subscriptions`: HubSpot's per-type statuses through the simulator, incrementally."""

import hashlib
import json

import httpx
import polars as pl
import pytest

from email_data_platform.defs.sources.assets import crm_contacts, crm_subscriptions
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.defs.sources.sources_helpers import materialize, metadata, read
from email_data_platform_tests.sandbox.sandbox_helpers import (
    admin,
    hubspot_headers,
    write_small_dataset,
)

ASSETS = [crm_contacts, crm_subscriptions]
PREFS = "/communication-preferences/v4"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """120 contacts; three addresses hold statuses the test knows (the data set's table)."""
    directory = write_small_dataset(tmp_path_factory.mktemp("subscriptions"), contacts=120)
    emails = pl.read_parquet(directory / "contacts.parquet")["email"].drop_nulls()
    emails = emails.filter(emails.str.contains("@")).unique(maintain_order=True).to_list()
    pl.DataFrame({
        "email": [emails[0], emails[0], emails[1], emails[2]],
        "subscription_name": ["Newsletter", "Offers", "Marketing Information", "Newsletter"],
        "status": ["NOT_SUBSCRIBED", "SUBSCRIBED", "NOT_SUBSCRIBED", "SUBSCRIBED"],
        "timestamp": ["2024-03-01T10:00:00Z"] * 4,
    }).write_csv(directory / "hubspot_subscriptions.csv")
    return directory


@pytest.fixture
def sandbox(data_dir, tmp_path):
    with running_sandbox(data_dir, tmp_path / "journal.jsonl") as info:
        yield info


def _batch_reads(journal) -> int:
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    return sum(1 for r in lines if r.get("path", "").endswith("/statuses/batch/read"))


def test_statuses_land_once_per_address_and_type_then_only_changed_addresses_are_read(
        sandbox, data_dir, tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    first = metadata(materialize(sandbox, warehouse, ASSETS), "sources/crm_subscriptions")
    landed = read(warehouse, "sources.crm_subscriptions")
    given = pl.read_csv(data_dir / "hubspot_subscriptions.csv")
    assert first["mode"] == "full" and first["rows_landed"] == 4
    assert sorted(landed.select("email", "subscription_name", "status").rows()) == sorted(
        given.select("email", "subscription_name", "status").rows())
    assert landed["occurred_at"].to_list() == ["2024-03-01T10:00:00.000Z"] * 4
    # keyed by the address's md5, so blanking `email` (anonymisation) leaves no address behind
    assert not landed["status_key"].str.contains("@").any()
    assert landed["subscriber_hash"].to_list() == [
        hashlib.md5(e.strip().lower().encode()).hexdigest() for e in landed["email"]]
    contacts = read(warehouse, "sources.crm_contacts").filter(pl.col("source") == "hubspot")
    addresses = contacts["email"].drop_nulls().str.strip_chars()
    reads = _batch_reads(tmp_path / "journal.jsonl")
    assert reads == -(-addresses.filter(addresses.str.contains("@")).n_unique() // 100)

    # the address leaves the newsletter in HubSpot: its contact changes, only it is read again
    address = given["email"][3]
    changed = httpx.post(f"{sandbox['hubspot']['base_url']}{PREFS}/statuses/{address}",
                         params={"channel": "EMAIL"}, headers=hubspot_headers(sandbox),
                         json={"subscriptionId": 1004, "statusState": "NOT_SUBSCRIBED",
                               "channel": "EMAIL"})
    assert changed.status_code == 200 and changed.json()["subscriptionName"] == "Newsletter"
    second = metadata(materialize(sandbox, warehouse, ASSETS), "sources/crm_subscriptions")
    assert second["mode"] == "incremental" and second["rows_fetched"] == 1
    assert _batch_reads(tmp_path / "journal.jsonl") == reads + 1
    now = read(warehouse, "sources.crm_subscriptions")
    assert now.height == 4
    assert now.filter(pl.col("email") == address)["status"].to_list() == ["NOT_SUBSCRIBED"]


def test_a_status_that_breaks_the_contract_is_quarantined_and_read_again(sandbox, tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    materialize(sandbox, warehouse, [crm_contacts])
    admin(sandbox, "hubspot", "faults", {"corrupt_record_rate": 1.0})
    broken = metadata(materialize(sandbox, warehouse, [crm_subscriptions]),
                      "sources/crm_subscriptions")
    admin(sandbox, "hubspot", "faults", {})
    quarantined = read(warehouse, "sources.quarantine").filter(
        pl.col("table_name") == "sources.crm_subscriptions")
    assert broken["quarantined"] == quarantined.height == 1
    assert quarantined["rule"].to_list() == ["missing_id"]
    assert broken["rows_landed"] == 3 and broken["cursor_after"] == ""  # the cursor held
    again = metadata(materialize(sandbox, warehouse, [crm_subscriptions]),
                     "sources/crm_subscriptions")
    assert again["mode"] == "full" and again["rows_landed"] == 4
    assert read(warehouse, "sources.crm_subscriptions").height == 4


def test_the_contract_is_refused_where_hubspot_refuses_it(sandbox):
    url, headers = sandbox["hubspot"]["base_url"] + PREFS, hubspot_headers(sandbox)
    no_channel = httpx.post(f"{url}/statuses/batch/read", json={"inputs": ["a@b.co"]},
                            headers=headers)
    too_many = httpx.post(f"{url}/statuses/batch/read", params={"channel": "EMAIL"},
                          json={"inputs": [f"p{i}@b.co" for i in range(101)]}, headers=headers)
    no_token = httpx.get(f"{url}/definitions")
    unknown_type = httpx.post(f"{url}/statuses/a@b.co", params={"channel": "EMAIL"},
                              json={"subscriptionId": 99, "statusState": "SUBSCRIBED"},
                              headers=headers)
    assert [r.status_code for r in (no_channel, too_many, no_token, unknown_type)] == [
        400, 400, 401, 400]
    names = {d["name"] for d in httpx.get(f"{url}/definitions", headers=headers).json()["results"]}
    assert {"Marketing Information", "Newsletter", "Offers"} <= names
