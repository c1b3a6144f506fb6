"""A user's existing script with the vendors' own SDKs works against the simulators unchanged
(mailchimp-marketing, sendgrid and hubspot-api-client, as pinned in the dev extras), including
SendGrid's own Event Webhook signature check on what the simulator signs."""

import hubspot
import mailchimp_marketing
import sendgrid
from hubspot.communication_preferences import PublicUpdateSubscriptionStatusRequest
from sendgrid.helpers.eventwebhook import EventWebhook

from email_data_platform.sandbox.esp_webhooks import SigningKey, sendgrid_events
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.sandbox.sandbox_helpers import write_small_dataset


def test_mailchimp_marketing_sdk_first_script(tmp_path):
    with running_sandbox(tmp_path / "no_data", tmp_path / "j.jsonl") as info:
        mc = info["mailchimp"]
        client = mailchimp_marketing.Client()
        client.set_config({"api_key": mc["api_key"], "server": "us1"})
        client.api_client.host = mc["base_url"]  # the only change: where the API lives
        assert client.ping.get()["health_status"] == "Everything's Chimpy!"
        assert [x["id"] for x in client.lists.get_all_lists()["lists"]] == [mc["list_id"]]
        added = client.lists.add_list_member(mc["list_id"], {"email_address": "a@example.com",
                                                             "status": "subscribed"})
        client.lists.update_list_member_tags(mc["list_id"], "a@example.com",
                                             {"tags": [{"name": "vip", "status": "active"}]})
        member = client.lists.get_list_member(mc["list_id"], added["id"])
    assert member["status"] == "subscribed" and [t["name"] for t in member["tags"]] == ["vip"]


def test_hubspot_sdk_first_script(tmp_path):
    """List contacts, read the subscription types, unsubscribe an address from one and read its
    statuses back: HubSpot's SDK parses (and validates) every answer."""
    data = write_small_dataset(tmp_path / "data", contacts=30)
    with running_sandbox(data, tmp_path / "j.jsonl") as info:
        hs = info["hubspot"]
        # the only change: where the API lives
        client = hubspot.Client.create(access_token=hs["access_token"], host=hs["base_url"])
        page = client.crm.contacts.basic_api.get_page(limit=10, properties=["email"])
        holder = next(c for c in page.results if "@" in (c.properties.get("email") or ""))
        email = holder.properties["email"]
        types = client.communication_preferences.definition_api.get_page()
        newsletter = next(d.id for d in types.subscription_definitions if d.name == "Newsletter")
        status = client.communication_preferences.status_api
        status.unsubscribe(PublicUpdateSubscriptionStatusRequest(
            email_address=email, subscription_id=newsletter))
        statuses = status.get_email_status(email)
        touched = client.crm.contacts.basic_api.get_by_id(holder.id)
    assert len(page.results) == 10 and page.paging.next.after
    assert [(s.name, s.status) for s in statuses.subscription_statuses
            if s.id == newsletter] == [("Newsletter", "NOT_SUBSCRIBED")]
    # the contact changed too (its per-type opt-out), so an incremental pull reads it again
    assert statuses.recipient == email and touched.updated_at > holder.updated_at


def test_sendgrid_sdk_first_script(tmp_path):
    with running_sandbox(tmp_path / "no_data", tmp_path / "j.jsonl") as info:
        api = sendgrid.SendGridAPIClient(api_key=info["sendgrid"]["api_key"],
                                         host=info["sendgrid"]["base_url"])
        created = api.client.marketing.lists.post(request_body={"name": "everyone"})
        job = api.client.marketing.contacts.put(request_body={
            "contacts": [{"email": "c@example.com"}], "list_ids": [created.to_dict["id"]]})
        status = api.client.marketing.contacts.imports._(job.to_dict["job_id"]).get()
        count = api.client.marketing.contacts.count.get()
        fields = api.client.marketing.field_definitions.get()
    assert created.status_code == 201 and job.status_code == 202
    assert status.to_dict["status"] == "completed" and count.to_dict["contact_count"] == 1
    assert "reserved_fields" in fields.to_dict


def test_sendgrid_sdk_verifies_the_simulators_event_webhook_signature():
    key = SigningKey()
    body = sendgrid_events([{"email": "a@example.com", "event": "bounce", "type": "bounce"}])
    headers = key.signed_headers(body)
    helper = EventWebhook()
    public = helper.convert_public_key_to_ecdsa(key.public_key())
    assert helper.verify_signature(body.decode(), headers[
        "X-Twilio-Email-Event-Webhook-Signature"], headers[
        "X-Twilio-Email-Event-Webhook-Timestamp"], public)
    assert not helper.verify_signature(body.decode() + " ", headers[
        "X-Twilio-Email-Event-Webhook-Signature"], headers[
        "X-Twilio-Email-Event-Webhook-Timestamp"], public)
