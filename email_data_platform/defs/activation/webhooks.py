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
    """The folder the webhook receiver spools accepted events to (`edp run`/`edp dev` set it)."""

    path: str


@dg.sensor(job=ESP_WEBHOOK_JOB, minimum_interval_seconds=5,
           default_status=dg.DefaultSensorStatus.RUNNING)
def esp_webhook_sensor(context: dg.SensorEvaluationContext, webhook_spool: WebhookSpoolResource,
                       warehouse: WarehouseResource):
    """Lands the spooled ESP webhook events in sources.esp_events and, when any of them can
    change who is emailed, launches esp_webhook_job. Spool files are deleted only after their
    events are landed (a landing is an upsert on the event id, so a retry lands nothing
    twice), and no address stays in the spool once landed."""
    spool = WebhookSpool(webhook_spool.path)
    deliveries = spool.pending()
    if not deliveries:
        return dg.SkipReason("no new webhook events")
    events = [event for _, batch in deliveries for event in batch]
    run_key = f"esp-webhooks-{deliveries[-1][0].stem}"
    landed = land_webhook_events(warehouse.get(), events, run_id=run_key)
    spool.landed([file for file, _ in deliveries])
    if not landed:
        return dg.SkipReason(f"{len(events)} webhook events, none that changes an audience")
    return dg.RunRequest(run_key=run_key, tags={"trigger": "esp_webhooks",
                                                "events": str(len(events)),
                                                "landed": str(landed)})
