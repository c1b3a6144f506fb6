"""The HubSpot simulator honours the parts of the CRM v3 contract the connectors rely on."""

import json

import httpx
import polars as pl
import pytest

from email_data_platform.sandbox.faults import FaultConfig
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.sandbox.sandbox_helpers import (
    admin,
    hubspot_headers,
    write_small_dataset,
)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_small_dataset(tmp_path_factory.mktemp("hubspot_data"), contacts=250)


@pytest.fixture
def sandbox(data_dir, tmp_path):
    with running_sandbox(data_dir, tmp_path / "journal.jsonl") as info:
        yield info


def _client(info: dict) -> httpx.Client:
    return httpx.Client(base_url=info["hubspot"]["base_url"], headers=hubspot_headers(info))


def test_listing_pages_by_after_and_returns_every_contact_once(sandbox, data_dir):
    ids, after, pages = [], None, 0
    with _client(sandbox) as http:
        while True:
            params = {"limit": 100, "properties": "email,zip"} | ({"after": after} if after else {})
            page = http.get("/crm/v3/objects/contacts", params=params).json()
            pages += 1
            ids += [r["id"] for r in page["results"]]
            assert set(page["results"][0]["properties"]) >= {"email", "zip", "hs_object_id"}
            after = page.get("paging", {}).get("next", {}).get("after")
            if not after:
                break
    expected = pl.read_parquet(data_dir / "contacts.parquet")["id"].to_list()
    assert sorted(ids, key=int) == sorted(expected, key=int)
    assert pages == 3


def test_contract_errors_look_like_hubspot(sandbox):
    with _client(sandbox) as http:
        too_many = http.get("/crm/v3/objects/contacts", params={"limit": 101})
        past_cap = http.post("/crm/v3/objects/contacts/search", json={"after": "10000"})
        big_search = http.post("/crm/v3/objects/contacts/search", json={"limit": 201})
    bad_token = httpx.get(sandbox["hubspot"]["base_url"] + "/crm/v3/objects/contacts",
                          headers={"Authorization": "Bearer wrong"})
    assert too_many.status_code == past_cap.status_code == big_search.status_code == 400
    assert past_cap.json()["status"] == "error" and "10000" in past_cap.json()["message"]
    assert bad_token.status_code == 401
    assert bad_token.json()["category"] == "INVALID_AUTHENTICATION"
    assert "X-HubSpot-RateLimit-Max" in too_many.headers


def test_search_filters_and_sorts_by_lastmodifieddate(sandbox):
    with _client(sandbox) as http:
        everything = http.post("/crm/v3/objects/contacts/search", json={
            "limit": 200, "sorts": [{"propertyName": "lastmodifieddate",
                                     "direction": "ASCENDING"}]}).json()
        stamps = [r["properties"]["lastmodifieddate"] for r in everything["results"]]
        middle = stamps[100]
        later = http.post("/crm/v3/objects/contacts/search", json={
            "limit": 200, "filterGroups": [{"filters": [
                {"propertyName": "lastmodifieddate", "operator": "GTE", "value": middle}]}],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]}).json()
    assert everything["total"] == 250 and stamps == sorted(stamps)
    assert everything["paging"]["next"]["after"] == "200"
    later_stamps = [r["properties"]["lastmodifieddate"] for r in later["results"]]
    assert min(later_stamps) == middle
    assert later["total"] == sum(s >= middle for s in stamps) + 50  # the last 50 are later


def test_writes_move_lastmodifieddate_and_archive_hides_from_search(sandbox):
    with _client(sandbox) as http:
        before = http.get("/crm/v3/objects/contacts/100001").json()
        patched = http.patch("/crm/v3/objects/contacts/100001",
                             json={"properties": {"city": "Leeds"}}).json()
        batch = http.post("/crm/v3/objects/contacts/batch/update", json={"inputs": [
            {"id": "100002", "properties": {"company": "Initech"}}]})
        unknown = http.patch("/crm/v3/objects/contacts/100001",
                             json={"properties": {"shoe_size": "9"}})
        http.delete("/crm/v3/objects/contacts/100003")
        archived = http.get("/crm/v3/objects/contacts", params={"archived": "true"}).json()
        found = http.post("/crm/v3/objects/contacts/search", json={"filterGroups": [{"filters": [
            {"propertyName": "hs_object_id", "operator": "EQ", "value": "100003"}]}]}).json()
    assert patched["properties"]["city"] == "Leeds"
    assert patched["updatedAt"] > before["updatedAt"]
    assert batch.status_code == 200 and batch.json()["status"] == "COMPLETE"
    assert unknown.status_code == 400
    assert [r["id"] for r in archived["results"]] == ["100003"]
    assert archived["results"][0]["archived"] is True and found["total"] == 0
    counts = admin(sandbox, "hubspot", "stats")["contacts"]
    assert (counts["total"], counts["archived"]) == (249, 1)


def test_deals_carry_their_contact_in_v3_and_v4_shapes(sandbox, data_dir):
    orders = pl.read_parquet(data_dir / "orders.parquet")
    first = orders.row(0, named=True)
    with _client(sandbox) as http:
        page = http.get("/crm/v3/objects/deals", params={
            "limit": 1, "associations": "contacts",
            "properties": "amount,deal_currency_code,dealstage"}).json()
        v4 = http.post("/crm/v4/associations/deals/contacts/batch/read",
                       json={"inputs": [{"id": first["order_id"]}]}).json()
    deal = page["results"][0]
    assert deal["id"] == first["order_id"]
    assert deal["properties"]["amount"] == first["amount"]
    assert deal["properties"]["deal_currency_code"] == first["currency"]
    assert deal["associations"]["contacts"]["results"][0]["id"] == first["contact_id"]
    assert v4["results"][0]["to"][0]["toObjectId"] == int(first["contact_id"])


def test_journal_has_one_json_line_per_request(sandbox, tmp_path):
    with _client(sandbox) as http:
        http.get("/crm/v3/objects/contacts", params={"limit": 5})
        http.patch("/crm/v3/objects/contacts/100005", json={"properties": {"city": "York"}})
    lines = [json.loads(x) for x in (tmp_path / "journal.jsonl").read_text().splitlines()]
    listing, write = lines[-2], lines[-1]
    assert listing | {"vendor": "hubspot", "method": "GET", "status": 200,
                      "records_returned": 5} == listing
    assert write["method"] == "PATCH" and write["records_written"] == 1


def test_injected_faults_throttle_fail_and_cut_pages(data_dir, tmp_path):
    faults = FaultConfig(burst_every=2, burst_length=1, retry_after_s=2)
    with running_sandbox(data_dir, tmp_path / "j.jsonl", faults) as info, _client(info) as http:
        statuses = [http.get("/crm/v3/objects/contacts").status_code for _ in range(4)]
        fifth = http.get("/crm/v3/objects/contacts")
        admin(info, "hubspot", "faults", {"error_rate": 1.0})
        failing = http.get("/crm/v3/objects/contacts")
        admin(info, "hubspot", "faults", {"drop_rate": 1.0})
        with pytest.raises(httpx.RemoteProtocolError):
            http.get("/crm/v3/objects/contacts")
        admin(info, "hubspot", "faults", {"malformed_rate": 1.0})
        malformed = http.get("/crm/v3/objects/contacts")
    assert statuses == [200, 429, 200, 429] and fifth.status_code == 200
    assert failing.status_code in (500, 502, 503, 504)
    with pytest.raises(json.JSONDecodeError):
        malformed.json()


def test_many_contacts_can_share_one_lastmodifieddate(data_dir, tmp_path):
    with running_sandbox(data_dir, tmp_path / "j.jsonl",
                         FaultConfig(shared_modified_count=120)) as info, _client(info) as http:
        pages = [http.post("/crm/v3/objects/contacts/search", json={"limit": 200, "after": a})
                 .json() for a in (0, 200)]
    stamps = pl.Series([r["properties"]["lastmodifieddate"] for p in pages for r in p["results"]])
    assert stamps.len() == 250
    assert stamps.value_counts()["count"].max() >= 120


def test_created_contacts_get_the_next_id_and_are_searchable(sandbox):
    with _client(sandbox) as http:
        created = http.post("/crm/v3/objects/contacts",
                            json={"properties": {"email": "new@example.com"}})
        found = http.post("/crm/v3/objects/contacts/search", json={"filterGroups": [{"filters": [
            {"propertyName": "email", "operator": "EQ", "value": "new@example.com"}]}]}).json()
    assert created.status_code == 201
    assert int(created.json()["id"]) > 100_250
    assert [r["id"] for r in found["results"]] == [created.json()["id"]]
