"""Where alerts go: a local JSON-lines file and an optional webhook."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from email_data_platform.lib.observability.stage import raise_alert


class AlertsResource(dg.ConfigurableResource):
    """Alert sink; `webhook_url` (a secret, via EnvVar) is optional."""

    root: str = ".edp"
    webhook_url: str | None = Field(default=None, description="Slack-compatible webhook")

    def send(self, kind: str, message: str, details: dict | None = None) -> dict:
        return raise_alert(Path(self.root) / "alerts.jsonl", kind, message, details,
                           self.webhook_url)


@dg.definitions
def alert_resources() -> dg.Definitions:
    return dg.Definitions(resources={"alerts": AlertsResource(root=dg.EnvVar("EDP_HOME"))})
