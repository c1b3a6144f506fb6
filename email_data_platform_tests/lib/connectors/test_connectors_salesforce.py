"""Salesforce simulator and connector: SOQL paging, queryAll, OAuth refresh, 403 throttles."""

import httpx
import polars as pl
import pytest

from email_data_platform.defs.connections import SalesforceResource
from email_data_platform.lib.connectors.http import RetryPolicy
from email_data_platform.lib.connectors.salesforce import SalesforceClient
from email_data_platform.sandbox.faults import FaultConfig
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.sandbox.sandbox_helpers import write_salesforce_dataset

FAST = RetryPolicy(base_delay_s=0.01, max_delay_s=0.05)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A Salesforce org holding 2,500 contacts (two SOQL pages) and their orders."""
    return write_salesforce_dataset(tmp_path_factory.mktemp("sf_data"), contacts=2_500, seed=4)


def _client(info: dict) -> SalesforceClient:
    sf = info["salesforce"]
    return SalesforceClient(sf["base_url"], sf["client_id"], sf["client_secret"], policy=FAST)


def test_soql_pages_with_next_records_url_and_query_all_sees_deletions(data_dir, tmp_path):
    with running_sandbox(data_dir, tmp_path / "j.jsonl") as info:
        client = _client(info)
        everyone = list(client.iter_modified("contacts"))
        client.delete("Contact", everyone[0]["Id"])
        live = list(client.query("SELECT Id FROM Contact"))
        with_deleted = list(client.query("SELECT Id, IsDeleted FROM Contact",
                                         include_deleted=True))
        pages, total = client.pages, client.count("contacts")
        client.close()
    assert len(everyone) == 2_500 and pages >= 2 + 2 + 2
    stamps = [r["SystemModstamp"] for r in everyone]
    assert stamps == sorted(stamps)
    assert len(live) == total == 2_499 and len(with_deleted) == 2_500
    assert [r["Id"] for r in with_deleted if r["IsDeleted"]] == [everyone[0]["Id"]]
    assert everyone[0]["Account"] is None or "Name" in everyone[0]["Account"]


def test_contract_errors_look_like_salesforce(data_dir, tmp_path):
    with running_sandbox(data_dir, tmp_path / "j.jsonl") as info:
        base = info["salesforce"]["base_url"] + "/services/data/v60.0/query"
        expired = httpx.get(base, params={"q": "SELECT Id FROM Contact"},
                            headers={"Authorization": "Bearer 00Dold"})
        client = _client(info)
        token = client.http.tokens.token()
        bad = httpx.get(base, params={"q": "SELEC Id FROM Contact"},
                        headers={"Authorization": f"Bearer {token}"})
        client.close()
    assert expired.status_code == 401 and expired.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "MALFORMED_QUERY"


def test_request_limit_403_is_a_throttle_not_a_failure(data_dir, tmp_path):
    faults = FaultConfig(burst_every=3, burst_length=2, retry_after_s=0.01)
    with running_sandbox(data_dir, tmp_path / "j.jsonl", faults) as info:
        raw = None
        for _ in range(3):
            raw = httpx.get(info["salesforce"]["base_url"] + "/services/data/v60.0/query")
            if raw.status_code == 403:
                break
        client = _client(info)
        rows = list(client.iter_modified("opportunities"))
        client.close()
    assert raw.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert len(rows) == pl.read_parquet(data_dir / "orders.parquet").height
    assert client.http.stats.throttles >= 1


def test_rotated_secret_is_re_read_from_the_environment(data_dir, tmp_path, monkeypatch):
    with running_sandbox(data_dir, tmp_path / "j.jsonl") as info:
        sf = info["salesforce"]
        resource = SalesforceResource(base_url=sf["base_url"], client_id=sf["client_id"],
                                      client_secret=sf["client_secret"],
                                      retry_base_delay_s=0.01)
        client = resource.client()
        assert client.count("contacts") == 2_500
        rotated = httpx.post(sf["base_url"] + "/_sandbox/rotate",
                             headers={"Authorization": f"Bearer {client.http.tokens.token()}"})
        monkeypatch.setenv("SALESFORCE_CLIENT_SECRET", rotated.json()["client_secret"])
        assert client.count("contacts") == 2_500  # 401 -> new secret -> new token
        client.close()
    assert client.http.stats.token_refreshes == 1


def test_an_expired_session_is_renewed_transparently(data_dir, tmp_path):
    with running_sandbox(data_dir, tmp_path / "j.jsonl") as info:
        client = _client(info)
        before = client.count("opportunities")
        expired = httpx.post(info["salesforce"]["base_url"] + "/_sandbox/expire_sessions",
                             headers={"Authorization": f"Bearer {client.http.tokens.token()}"})
        after = client.count("opportunities")
        client.close()
    assert expired.json()["expired"] == 1
    assert before == after and client.http.stats.token_refreshes == 1
