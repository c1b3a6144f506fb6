"""Binds the resources every stage shares. Vendor connections are bound in connections.py.

Values come from the environment at launch (`dg.EnvVar`), never at import time.
"""

import dagster as dg

from email_data_platform.defs.observability.alerts import AlertsResource
from email_data_platform.defs.warehouse import ArtifactsResource, warehouse_resource


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "warehouse": warehouse_resource(),  # EDP_WAREHOUSE picks DuckDB/Snowflake/BigQuery
            "artifacts": ArtifactsResource(root=dg.EnvVar("EDP_HOME")),
            # A secret: set it empty to keep alerts in observability.alerts only.
            "alerts": AlertsResource(webhook_url=dg.EnvVar("EDP_ALERT_WEBHOOK_URL")),
        },
        # One process per step re-imports dagster, polars and pandera: ~6x slower on 2 cores.
        executor=dg.in_process_executor,
    )
