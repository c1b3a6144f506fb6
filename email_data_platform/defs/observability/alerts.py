"""The alert sink as a resource: a Slack-compatible webhook (a secret, bound through
`dg.EnvVar` in defs/resources.py) plus the `observability.alerts` table in the warehouse."""

import dagster as dg
from pydantic import Field

from email_data_platform.lib.observability import stage as observability


class AlertsResource(dg.ConfigurableResource):
    """Where alerts go. An empty `webhook_url` keeps alerts in the table only
    (delivery `not_configured`), which `edp alerts list` shows."""

    webhook_url: str = Field(default="", description="Slack-compatible incoming webhook URL")
    attempts: int = Field(default=4, description="posts tried before a delivery counts as failed")
    backoff_seconds: float = Field(default=1.0, description="first wait between retries (doubles)")

    def _post_options(self) -> dict:
        return {"attempts": self.attempts, "backoff_seconds": self.backoff_seconds}

    def send(self, warehouse, alert: observability.Alert) -> dict:
        """Record and post one alert; returns its row (with the delivery state)."""
        return observability.raise_alert(warehouse, alert, self.webhook_url or None,
                                         **self._post_options())

    def report(self, warehouse, asset: str, anomalies: list, run_id: str | None) -> list[dict]:
        """A hold and an alert per new anomaly (repeats of an open hold's cause add nothing)."""
        return observability.report_anomalies(warehouse, asset, anomalies, run_id,
                                              self.webhook_url or None, **self._post_options())
