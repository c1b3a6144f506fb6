"""`edp webhooks serve`: the ESP webhook receiver on its own (for a deployment; `edp run` and
`edp dev` already run one beside the simulators).

Mailchimp webhooks go to `/webhooks/mailchimp/<secret>` (the secret from
EDP_MAILCHIMP_WEBHOOK_SECRET); SendGrid's Event Webhook to `/webhooks/sendgrid`, verified with
the public key from SENDGRID_WEBHOOK_PUBLIC_KEY (the Event Webhook settings show it). Events are
spooled to the `--spool` folder, which `esp_webhook_sensor` lands and empties (WEBHOOKS_SPOOL).
"""

import argparse
import os
import sys
from pathlib import Path


def register(commands) -> None:
    webhooks = commands.add_parser("webhooks", help="the ESP webhook receiver")
    verbs = webhooks.add_subparsers(dest="webhooks_command", required=True)
    serve = verbs.add_parser("serve", help="receive ESP webhooks until stopped")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    serve.add_argument("--port", type=int, default=8025, help="port to listen on")
    serve.add_argument("--spool", type=Path, default=Path(".edp/webhooks/spool"),
                       help="folder accepted events are written to (the sensor lands and "
                       "deletes them)")


def dispatch(args: argparse.Namespace) -> int:
    import uvicorn

    from email_data_platform.lib.activation.stage import (
        ReceiverSettings,
        WebhookSpool,
        build_receiver,
    )

    secret = os.environ.get("EDP_MAILCHIMP_WEBHOOK_SECRET", "")
    if len(secret) < 16:
        print("edp: set EDP_MAILCHIMP_WEBHOOK_SECRET (16+ characters; it is part of the URL "
              "Mailchimp calls)", file=sys.stderr)
        return 2
    settings = ReceiverSettings(WebhookSpool(args.spool), secret,
                                os.environ.get("SENDGRID_WEBHOOK_PUBLIC_KEY", ""))
    if not settings.sendgrid_public_key:
        print("edp: SENDGRID_WEBHOOK_PUBLIC_KEY is not set; SendGrid events will be refused",
              file=sys.stderr)
    uvicorn.run(build_receiver(settings), host=args.host, port=args.port, log_config=None)
    return 0
