"""A large first read of Mailchimp engagement goes through batch operations and lands exactly
what paging the reports over REST lands."""

import json

import polars as pl
import pytest

from email_data_platform.lib.connectors import mailchimp
from email_data_platform.lib.connectors.mailchimp import MailchimpClient
from email_data_platform.lib.sources.stage import extract_esp_events
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.sandbox.sandbox_helpers import write_small_dataset


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mailchimp_bulk")
    data = write_small_dataset(folder / "data", contacts=1_500, seed=3)
    with running_sandbox(data, folder / "journal.jsonl") as info:
        yield info, folder / "journal.jsonl"


def _client(info) -> MailchimpClient:
    return MailchimpClient(info["mailchimp"]["base_url"], info["mailchimp"]["api_key"])


def _land(info, tmp_path, name: str, bulk_min_recipients: int) -> pl.DataFrame:
    wh, client = DuckDBWarehouse(tmp_path / f"{name}.duckdb"), _client(info)
    try:
        run = extract_esp_events(wh, client, info["mailchimp"]["list_id"], "run-1",
                                 bulk_min_recipients=bulk_min_recipients)
        assert run.mode == "full" and run.rows_landed > 0
        return wh.read("sources.esp_events").drop("extracted_at", "run_id").sort("event_id")
    finally:
        client.close()
        wh.close()


def _requests(journal) -> list[dict]:
    return [json.loads(line) for line in journal.read_text().splitlines()]


def test_bulk_first_read_lands_what_rest_paging_lands_in_fewer_requests(sandbox, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setattr(mailchimp, "PAGE_SIZE", 100)  # reports of many pages, both ways
    info, journal = sandbox
    before = len(_requests(journal))
    paged = _land(info, tmp_path, "paged", bulk_min_recipients=10**12)
    middle = len(_requests(journal))
    bulk = _land(info, tmp_path, "bulk", bulk_min_recipients=0)
    rest_calls, bulk_calls = _requests(journal)[before:middle], _requests(journal)[middle:]
    assert bulk.equals(paged)
    assert set(bulk["event_type"]) >= {"sent", "open", "click"}
    report_pages = [r for r in rest_calls if "/reports/" in r["path"]]
    assert not [r for r in bulk_calls if "/reports/" in r["path"]]  # all of them in batches
    assert sum(r["path"].endswith("/batches") and r["method"] == "POST" for r in bulk_calls) >= 2
    assert len(bulk_calls) < len(report_pages)
    second_pages = [r for r in report_pages if "offset=100&" in r.get("query", "") + "&"]
    assert second_pages  # some report ran past its first page


def test_a_page_the_batch_cannot_serve_is_read_over_rest_and_its_error_surfaces(sandbox):
    info, _ = sandbox
    client = _client(info)
    try:
        good = "/reports/" + next(client.iter_campaigns())["id"] + "/sent-to"
        pages = dict(client.read_pages_in_batches([(good, {"offset": 0, "count": 5})]))
        assert len(pages[0]["sent_to"]) == 5 and pages[0]["total_items"] > 5
        with pytest.raises(Exception, match="404|not found|Not Found"):
            list(client.read_pages_in_batches([(good, {"count": 5}),
                                               ("/reports/x/no-such-report", {"count": 5})]))
    finally:
        client.close()
