"""The webhook receiver run beside the simulators (`edp sandbox serve`, so `edp run` and
`edp dev`), with both ESP simulators subscribed to it as a real account would be configured."""

import secrets
from pathlib import Path

from email_data_platform.lib.activation.stage import ReceiverSettings, WebhookSpool, build_receiver


class LocalReceiver:
    def __init__(self, spool: Path):
        self.spool_path = Path(spool)
        self.settings = ReceiverSettings(WebhookSpool(spool), secrets.token_urlsafe(16))
        self.app = build_receiver(self.settings)
        self.base_url = ""

    def info(self, base_url: str) -> dict:
        self.base_url = base_url
        return {"base_url": base_url, "spool": str(self.spool_path.resolve())}

    def subscribe(self, mailchimp, sendgrid) -> None:
        """Point the simulators' webhooks here (replacing those of earlier starts, whose
        receiver port is gone) and trust SendGrid's signing key."""
        ours = "/webhooks/mailchimp/"
        mailchimp.webhooks.hooks = {k: h for k, h in mailchimp.webhooks.hooks.items()
                                    if ours not in h["url"]}
        url = f"{self.base_url}{ours}{self.settings.mailchimp_secret}"
        mailchimp.webhooks.register({"url": url,
                                     "sources": {"user": True, "admin": True, "api": False}})
        sendgrid.event_webhook.configure({"enabled": True,
                                          "url": f"{self.base_url}/webhooks/sendgrid"})
        sendgrid.event_webhook.signed = True
        self.settings.sendgrid_public_key = sendgrid.event_webhook.public_key()
        for account in (mailchimp, sendgrid):
            account.state.mark_changed()
