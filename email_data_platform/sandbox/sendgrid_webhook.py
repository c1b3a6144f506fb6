"""SendGrid's Event Webhook in the simulator: settings, the signing key, deliveries."""

from email_data_platform.sandbox.esp_webhooks import SigningKey, deliver, sendgrid_events

EVENT_FLAGS = ("bounce", "click", "deferred", "delivered", "dropped", "group_resubscribe",
               "group_unsubscribe", "open", "processed", "spam_report", "unsubscribe")
_FLAG_OF = {"spamreport": "spam_report"}


class EventWebhook:
    def __init__(self, saved: dict | None):
        saved = (saved or {}).get("event_webhook") or {}
        self.enabled, self.url = bool(saved.get("enabled")), str(saved.get("url") or "")
        self.flags = {f: bool(saved.get("flags", {}).get(f, True)) for f in EVENT_FLAGS}
        self.signed = bool(saved.get("signed"))
        self.key = SigningKey(saved.get("private_key_pem"))

    def snapshot(self) -> dict:
        return {"event_webhook": {"enabled": self.enabled, "url": self.url, "flags": self.flags,
                                  "signed": self.signed, "private_key_pem": self.key.pem()}}

    def settings(self) -> dict:
        return {"enabled": self.enabled, "url": self.url, **self.flags}

    def configure(self, body: dict) -> None:
        url = str(body.get("url", self.url) or "")
        if body.get("enabled") and not url.startswith(("http://", "https://")):
            raise ValueError("url must be an http(s) URL to enable the Event Webhook")
        self.url, self.enabled = url, bool(body.get("enabled", self.enabled))
        self.flags.update({f: bool(body[f]) for f in EVENT_FLAGS if f in body})

    def public_key(self) -> str:
        return self.key.public_key()

    def send(self, items: list[dict]) -> int:
        wanted = [i for i in items if self.flags.get(_FLAG_OF.get(i.get("event"), i.get("event")),
                                                     False)]
        if not (self.enabled and self.url and wanted):
            return 0
        body = sendgrid_events(wanted)
        headers = (self.key.signed_headers(body) if self.signed
                   else {"Content-Type": "application/json"})
        deliver(self.url, body, headers)
        return len(wanted)
