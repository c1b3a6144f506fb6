"""ESP webhooks end to end: the simulators send, the receiver verifies and spools, the sensor
lands the events and launches the run that drops the person at every other destination."""

import base64
import json
import time

import dagster as dg
import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from email_data_platform.defs.activation import webhooks
from email_data_platform.lib.activation.webhooks import (
    WebhookSpool,
    parse_mailchimp,
    parse_sendgrid,
    verify_sendgrid_signature,
)
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.sandbox.sandbox_helpers import admin

FORM = {"type": "cleaned", "fired_at": "2026-11-29 10:00:00", "data[email]": "Ann@Example.com",
        "data[reason]": "abuse", "data[list_id]": "x"}


def _key():
    key = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    return key, public


def _sign(key, body: bytes, stamp: str) -> str:
    return base64.b64encode(key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()


def test_mailchimp_cleaned_for_abuse_is_a_complaint_and_bad_forms_are_named():
    (event,) = parse_mailchimp(FORM)
    assert (event.email, event.event_type, event.occurred_at) == (
        "ann@example.com", "complaint", "2026-11-29T10:00:00+00:00")
    (hard,) = parse_mailchimp({**FORM, "data[reason]": "hard"})
    assert (hard.event_type, hard.bounce_type) == ("bounce", "hard")
    with pytest.raises(ValueError, match="unknown type 'nope'"):
        parse_mailchimp({**FORM, "type": "nope"})
    with pytest.raises(ValueError, match="fired_at"):
        parse_mailchimp({**FORM, "fired_at": "yesterday"})


def test_sendgrid_soft_bounces_do_not_land_and_signatures_are_checked():
    body = json.dumps([
        {"email": "a@example.com", "event": "bounce", "type": "bounce", "timestamp": 1796000000},
        {"email": "b@example.com", "event": "bounce", "type": "blocked", "timestamp": 1796000000},
        {"email": "c@example.com", "event": "spamreport", "timestamp": 1796000000},
    ]).encode()
    events = parse_sendgrid(body)
    assert [(e.event_type, e.lands) for e in events] == [
        ("bounce", True), ("soft_bounce", False), ("complaint", True)]
    key, public = _key()
    stamp = str(int(time.time()))
    assert verify_sendgrid_signature(public, body, _sign(key, body, stamp), stamp)
    assert not verify_sendgrid_signature(public, body + b" ", _sign(key, body, stamp), stamp)
    old = str(int(time.time()) - 3600)
    assert not verify_sendgrid_signature(public, body, _sign(key, body, old), old)
    assert not verify_sendgrid_signature(public, body, None, stamp)


def test_spool_holds_whole_deliveries_until_they_are_landed(tmp_path):
    spool = WebhookSpool(tmp_path / "spool")
    spool.append(parse_mailchimp(FORM))
    (tmp_path / "spool" / ".half-written.partial").write_text("[{")  # never read
    (first, events), = spool.pending()
    assert [e.event_type for e in events] == ["complaint"]
    spool.landed([first])
    assert spool.pending() == [] and not first.exists()


def _wait_for_deliveries(spool: WebhookSpool, count, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(spool.pending()) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{spool.path} never held {count} deliveries")


def test_simulators_send_webhooks_the_receiver_verifies_and_spools(tmp_path):
    spool = WebhookSpool(tmp_path / "webhooks" / "spool")
    with running_sandbox(tmp_path / "no_data", tmp_path / "j.jsonl",
                         webhook_spool=spool.path) as info:
        list_id = info["mailchimp"]["list_id"]
        httpx.post(f"{info['mailchimp']['base_url']}/lists/{list_id}",
                   auth=("u", info["mailchimp"]["api_key"]),
                   json={"members": [{"email_address": "ann@example.com",
                                      "status": "subscribed"}]})
        admin(info, "mailchimp", "member-event", {"email": "ann@example.com",
                                                  "type": "unsubscribe"})
        sendgrid = httpx.post(f"{info['sendgrid']['base_url']}/_sandbox/events",
                              headers={"Authorization": f"Bearer {info['sendgrid']['api_key']}"},
                              json=[{"email": "bob@example.com", "event": "spamreport"}])
        assert sendgrid.json()["sent"] == 1
        _wait_for_deliveries(spool, 2)
        forged = httpx.post(info["webhooks"]["base_url"] + "/webhooks/sendgrid",
                            content=b"[]", headers={
                                "X-Twilio-Email-Event-Webhook-Signature": "AAAA",
                                "X-Twilio-Email-Event-Webhook-Timestamp": str(int(time.time()))})
        wrong_secret = httpx.post(info["webhooks"]["base_url"] + "/webhooks/mailchimp/guess",
                                  data={"type": "unsubscribe"})
    events = [e for _, batch in spool.pending() for e in batch]
    assert sorted((e.source, e.email, e.event_type) for e in events) == [
        ("mailchimp_webhook", "ann@example.com", "unsubscribe"),
        ("sendgrid_webhook", "bob@example.com", "complaint")]
    assert forged.status_code == 403 and wrong_secret.status_code == 404


def test_sensor_lands_events_once_and_requests_one_run(tmp_path):
    from email_data_platform.defs.warehouse import WarehouseResource
    from email_data_platform.lib.warehouse import DuckDBWarehouse

    spool = WebhookSpool(tmp_path / "spool")
    spool.append(parse_mailchimp({**FORM, "type": "unsubscribe"}) + parse_mailchimp(
        {**FORM, "type": "profile"}))
    resources = {"webhook_spool": webhooks.WebhookSpoolResource(path=str(spool.path)),
                 "warehouse": WarehouseResource(path=str(tmp_path / "wh.duckdb"))}
    with dg.build_sensor_context(resources=resources) as context:
        request = webhooks.esp_webhook_sensor(context)
    assert isinstance(request, dg.RunRequest) and request.tags["landed"] == "1"
    assert spool.pending() == []  # landed, so no address is left in the spool
    landed = DuckDBWarehouse(tmp_path / "wh.duckdb").read("sources.esp_events")
    assert landed.select("source", "email", "event_type").rows() == [
        ("mailchimp_webhook", "ann@example.com", "unsubscribe")]
    spool.append(parse_mailchimp({**FORM, "type": "unsubscribe"}))  # the ESP retried it
    with dg.build_sensor_context(resources=resources) as context:
        webhooks.esp_webhook_sensor(context)
    assert DuckDBWarehouse(tmp_path / "wh.duckdb").row_count("sources.esp_events") == 1
