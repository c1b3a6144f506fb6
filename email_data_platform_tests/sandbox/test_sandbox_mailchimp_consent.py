"""The Mailchimp and consent-platform simulators, and the sandbox entry points."""

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime

import httpx
import polars as pl
import pytest

from email_data_platform.cli.sandbox_process import read_ready_line
from email_data_platform.sandbox.mailchimp import subscriber_hash
from email_data_platform.sandbox.server import Sandbox, running_sandbox
from email_data_platform_tests.sandbox.sandbox_helpers import (
    admin,
    consent_headers,
    mailchimp_auth,
    write_small_dataset,
)
from email_data_platform_tests.waiting import wait_until


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_small_dataset(tmp_path_factory.mktemp("esp_data"), contacts=200)


@pytest.fixture
def sandbox(data_dir, tmp_path):
    with running_sandbox(data_dir, tmp_path / "journal.jsonl") as info:
        yield info


def _mailchimp(info: dict) -> httpx.Client:
    return httpx.Client(base_url=info["mailchimp"]["base_url"], auth=mailchimp_auth(info))


def test_batch_subscribe_answers_200_with_per_member_errors(sandbox):
    list_id = sandbox["mailchimp"]["list_id"]
    members = [{"email_address": "Ann@Example.com", "status_if_new": "subscribed",
                "merge_fields": {"FNAME": "Ann"}, "tags": ["vip"]},
               {"email_address": "not-an-email", "status": "subscribed"}]
    with _mailchimp(sandbox) as http:
        first = http.post(f"/lists/{list_id}", json={"members": members,
                                                     "update_existing": True}).json()
        again = http.post(f"/lists/{list_id}", json={"members": members[:1],
                                                     "update_existing": True}).json()
        trimmed = http.post(f"/lists/{list_id}", json={"members": members,
                                                       "update_existing": True},
                            params={"exclude_fields": "new_members,updated_members"}).json()
        too_many = http.post(f"/lists/{list_id}", json={"members": members * 251})
        member = http.get(f"/lists/{list_id}/members/{subscriber_hash('ann@example.com')}")
    assert (first["total_created"], first["total_updated"], first["error_count"]) == (1, 0, 1)
    assert first["errors"][0]["email_address"] == "not-an-email"
    assert (again["total_created"], again["total_updated"]) == (0, 1)
    assert again["updated_members"][0]["email_address"] == "Ann@Example.com"
    # `exclude_fields` leaves the records out, the counts and errors in
    assert "updated_members" not in trimmed and "new_members" not in trimmed
    assert (trimmed["total_updated"], trimmed["errors"][0]["email_address"]) == (
        1, "not-an-email")
    assert too_many.status_code == 400
    assert member.json()["merge_fields"]["FNAME"] == "Ann"
    assert [t["name"] for t in member.json()["tags"]] == ["vip"]


def test_archive_hides_and_delete_permanent_refuses_reimport(sandbox):
    list_id = sandbox["mailchimp"]["list_id"]
    body = {"members": [{"email_address": f"p{i}@example.com", "status": "subscribed"}
                        for i in range(3)], "update_existing": True}
    with _mailchimp(sandbox) as http:
        http.post(f"/lists/{list_id}", json=body)
        archived = http.delete(f"/lists/{list_id}/members/{subscriber_hash('p0@example.com')}")
        erased = http.post(f"/lists/{list_id}/members/{subscriber_hash('p1@example.com')}"
                           "/actions/delete-permanent")
        listed = http.get(f"/lists/{list_id}/members", params={"count": 1000}).json()
        only_archived = http.get(f"/lists/{list_id}/members", params={"status": "archived"}).json()
        reimport = http.post(f"/lists/{list_id}", json=body).json()
        mismatch = http.put(f"/lists/{list_id}/members/{subscriber_hash('x@example.com')}",
                            json={"email_address": "y@example.com", "status": "subscribed"})
    assert archived.status_code == erased.status_code == 204
    assert [m["email_address"] for m in listed["members"]] == ["p2@example.com"]
    assert [m["email_address"] for m in only_archived["members"]] == ["p0@example.com"]
    assert [e["email_address"] for e in reimport["errors"]] == ["p1@example.com"]
    assert "permanently deleted" in reimport["errors"][0]["error"]
    assert mismatch.status_code == 400
    assert httpx.get(sandbox["mailchimp"]["base_url"] + "/campaigns",
                     auth=("x", "wrong-us1")).status_code == 401


def test_reports_replay_the_generated_engagement(sandbox, data_dir):
    engagement = pl.read_parquet(data_dir / "engagement.parquet")
    expected = engagement.filter(pl.col("event_type").is_in(["open", "click", "bounce"]))
    seen = 0
    with _mailchimp(sandbox) as http:
        campaigns = http.get("/campaigns", params={"count": 1000}).json()
        for campaign in campaigns["campaigns"]:
            page = http.get(f"/reports/{campaign['id']}/email-activity",
                            params={"count": 1000}).json()
            seen += sum(len(e["activity"]) for e in page["emails"])
        abuse = http.get(f"/lists/{sandbox['mailchimp']['list_id']}/abuse-reports").json()
    assert campaigns["total_items"] == engagement["campaign_id"].n_unique()
    assert seen == expected.height
    assert abuse["total_items"] == engagement.filter(pl.col("event_type") == "complaint").height


def test_more_than_ten_simultaneous_connections_get_429(data_dir, tmp_path):
    sandbox = Sandbox(data_dir, tmp_path / "j.jsonl")
    gate = sandbox.mailchimp.app.gate
    info = sandbox.start()
    statuses: list[int] = []

    def call() -> None:
        statuses.append(httpx.get(info["mailchimp"]["base_url"] + "/campaigns",
                                  auth=mailchimp_auth(info), timeout=60).status_code)

    threads = [threading.Thread(target=call) for _ in range(14)]
    try:
        gate.clear()  # the admitted requests stay in flight until every other one is answered
        for t in threads:
            t.start()
        wait_until(lambda: statuses.count(429) == 4, 60, "the 4 requests beyond 10 to get 429")
        gate.set()
        for t in threads:
            t.join()
    finally:
        gate.set()
        sandbox.stop()
    assert sorted(statuses) == [200] * 10 + [429] * 4


def test_consent_feed_pages_by_cursor_and_records_new_events(data_dir, tmp_path):
    consent = pl.read_parquet(data_dir / "consent.parquet")
    sandbox = Sandbox(data_dir, tmp_path / "j.jsonl")
    # The platform records a posted event at its own clock, fixed here (not today's date).
    sandbox.consent.clock = lambda: datetime(2026, 11, 28, 10, 0, tzinfo=UTC).timestamp()
    info = sandbox.start()
    try:
        url = info["consent"]["base_url"] + "/v1/consent-events"
        ids, cursor = [], None
        while True:
            page = httpx.get(url, headers=consent_headers(info),
                             params={"limit": 100} | ({"cursor": cursor} if cursor else {}))
            ids += [e["event_id"] for e in page.json()["data"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        # occurred long before it reached the platform: `since` filters on recording time
        new = {"event_id": "cns_new", "contact_id": "100001", "email": "a@b.c",
               "purpose": "email_marketing", "status": "withdrawn",
               "channel": "preference_centre", "occurred_at": "2026-01-05T10:00:00Z",
               "policy_version": "2024-05"}
        posted = httpx.post(url, headers=consent_headers(info), json=[new])
        recent = httpx.get(url, headers=consent_headers(info),
                           params={"since": "2026-11-28T00:00:00Z"}).json()
        unauthorised = httpx.get(url, headers={"X-API-Key": "nope"})
    finally:
        sandbox.stop()
    assert sorted(ids) == sorted(consent["event_id"].to_list())
    assert posted.status_code == 201
    assert [(e["event_id"], e["recorded_at"][:19]) for e in recent["data"]] == [
        ("cns_new", "2026-11-28T10:00:00")]
    assert unauthorised.status_code == 401


def test_rotation_revokes_the_old_key_at_once(sandbox):
    old = sandbox["consent"]["api_key"]
    new = admin(sandbox, "consent", "rotate", {})["api_key"]
    url = sandbox["consent"]["base_url"] + "/v1/consent-events"
    assert httpx.get(url, headers={"X-API-Key": old}).status_code == 401
    assert httpx.get(url, headers={"X-API-Key": new}).status_code == 200


def test_run_sandbox_serves_until_sigterm(data_dir, tmp_path):
    script = ("import json, sys; from pathlib import Path;"
              "from email_data_platform.sandbox.server import run_sandbox;"
              "run_sandbox(Path(sys.argv[1]), Path(sys.argv[2]),"
              " on_ready=lambda info: print(json.dumps(info), flush=True))")
    proc = subprocess.Popen([sys.executable, "-c", script, str(data_dir),
                             str(tmp_path / "j.jsonl")], stdout=subprocess.PIPE, text=True,
                            env=os.environ.copy())
    try:
        info = read_ready_line(proc, timeout=60)
        assert set(info) >= {"hubspot", "mailchimp", "consent"}
        assert httpx.get(info["consent"]["base_url"] + "/v1/consent-events",
                         headers={"X-API-Key": info["consent"]["api_key"]}).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_put_upserts_one_member_by_its_hash(sandbox):
    list_id = sandbox["mailchimp"]["list_id"]
    path = f"/lists/{list_id}/members/{subscriber_hash('dee@example.com')}"
    with _mailchimp(sandbox) as http:
        created = http.put(path, json={"email_address": "Dee@Example.com",
                                       "status_if_new": "subscribed",
                                       "merge_fields": {"FNAME": "Dee"}})
        updated = http.put(path, json={"email_address": "dee@example.com",
                                       "status": "unsubscribed"})
    assert created.status_code == 200 and created.json()["status"] == "subscribed"
    assert updated.json()["status"] == "unsubscribed"
    assert updated.json()["merge_fields"] == {"FNAME": "Dee"}
