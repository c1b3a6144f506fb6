"""The ESP simulators keep their accounts across restarts and speak what vendor SDKs send."""

import httpx
import pytest

from email_data_platform.sandbox.mailchimp import subscriber_hash
from email_data_platform.sandbox.server import running_sandbox


def _mailchimp(info: dict) -> httpx.Client:
    return httpx.Client(base_url=info["mailchimp"]["base_url"],
                        auth=("anyone", info["mailchimp"]["api_key"]))


def _sendgrid(info: dict) -> httpx.Client:
    return httpx.Client(base_url=info["sendgrid"]["base_url"],
                        headers={"Authorization": f"Bearer {info['sendgrid']['api_key']}"})


def test_accounts_survive_a_restart_when_given_a_state_folder(tmp_path):
    state = tmp_path / "state"
    with running_sandbox(tmp_path / "no_data", tmp_path / "j.jsonl", state_dir=state) as info:
        list_id = info["mailchimp"]["list_id"]
        with _mailchimp(info) as mc:
            mc.post(f"/lists/{list_id}", json={"members": [
                {"email_address": f"p{i}@example.com", "status": "subscribed"} for i in range(3)
            ], "update_existing": True})
            mc.post(f"/lists/{list_id}/members/{subscriber_hash('p0@example.com')}"
                    "/actions/delete-permanent")
        with _sendgrid(info) as sg:
            created = sg.post("/v3/marketing/lists", json={"name": "everyone"}).json()
            sg.put("/v3/marketing/contacts", json={"contacts": [{"email": "q@example.com"}],
                                                    "list_ids": [created["id"]]})
    with running_sandbox(tmp_path / "no_data", tmp_path / "j.jsonl", state_dir=state) as info:
        with _mailchimp(info) as mc:
            members = mc.get(f"/lists/{list_id}/members", params={"count": 10}).json()
            reimport = mc.post(f"/lists/{list_id}", json={"members": [
                {"email_address": "p0@example.com", "status": "subscribed"}]}).json()
        with _sendgrid(info) as sg:
            kept = sg.get(f"/v3/marketing/lists/{created['id']}").json()
    assert sorted(m["email_address"] for m in members["members"]) == ["p1@example.com",
                                                                      "p2@example.com"]
    assert reimport["error_count"] == 1  # the erasure is remembered too
    assert kept["contact_count"] == 1


def test_without_a_state_folder_every_start_is_empty(tmp_path):
    for _ in range(2):
        with running_sandbox(tmp_path / "no_data", tmp_path / "j.jsonl") as info, \
                _mailchimp(info) as mc:
            list_id = info["mailchimp"]["list_id"]
            assert mc.get(f"/lists/{list_id}/members").json()["total_items"] == 0
            mc.post(f"/lists/{list_id}", json={"members": [
                {"email_address": "p@example.com", "status": "subscribed"}]})


@pytest.mark.parametrize("auth", ["basic-with-dc", "basic-bare-key", "bearer"])
def test_mailchimp_accepts_the_auth_its_sdk_sends_and_serves_first_reads(tmp_path, auth):
    with running_sandbox(tmp_path / "no_data", tmp_path / "j.jsonl") as info:
        key = info["mailchimp"]["api_key"]
        kwargs = {"basic-with-dc": {"auth": ("user", key)},
                  "basic-bare-key": {"auth": ("user", key.rsplit("-", 1)[0])},
                  "bearer": {"headers": {"Authorization": f"Bearer {key.rsplit('-', 1)[0]}"}}}
        with httpx.Client(base_url=info["mailchimp"]["base_url"], **kwargs[auth]) as mc:
            ping = mc.get("/ping")
            lists = mc.get("/lists").json()
        wrong = httpx.get(info["mailchimp"]["base_url"] + "/ping", auth=("user", "nope-us1"))
    assert ping.json()["health_status"] == "Everything's Chimpy!"
    assert [x["id"] for x in lists["lists"]] == [info["mailchimp"]["list_id"]]
    assert wrong.status_code == 401
