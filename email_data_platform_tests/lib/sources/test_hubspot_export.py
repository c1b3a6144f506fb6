"""HubSpot CRM exports: the simulator's bulk path and initial loads that read it."""

import httpx
import polars as pl
import pytest

from email_data_platform.lib.connectors.http import RetryPolicy
from email_data_platform.lib.connectors.hubspot import CONTACT_PROPERTIES, HubSpotClient
from email_data_platform.lib.sources.pulls import extract_hubspot
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform.sandbox import hubspot_exports
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.sandbox.sandbox_helpers import hubspot_headers, write_small_dataset

FAST = RetryPolicy(base_delay_s=0.01, max_delay_s=0.05)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_small_dataset(tmp_path_factory.mktemp("export_data"), contacts=500)


def _client(info: dict) -> HubSpotClient:
    return HubSpotClient(info["hubspot"]["base_url"], info["hubspot"]["access_token"],
                         policy=FAST)


def _load(info: dict, path, export_min_rows: int) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    wh = DuckDBWarehouse(path)
    client = _client(info)
    runs = {o: extract_hubspot(wh, client, o, "run-1", export_min_rows=export_min_rows)
            for o in ("contacts", "deals")}
    client.close()
    contacts = wh.read("sources.crm_contacts").drop("extracted_at", "run_id")
    orders = wh.read("sources.crm_orders").drop("extracted_at", "run_id")
    wh.close()
    return contacts.sort("record_id"), orders.sort("order_record_id"), runs


def test_an_export_lands_exactly_what_paging_lands(data_dir, tmp_path):
    with running_sandbox(data_dir, tmp_path / "j.jsonl") as info:
        exported = _load(info, tmp_path / "export.duckdb", export_min_rows=0)
        paged = _load(info, tmp_path / "paged.duckdb", export_min_rows=10**9)
    assert exported[0].equals(paged[0]) and exported[1].equals(paged[1])
    assert set(exported[0]["email_opt_out"]) == {"true", "false"}  # hs_email_optout
    runs = exported[2]
    assert runs["contacts"].rows_landed == exported[0].filter(~pl.col("archived")).height
    assert runs["contacts"].cursor_after is not None  # the next run is incremental
    # An export costs a fixed handful of requests (count, start, two polls, archived listing),
    # paging one per hundred records.
    assert runs["contacts"].http["requests"] == 5
    assert paged[2]["contacts"].http["requests"] >= 500 // 100 + 2
    assert exported[1]["contact_record_id"].null_count() == 0


def test_export_files_over_the_row_limit_arrive_zipped_and_are_read_whole(
        data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(hubspot_exports, "ROWS_PER_FILE", 120)
    with running_sandbox(data_dir, tmp_path / "j.jsonl") as info:
        client = _client(info)
        frames = list(client.export_objects("contacts", CONTACT_PROPERTIES, batch_rows=100))
        client.close()
    ids = pl.concat(frames)["id"]
    assert ids.len() == ids.n_unique() == 500
    assert max(f.height for f in frames) <= 100
    assert {"firstname", "zip", "lastmodifieddate"} <= set(frames[0].columns)


def test_export_contract_first_poll_pending_one_at_a_time_url_needs_no_token(data_dir, tmp_path):
    with running_sandbox(data_dir, tmp_path / "j.jsonl") as info:
        base, headers = info["hubspot"]["base_url"], hubspot_headers(info)
        body = {"exportType": "VIEW", "format": "CSV", "objectType": "CONTACT",
                "objectProperties": ["email"]}
        started = httpx.post(f"{base}/crm/v3/exports/export/async", json=body, headers=headers)
        assert started.status_code == 202
        second = httpx.post(f"{base}/crm/v3/exports/export/async", json=body, headers=headers)
        assert second.status_code == 400 and "in progress" in second.text
        status_url = f"{base}/crm/v3/exports/export/async/tasks/{started.json()['id']}/status"
        assert httpx.get(status_url, headers=headers).json()["status"] == "PROCESSING"
        done = httpx.get(status_url, headers=headers).json()
        file = httpx.get(done["result"])  # pre-signed: no Authorization header
        bad = httpx.post(f"{base}/crm/v3/exports/export/async", headers=headers,
                         json={**body, "format": "XLSX"})
    assert done["status"] == "COMPLETE" and file.status_code == 200
    assert file.text.splitlines()[0] == "Record ID,Email"
    assert len(file.text.splitlines()) == 501
    assert bad.status_code == 400
