"""Alerts: one JSON line per alert in a local file, and optionally a webhook (Slack-style).

The file is the audit trail of what was raised; the webhook is how a person hears about it.
"""

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import httpx

logger = logging.getLogger(__name__)


def raise_alert(
    path: Path, kind: str, message: str, details: dict | None = None,
    webhook_url: str | None = None,
) -> dict:
    alert = {
        "raised_at": datetime.now(UTC).isoformat(),
        "kind": kind,
        "message": message,
        "details": details or {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as sink:
        sink.write(json.dumps(alert, default=str) + "\n")
    logger.warning("alert %s: %s", kind, message)
    if webhook_url:
        try:
            httpx.post(webhook_url, json={"text": f"[{kind}] {message}"}, timeout=10)
        except httpx.HTTPError as error:  # the file already holds the alert; never crash a sensor
            logger.error("alert webhook failed: %s", type(error).__name__)
    return alert


def read_alerts(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
