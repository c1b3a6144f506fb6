"""The webhook receiver: a small ASGI app that accepts ESP webhooks and spools them durably.

Routes:
- `GET|HEAD /webhooks/mailchimp/{secret}`: Mailchimp's URL check (200).
- `POST /webhooks/mailchimp/{secret}`: form-encoded events; a wrong secret is 404.
- `POST /webhooks/sendgrid`: the signed JSON array; a bad or missing signature is 403.
- `GET /health`.
Bad payloads get 400 naming the problem (never echoing an address); a 2xx is only sent once
the events are on disk, so the vendors retry anything not acknowledged.
`edp webhooks serve` runs it on its own; `edp sandbox serve` (so `edp run`/`edp dev`) runs it
beside the simulators and points them at it.
"""

import hmac
import logging
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from email_data_platform.lib.activation.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookSpool,
    parse_mailchimp,
    parse_sendgrid,
    verify_sendgrid_signature,
)

logger = logging.getLogger(__name__)


@dataclass
class ReceiverSettings:
    spool: WebhookSpool
    mailchimp_secret: str
    sendgrid_public_key: str = ""  # base64 DER; empty = SendGrid events refused


def build_receiver(settings: ReceiverSettings) -> Starlette:
    async def health(request: Request):
        return JSONResponse({"ok": True})

    async def mailchimp(request: Request):
        if not hmac.compare_digest(request.path_params["secret"], settings.mailchimp_secret):
            return PlainTextResponse("not found", 404)
        if request.method in ("GET", "HEAD"):
            return PlainTextResponse("ok")
        # form-encoded; parsed here rather than with python-multipart (one dependency fewer)
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"),
                              keep_blank_values=True))
        try:
            events = parse_mailchimp(form)
        except ValueError as error:
            return PlainTextResponse(str(error), 400)
        settings.spool.append(events)
        return JSONResponse({"accepted": len(events)})

    async def sendgrid(request: Request):
        body = await request.body()
        if not settings.sendgrid_public_key or not verify_sendgrid_signature(
                settings.sendgrid_public_key, body, request.headers.get(SIGNATURE_HEADER),
                request.headers.get(TIMESTAMP_HEADER)):
            logger.warning("sendgrid webhook refused: signature missing, invalid or stale")
            return PlainTextResponse("signature verification failed", 403)
        try:
            events = parse_sendgrid(body)
        except ValueError as error:
            return PlainTextResponse(str(error), 400)
        settings.spool.append(events)
        return JSONResponse({"accepted": len(events)})

    return Starlette(routes=[
        Route("/health", health, methods=["GET"]),
        Route("/webhooks/mailchimp/{secret}", mailchimp, methods=["GET", "HEAD", "POST"]),
        Route("/webhooks/sendgrid", sendgrid, methods=["POST"]),
    ])
