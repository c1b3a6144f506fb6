"""The ESP webhook sensor: events the receiver spooled become a run that carries an unsubscribe
(complaint, hard bounce) from one ESP through profiles, the consent ledger and the audiences to
every destination, within a minute."""

import dagster as dg

from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.activation.stage import WebhookSpool, land_webhook_events

ESP_WEBHOOK_JOB = dg.define_asset_job(
    "esp_webhook_job",
    selection=dg.AssetSelection.key_prefixes(["profiles"], ["audiences"], ["activation"])
    # consent events first: the landed unsubscribe becomes a withdrawal there, then the ledger
    | dg.AssetSelection.assets(dg.AssetKey(["privacy", "consent_events"]),
                               dg.AssetKey(["privacy", "consent_ledger"]))
    .required_multi_asset_neighbors(),
    description="Re-derives profiles, consent, audiences and every ESP destination after ESP "
    "webhooks landed new events (launched by esp_webhook_sensor).",
)


class WebhookSpoolResource(dg.ConfigurableResource):
    """Where the webhook receiver spools accepted events (`edp run`/`edp dev` set it)."""

    path: str


@dg.sensor(job=ESP_WEBHOOK_JOB, minimum_interval_seconds=5,
           default_status=dg.DefaultSensorStatus.RUNNING)
def esp_webhook_sensor(context: dg.SensorEvaluationContext, webhook_spool: WebhookSpoolResource,
                       warehouse: WarehouseResource):
    """Lands newly spooled ESP webhook events in sources.esp_events and, when any of them can
    change who is emailed, launches esp_webhook_job. The cursor (a byte offset in the spool)
    only moves after the events are landed, so nothing is lost or landed twice."""
    offset = int(context.cursor or 0)
    events, new_offset = WebhookSpool(webhook_spool.path).read_from(offset)
    if not events:
        return dg.SkipReason("no new webhook events")
    run_key = f"esp-webhooks-{new_offset}"
    landed = land_webhook_events(warehouse.get(), events, run_id=run_key)
    context.update_cursor(str(new_offset))
    if not landed:
        return dg.SkipReason(f"{len(events)} webhook events, none that changes an audience")
    return dg.RunRequest(run_key=run_key, tags={"trigger": "esp_webhooks",
                                                "events": str(len(events)),
                                                "landed": str(landed)})

