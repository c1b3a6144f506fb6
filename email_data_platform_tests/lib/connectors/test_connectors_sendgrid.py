"""SendGrid simulator and connector: async contact jobs, suppressions, reset-header throttles."""

from datetime import UTC, datetime

import httpx
import polars as pl
import pytest

from email_data_platform.lib.connectors.http import RetryPolicy
from email_data_platform.lib.connectors.sendgrid import SendGridClient
from email_data_platform.sandbox.faults import FaultConfig
from email_data_platform.sandbox.server import running_sandbox

FAST = RetryPolicy(base_delay_s=0.01, max_delay_s=0.05)


@pytest.fixture
def data_dir(tmp_path):
    """600 bounces (more than one 500-row page), a complaint and two unsubscribes."""
    directory = tmp_path / "data"
    directory.mkdir()
    bounces = [{"email": f"b{i}@example.com", "event_type": "bounce",
                "occurred_at": f"2026-10-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z"}
               for i in range(600)]
    others = [{"email": "c@example.com", "event_type": "complaint",
               "occurred_at": "2026-10-02T00:00:00Z"},
              {"email": "early@example.com", "event_type": "unsubscribe",
               "occurred_at": "2026-09-01T00:00:00Z"},
              {"email": "u@example.com", "event_type": "unsubscribe",
               "occurred_at": "2026-10-03T00:00:00Z"},
              {"email": "u@example.com", "event_type": "open",
               "occurred_at": "2026-10-03T00:00:00Z"}]
    pl.DataFrame(bounces + others).write_parquet(directory / "sendgrid_engagement.parquet")
    return directory


def _client(info: dict) -> SendGridClient:
    return SendGridClient(info["sendgrid"]["base_url"], info["sendgrid"]["api_key"],
                          policy=FAST)


def test_contacts_upsert_as_a_job_and_can_be_found_and_deleted(data_dir, tmp_path):
    with running_sandbox(data_dir, tmp_path / "j.jsonl") as info:
        client = _client(info)
        job = client.upsert_contacts([{"email": "Ann@Example.com", "first_name": "Ann"},
                                      {"email": "bo@example.com"}])
        status = client.wait_for_job(job, poll_s=0.01)
        again = client.wait_for_job(client.upsert_contacts([{"email": "ann@example.com"}]))
        found = client.search_emails(["ann@example.com", "nobody@example.com"])
        client.delete_contacts([found["ann@example.com"]["id"]])
        count = client.contact_count()
        with pytest.raises(ValueError, match="30000"):
            client.upsert_contacts([{"email": "x@example.com"}] * 30_001)
        client.close()
    assert status["status"] == "completed" and status["results"]["created_count"] == 2
    assert again["results"]["updated_count"] == 1
    assert list(found) == ["ann@example.com"] and found["ann@example.com"]["first_name"] == "Ann"
    assert count == 1


def test_suppressions_page_and_filter_by_time(data_dir, tmp_path):
    with running_sandbox(data_dir, tmp_path / "j.jsonl") as info:
        client = _client(info)
        bounces = list(client.iter_suppressions("bounces"))
        unsubscribes = list(client.iter_suppressions("unsubscribes"))
        # the window starts between early@ (1 Sep) and u@ (3 Oct); spam c@ is on 2 Oct
        late = list(client.iter_suppressions("unsubscribes", start_time=_epoch("2026-10-01")))
        spam_before = list(client.iter_suppressions("spam_reports",
                                                    end_time=_epoch("2026-10-01")))
        spam_until = list(client.iter_suppressions("spam_reports",
                                                   end_time=_epoch("2026-10-05")))
        client.close()
    assert len(bounces) == len({b["email"] for b in bounces}) == 600
    assert sorted(u["email"] for u in unsubscribes) == ["early@example.com", "u@example.com"]
    assert [u["email"] for u in late] == ["u@example.com"]
    assert spam_before == [] and [s["email"] for s in spam_until] == ["c@example.com"]


def _epoch(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


def test_throttle_uses_rate_limit_reset_and_401_shape(data_dir, tmp_path):
    faults = FaultConfig(burst_every=2, burst_length=1, retry_after_s=1)
    with running_sandbox(data_dir, tmp_path / "j.jsonl", faults) as info:
        url = info["sendgrid"]["base_url"] + "/v3/marketing/contacts/count"
        headers = {"Authorization": f"Bearer {info['sendgrid']['api_key']}"}
        first, throttled = httpx.get(url, headers=headers), httpx.get(url, headers=headers)
        denied = httpx.get(url, headers={"Authorization": "Bearer SG.wrong"})
    assert first.status_code == 200 and "X-RateLimit-Remaining" in first.headers
    assert throttled.status_code == 429 and "Retry-After" not in throttled.headers
    assert int(throttled.headers["X-RateLimit-Reset"]) > 1_700_000_000
    assert denied.status_code == 401 and denied.json()["errors"][0]["message"]
