"""Binds the webhook spool the ESP webhook sensor reads (`edp run`/`edp dev` set WEBHOOKS_SPOOL
from the receiver they start). Its own module: a module with a @dg.definitions function
contributes only that function's Definitions when the defs folder loads."""

import dagster as dg

from email_data_platform.defs.activation.webhooks import WebhookSpoolResource


@dg.definitions
def webhook_resources() -> dg.Definitions:
    return dg.Definitions(
        resources={"webhook_spool": WebhookSpoolResource(path=dg.EnvVar("WEBHOOKS_SPOOL"))})
