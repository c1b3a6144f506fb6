"""Alerts: every alert is a row of `observability.alerts` with its delivery state, and is
posted to a Slack-compatible webhook when one is configured.

The table is the record of what was raised and whether anyone could have heard of it; the
webhook is how a person hears. A post counts as delivered only on a 2xx answer. Network errors,
429 and 5xx are retried with backoff; other answers fail at once. The webhook URL is a secret:
it never reaches a log line, an exception or the table.
"""

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import polars as pl

logger = logging.getLogger(__name__)

ALERTS = "observability.alerts"
ALERT_SCHEMA = {
    "alert_id": pl.Utf8, "raised_at": pl.Datetime("us", "UTC"), "kind": pl.Utf8,
    "asset": pl.Utf8, "message": pl.Utf8, "details": pl.Utf8, "hold_id": pl.Utf8,
    "run_id": pl.Utf8, "delivery": pl.Utf8, "attempts": pl.Int32, "last_status": pl.Int32,
    "last_error": pl.Utf8, "delivered_at": pl.Datetime("us", "UTC"),
}


@dataclass(frozen=True)
class Alert:
    kind: str
    message: str
    asset: str | None = None
    details: dict = field(default_factory=dict)
    hold_id: str | None = None
    run_id: str | None = None


@dataclass
class Delivery:
    state: str  # delivered | failed | not_configured
    attempts: int = 0
    last_status: int | None = None
    last_error: str | None = None


def slack_message(alert: Alert) -> dict:
    """The webhook body: Slack's `text` field (also what Mattermost, Teams and Discord-Slack
    bridges read), plus the alert's fields for receivers that parse JSON."""
    where = f" {alert.asset}:" if alert.asset else ""
    text = f":rotating_light: [{alert.kind}]{where} {alert.message}"
    if alert.hold_id:
        text += (f"\nESP sync held. Release with `edp alerts ack {alert.hold_id} "
                 "--by NAME --reason TEXT`.")
    return {"text": text, "alert": {"kind": alert.kind, "asset": alert.asset,
                                    "message": alert.message, "hold_id": alert.hold_id}}


def post_webhook(
    url: str | None, body: dict, attempts: int = 4, backoff_seconds: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """POST `body`, retrying network errors, 429 and 5xx; a 2xx answer is the only success."""
    if not url:
        return Delivery("not_configured")
    delivery = Delivery("failed")
    for attempt in range(1, attempts + 1):
        delivery.attempts = attempt
        try:
            response = httpx.post(url, json=body, timeout=10)
        except httpx.HTTPError as error:  # the message may hold the URL: keep the type only
            delivery.last_status, delivery.last_error = None, type(error).__name__
        else:
            delivery.last_status = response.status_code
            if response.is_success:
                delivery.state, delivery.last_error = "delivered", None
                return delivery
            delivery.last_error = f"HTTP {response.status_code}"
            if response.status_code != 429 and response.status_code < 500:
                return delivery  # the receiver refuses this body: retrying will not help
        if attempt < attempts:
            sleep(min(backoff_seconds * 2 ** (attempt - 1), 30.0))
    return delivery


def raise_alert(warehouse, alert: Alert, webhook_url: str | None = None, **post_options) -> dict:
    """Record the alert (pending), post it, store its delivery state; returns the stored row.

    Recorded before posting, so an alert is never lost to a crash mid-delivery.
    """
    row = {"alert_id": uuid.uuid4().hex[:10], "raised_at": datetime.now(UTC),
           "kind": alert.kind, "asset": alert.asset, "message": alert.message,
           "details": json.dumps(alert.details, default=str, sort_keys=True),
           "hold_id": alert.hold_id, "run_id": alert.run_id, "delivery": "pending",
           "attempts": 0}
    warehouse.append(ALERTS, pl.DataFrame([row], schema=ALERT_SCHEMA))
    logger.warning("alert %s %s: %s", alert.kind, alert.asset or "", alert.message)
    delivery = post_webhook(webhook_url, slack_message(alert), **post_options)
    if delivery.state == "failed":
        logger.error("alert %s not delivered after %d attempts (%s)", row["alert_id"],
                     delivery.attempts, delivery.last_error)
    row.update(delivery=delivery.state, attempts=delivery.attempts,
               last_status=delivery.last_status, last_error=delivery.last_error,
               delivered_at=datetime.now(UTC) if delivery.state == "delivered" else None)
    warehouse.upsert(ALERTS, pl.DataFrame([row], schema=ALERT_SCHEMA), key=["alert_id"])
    return row


def read_alerts(warehouse, limit: int | None = None) -> pl.DataFrame:
    """Alerts, newest first."""
    if not warehouse.exists(ALERTS):
        return pl.DataFrame(schema=ALERT_SCHEMA)
    suffix = f" limit {int(limit)}" if limit else ""
    return warehouse.query(f"select * from {ALERTS} order by raised_at desc{suffix}")
