"""Materialise the sources assets against running simulators, and read back what landed."""

from pathlib import Path

import dagster as dg
import polars as pl

from email_data_platform.defs.connections import (
    ConsentFeedResource,
    HubSpotResource,
    MailchimpResource,
    SalesforceResource,
    SendGridResource,
)
from email_data_platform.defs.sources import checks
from email_data_platform.defs.sources.assets import (
    consent_raw,
    crm_contacts,
    crm_orders,
    esp_events,
)
from email_data_platform.defs.sources.resources import CrmSourcesResource
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.connectors.hubspot import HubSpotClient
from email_data_platform.lib.connectors.salesforce import SalesforceClient
from email_data_platform.lib.warehouse import DuckDBWarehouse

SOURCES = [crm_contacts, crm_orders, esp_events, consent_raw]


def resources(info: dict, warehouse: Path, hubspot_budget: int = 0,
              retry_base_delay_s: float = 0.2,
              crm_sources: CrmSourcesResource | None = None) -> dict:
    return {
        "warehouse": WarehouseResource(path=str(warehouse)),
        "crm_sources": crm_sources or CrmSourcesResource(),
        "hubspot": HubSpotResource(**info["hubspot"], request_budget=hubspot_budget,
                                   retry_base_delay_s=retry_base_delay_s),
        "salesforce": SalesforceResource(**info["salesforce"],
                                         retry_base_delay_s=retry_base_delay_s),
        "mailchimp": MailchimpResource(**info["mailchimp"]),
        "sendgrid": SendGridResource(**info["sendgrid"]),
        "consent_feed": ConsentFeedResource(**info["consent"]),
    }


def materialize(info: dict, warehouse: Path, assets=None, *, partition_key: str | None = None,
                config: dict | None = None, hubspot_budget: int = 0,
                retry_base_delay_s: float = 0.2, raise_on_error: bool = True,
                crm_sources: CrmSourcesResource | None = None) -> dg.ExecuteInProcessResult:
    assets = assets or SOURCES
    run_config = {"ops": {a.op.name: {"config": config} for a in assets}} if config else None
    pinned = resources(info, warehouse, hubspot_budget, retry_base_delay_s, crm_sources)
    targeted = {a.key for a in assets}
    asset_checks = [c for c in vars(checks).values() if isinstance(c, dg.AssetChecksDefinition)
                    and {k.asset_key for k in c.check_keys} <= targeted]
    return dg.materialize([*assets, *asset_checks], resources=pinned,
                          partition_key=partition_key, run_config=run_config,
                          raise_on_error=raise_on_error)


def metadata(result: dg.ExecuteInProcessResult, asset_key: str) -> dict:
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() == asset_key:
            return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}
    raise KeyError(asset_key)


def read(warehouse: Path, table: str) -> pl.DataFrame:
    wh = DuckDBWarehouse(warehouse)
    try:
        return wh.read(table)
    finally:
        wh.close()


def hubspot_client(info: dict) -> HubSpotClient:
    return HubSpotClient(info["hubspot"]["base_url"], info["hubspot"]["access_token"])


def salesforce_client(info: dict) -> SalesforceClient:
    sf = info["salesforce"]
    return SalesforceClient(sf["base_url"], sf["client_id"], sf["client_secret"])
