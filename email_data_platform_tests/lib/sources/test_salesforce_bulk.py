"""Salesforce Bulk API 2.0 query jobs: the simulator's contract and initial loads through it."""

import httpx
import polars as pl
import pytest

from email_data_platform.lib.connectors.http import RetryPolicy
from email_data_platform.lib.connectors.salesforce import SalesforceClient
from email_data_platform.lib.connectors.salesforce_bulk import bulk_query_frames
from email_data_platform.lib.sources.pulls_salesforce import extract_salesforce
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.sandbox.sandbox_helpers import write_salesforce_dataset

FAST = RetryPolicy(base_delay_s=0.01, max_delay_s=0.05)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_salesforce_dataset(tmp_path_factory.mktemp("sf_bulk"), contacts=1_200, seed=3)


def _client(info: dict) -> SalesforceClient:
    sf = info["salesforce"]
    return SalesforceClient(sf["base_url"], sf["client_id"], sf["client_secret"], policy=FAST)


def _load(info: dict, path, bulk_min_rows: int):
    wh, client = DuckDBWarehouse(path), _client(info)
    runs = {o: extract_salesforce(wh, client, o, "run-1", bulk_min_rows=bulk_min_rows)
            for o in ("contacts", "opportunities")}
    client.close()
    tables = [wh.read(table).drop("extracted_at", "run_id").sort(key)
              for table, key in (("sources.crm_contacts", "record_id"),
                                 ("sources.crm_orders", "order_record_id"))]
    wh.close()
    return tables, runs


def test_a_bulk_job_lands_exactly_what_rest_lands(data_dir, tmp_path):
    with running_sandbox(data_dir, tmp_path / "j.jsonl") as info:
        client = _client(info)
        client.delete("Contact", next(client.iter_modified("contacts"))["Id"])
        client.close()
        bulk, bulk_runs = _load(info, tmp_path / "bulk.duckdb", bulk_min_rows=0)
        rest, rest_runs = _load(info, tmp_path / "rest.duckdb", bulk_min_rows=10**9)
    assert bulk[0].equals(rest[0]) and bulk[1].equals(rest[1])
    assert bulk[0]["archived"].sum() == 1  # queryAll: the deleted contact is flagged
    assert set(bulk[0]["email_opt_out"]) == {"true", "false"}  # HasOptedOutOfEmail
    assert bulk_runs["contacts"].cursor_after == rest_runs["contacts"].cursor_after
    assert bulk_runs["contacts"].rows_landed == 1_200


def test_bulk_results_page_by_locator_and_refuse_order_by(data_dir, tmp_path):
    with running_sandbox(data_dir, tmp_path / "j.jsonl") as info:
        client = _client(info)
        pages = list(bulk_query_frames(client, "SELECT Id, Email FROM Contact",
                                       max_records=500, poll_s=0.01))
        token = client.http.tokens.token()
        base = info["salesforce"]["base_url"]
        ordered = httpx.post(f"{base}{client.api}/jobs/query",
                             headers={"Authorization": f"Bearer {token}"},
                             json={"operation": "query",
                                   "query": "SELECT Id FROM Contact ORDER BY Id"})
        client.close()
    assert [p.height for p in pages] == [500, 500, 200]
    assert pl.concat(pages)["Id"].n_unique() == 1_200
    assert ordered.status_code == 400
