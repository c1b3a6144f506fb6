"""Webhooks the ESP simulators send, as the real vendors do.

- Mailchimp: webhooks registered per audience (`POST/GET /3.0/lists/{id}/webhooks`,
  `DELETE .../webhooks/{id}`) receive form-encoded POSTs (`type`, `fired_at`, `data[...]`) when
  a member unsubscribes, is cleaned (bounced or reported abuse), changes their profile or
  address. Changes made through the API are only sent to webhooks whose `sources.api` is true.
- SendGrid: one Event Webhook (`GET/PATCH /v3/user/webhooks/event/settings`), optionally signed
  (`.../settings/signed` returns the base64 DER public key): a JSON array of events, signed with
  ECDSA P-256 / SHA-256 over timestamp + body.
People's own actions (clicking unsubscribe, a bounce, a spam report) are simulated through the
admin endpoints `POST /_sandbox/member-event` (Mailchimp) and `POST /_sandbox/events` (SendGrid).
Deliveries run in a background thread, retried with backoff when the receiver is down.
"""

import base64
import json
import logging
import threading
import time
import urllib.parse
import uuid

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

logger = logging.getLogger(__name__)

RETRIES, BACKOFF_S = 5, 0.5


def deliver(url: str, body: bytes, headers: dict) -> None:
    """POST in the background; retry on failure like the vendors (a few times, backing off)."""

    def attempt() -> None:
        for number in range(RETRIES):
            try:
                answer = httpx.post(url, content=body, headers=headers, timeout=10)
                if answer.status_code < 300:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(BACKOFF_S * 2 ** number)
        logger.warning("webhook to %s undelivered after %d attempts", url, RETRIES)

    threading.Thread(target=attempt, daemon=True, name="webhook-delivery").start()


def mailchimp_form(kind: str, member: dict, list_id: str, extra: dict | None = None) -> bytes:
    fields = {"type": kind, "fired_at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
              "data[id]": member.get("unique_email_id", ""), "data[list_id]": list_id,
              "data[email]": member["email_address"], "data[email_type]": "html",
              **{f"data[merges][{k}]": str(v) for k, v in
                 (member.get("merge_fields") or {}).items()},
              **(extra or {})}
    return urllib.parse.urlencode(fields).encode()


class SigningKey:
    """The SendGrid account's Event Webhook key pair (kept in the account's saved state)."""

    def __init__(self, pem: str | None = None):
        self.key = (serialization.load_pem_private_key(pem.encode(), None) if pem
                    else ec.generate_private_key(ec.SECP256R1()))

    def pem(self) -> str:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()

    def public_key(self) -> str:
        return base64.b64encode(self.key.public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo)).decode()

    def signed_headers(self, body: bytes) -> dict:
        stamp = str(int(time.time()))
        signature = self.key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
                "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
                "Content-Type": "application/json"}


def sendgrid_events(items: list[dict]) -> bytes:
    """Complete the admin's event sketches the way SendGrid sends them."""
    now = int(time.time())
    return json.dumps([{"timestamp": now, "sg_event_id": uuid.uuid4().hex,
                        "sg_message_id": uuid.uuid4().hex, **item} for item in items]).encode()
