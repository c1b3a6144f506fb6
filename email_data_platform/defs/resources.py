"""Binds every resource, once: shared ones, each stage's, and the vendor connections.

Values come from the environment at launch (`dg.EnvVar`); which settings exist is read when the
definitions load (process start), never at import. Production refuses to load half-configured.
"""

import os

import dagster as dg

from email_data_platform.defs.activation.webhooks import WebhookSpoolResource
from email_data_platform.defs.connections import bind_connections
from email_data_platform.defs.identity.resources import IdentityResource
from email_data_platform.defs.observability.alerts import AlertsResource
from email_data_platform.defs.privacy.resources import pseudonymisation_resource
from email_data_platform.defs.privacy.rights_resources import PiiEncryptionResource
from email_data_platform.defs.warehouse import ArtifactsResource, warehouse_resource
from email_data_platform.lib.deployment import check_environment


@dg.definitions
def resources() -> dg.Definitions:
    check_environment(os.environ)
    return dg.Definitions(
        resources={
            "warehouse": warehouse_resource(),  # EDP_WAREHOUSE picks DuckDB/Snowflake/BigQuery
            "artifacts": ArtifactsResource(root=dg.EnvVar("EDP_HOME")),
            # A secret: set it empty to keep alerts in observability.alerts only.
            "alerts": AlertsResource(webhook_url=dg.EnvVar("EDP_ALERT_WEBHOOK_URL")),
            "identity": IdentityResource(),
            "pseudonymisation": pseudonymisation_resource(),
            "pii_encryption": PiiEncryptionResource(home=dg.EnvVar("EDP_HOME")),
            "webhook_spool": WebhookSpoolResource(path=dg.EnvVar("WEBHOOKS_SPOOL")),
            **bind_connections(os.environ),
        },
        # One process per step re-imports dagster, polars and pandera: ~6x slower on 2 cores.
        executor=dg.in_process_executor,
    )
