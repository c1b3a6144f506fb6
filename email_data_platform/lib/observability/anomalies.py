"""Turning an anomaly into a hold and an alert, once per cause.

While a hold for the same asset and rule is open, a repeat of the anomaly (the next run sees
the same low count) adds nothing: one cause, one hold, one alert.
"""

from email_data_platform.lib.observability.alerts import Alert, raise_alert
from email_data_platform.lib.observability.holds import Hold, open_hold, open_hold_for
from email_data_platform.lib.observability.rules import Anomaly


def report_anomalies(
    warehouse, asset: str, anomalies: list[Anomaly], run_id: str | None,
    webhook_url: str | None, **post_options,
) -> list[dict]:
    """Open a hold and raise an alert per new anomaly; returns what happened to each."""
    outcomes = []
    for anomaly in anomalies:
        existing = open_hold_for(warehouse, asset, anomaly.rule)
        if existing:
            outcomes.append({"rule": anomaly.rule, "message": anomaly.message,
                             "hold_id": existing, "new": False, "delivery": "already alerted"})
            continue
        hold_id = open_hold(warehouse, Hold(anomaly.rule, asset, anomaly.message, run_id))
        alert = raise_alert(warehouse, Alert(anomaly.rule, anomaly.message, asset,
                                             anomaly.figures, hold_id, run_id),
                            webhook_url, **post_options)
        outcomes.append({"rule": anomaly.rule, "message": anomaly.message, "hold_id": hold_id,
                         "new": True, "alert_id": alert["alert_id"],
                         "delivery": alert["delivery"]})
    return outcomes
