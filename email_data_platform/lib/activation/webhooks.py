"""ESP webhooks: what Mailchimp and SendGrid tell us as it happens, parsed, verified and spooled.

- Mailchimp POSTs form-encoded fields (`type`, `fired_at`, `data[email]`, `data[reason]`, ...)
  for unsubscribe, cleaned (hard bounce, or abuse = complaint), profile and upemail; it checks
  the URL with a GET first. It signs nothing, so the URL carries a secret.
- SendGrid's Event Webhook POSTs a JSON array of events (bounce, dropped, spamreport,
  unsubscribe, open, click, ...), signed with ECDSA P-256 over `timestamp + body`
  (`X-Twilio-Email-Event-Webhook-Signature`, `-Timestamp`); verify before trusting.

Every accepted delivery is written to the spool folder and flushed to disk before the ESP gets
its 2xx, so nothing is lost if the receiver restarts (the vendor retries anything else). The
sensor lands the events the platform acts on (unsubscribe, complaint, hard bounce, open,
click) as rows of `sources.esp_events` (where erasure reaches them), then deletes the files;
the rest (soft bounces, drops, profile and address changes) are counted and dropped.
"""

import base64
import hashlib
import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

LANDED_TYPES = ("open", "click", "bounce", "unsubscribe", "complaint")
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_SIGNATURE_AGE_S = 600  # a signed request older than this is a replay


@dataclass(frozen=True)
class WebhookEvent:
    event_id: str
    source: str  # mailchimp_webhook | sendgrid_webhook
    email: str
    event_type: str  # ours: open, click, bounce, unsubscribe, complaint; or the vendor's own
    occurred_at: str  # ISO 8601 UTC
    bounce_type: str | None = None  # hard | soft for bounces
    vendor_type: str = ""
    received_at: str = ""

    @property
    def lands(self) -> bool:
        return self.event_type in LANDED_TYPES


def _event_id(source: str, *parts: object) -> str:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:24]
    return f"{source}:{digest}"


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def parse_mailchimp(form: dict[str, str]) -> list[WebhookEvent]:
    """One Mailchimp webhook POST (form fields) -> its event; unknown types are refused."""
    kind = form.get("type", "")
    if kind not in ("unsubscribe", "cleaned", "profile", "upemail", "subscribe"):
        raise ValueError(f"mailchimp webhook: unknown type {kind!r}")
    email = form.get("data[email]") or form.get("data[new_email]") or ""
    if "@" not in email:
        raise ValueError(f"mailchimp webhook of type {kind!r}: no email address")
    fired = form.get("fired_at") or ""
    try:
        occurred = datetime.strptime(fired, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"mailchimp webhook of type {kind!r}: fired_at {fired!r} is not "
                         "'YYYY-MM-DD HH:MM:SS'") from None
    reason = form.get("data[reason]", "")
    event_type, bounce = {"unsubscribe": ("unsubscribe", None),
                          "cleaned": (("complaint", None) if reason == "abuse"
                                      else ("bounce", "hard")),
                          }.get(kind, (kind, None))
    return [WebhookEvent(_event_id("mailchimp_webhook", kind, email.lower(), fired, reason),
                         "mailchimp_webhook", email.strip().lower(), event_type, _iso(occurred),
                         bounce, kind)]


_SENDGRID_TYPES = {"spamreport": "complaint", "unsubscribe": "unsubscribe",
                   "group_unsubscribe": "unsubscribe", "open": "open", "click": "click"}


def parse_sendgrid(body: bytes) -> list[WebhookEvent]:
    """SendGrid's JSON array -> events. A bounce of type `blocked` (or a soft classification)
    is a soft bounce, which withdraws nothing."""
    try:
        items = json.loads(body)
    except ValueError:
        raise ValueError("sendgrid webhook: body is not JSON") from None
    if not isinstance(items, list):
        raise ValueError("sendgrid webhook: body must be a JSON array of events")
    events = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "@" not in str(item.get("email") or ""):
            raise ValueError(f"sendgrid webhook: event [{index}] has no email address")
        kind = str(item.get("event") or "")
        try:
            occurred = datetime.fromtimestamp(int(item.get("timestamp")), UTC)
        except (TypeError, ValueError):
            raise ValueError(f"sendgrid webhook: event [{index}] ({kind}) has no valid "
                             "timestamp") from None
        event_type, bounce = _SENDGRID_TYPES.get(kind, kind), None
        if kind == "bounce":
            soft = item.get("type") == "blocked" or str(
                item.get("bounce_classification") or "").lower() in ("technical", "reputation")
            event_type, bounce = ("soft_bounce", "soft") if soft else ("bounce", "hard")
        key = item.get("sg_event_id") or (kind, item["email"].lower(), item.get("timestamp"))
        events.append(WebhookEvent(_event_id("sendgrid_webhook", key), "sendgrid_webhook",
                                   str(item["email"]).strip().lower(), event_type,
                                   _iso(occurred), bounce, kind))
    return events


def verify_sendgrid_signature(public_key: str, body: bytes, signature: str | None,
                              timestamp: str | None, now: float | None = None) -> bool:
    """SendGrid's Event Webhook signature: ECDSA P-256 / SHA-256 over timestamp + body, with
    the base64 DER public key from the webhook settings. Old timestamps are replays."""
    if not signature or not timestamp:
        return False
    try:
        age = (now if now is not None else datetime.now(UTC).timestamp()) - int(timestamp)
        key = serialization.load_der_public_key(base64.b64decode(public_key))
        if abs(age) > MAX_SIGNATURE_AGE_S or not isinstance(key, ec.EllipticCurvePublicKey):
            return False
        key.verify(base64.b64decode(signature), timestamp.encode() + body,
                   ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


class WebhookSpool:
    """A folder of accepted deliveries: one JSON file per webhook request, written to a
    temporary name, flushed to disk and renamed into place (so a reader never sees half a
    file), and deleted once its events are landed, so no address outlives its landing here."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._sequence = 0

    def append(self, events: list[WebhookEvent]) -> Path:
        stamp = _iso(datetime.now(UTC))
        body = json.dumps([{**asdict(e), "received_at": stamp} for e in events]).encode()
        with self._lock:
            self._sequence += 1
            name = f"{time.time_ns():020d}-{os.getpid()}-{self._sequence:06d}"
        self.path.mkdir(parents=True, exist_ok=True)
        partial = self.path / f".{name}.partial"
        with partial.open("wb") as spool:
            spool.write(body)
            spool.flush()
            os.fsync(spool.fileno())
        final = self.path / f"{name}.json"
        os.replace(partial, final)
        return final

    def pending(self, limit: int = 1000) -> list[tuple[Path, list[WebhookEvent]]]:
        """The oldest deliveries not yet landed, with their events."""
        if not self.path.exists():
            return []
        files = sorted(self.path.glob("*.json"))[:limit]
        return [(f, [WebhookEvent(**item) for item in json.loads(f.read_bytes())])
                for f in files]

    def landed(self, files: list[Path]) -> None:
        for file in files:
            file.unlink(missing_ok=True)
