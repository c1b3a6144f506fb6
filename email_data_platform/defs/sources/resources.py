"""Where the CRM sources come from: the vendors' APIs (default) or an ELT tool's tables.

Many teams already replicate HubSpot and Salesforce into their warehouse with Fivetran or
Airbyte. Per vendor, `EDP_HUBSPOT_SOURCE=api|fivetran|airbyte` and
`EDP_SALESFORCE_SOURCE=api|fivetran` choose; `EDP_HUBSPOT_ELT_SCHEMA` /
`EDP_SALESFORCE_ELT_SCHEMA` name the schema (dataset) the tool writes to (defaults: Fivetran's
`hubspot` / `salesforce`, Airbyte's `airbyte_hubspot`). The values are `dg.EnvVar`s read when a
run launches; an unknown tool fails the run before anything is read, naming the variable. A
value set when the definitions load is checked then too, so a typo never waits for a run.
"""

import os

import dagster as dg

from email_data_platform.lib.sources.elt import TOOLS, EltConfigurationError, EltTable, elt_table

VARIABLES = {"hubspot": ("EDP_HUBSPOT_SOURCE", "EDP_HUBSPOT_ELT_SCHEMA"),
             "salesforce": ("EDP_SALESFORCE_SOURCE", "EDP_SALESFORCE_ELT_SCHEMA")}


class CrmSourcesResource(dg.ConfigurableResource):
    """Per CRM vendor: `api`, or the ELT tool whose tables hold its contacts and orders."""

    hubspot: str = "api"
    hubspot_schema: str = ""
    salesforce: str = "api"
    salesforce_schema: str = ""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.validate()

    def validate(self) -> None:
        for vendor in VARIABLES:
            self.table(vendor, "contacts")

    def tool(self, vendor: str) -> str:
        return getattr(self, vendor) or "api"

    def table(self, vendor: str, obj: str) -> EltTable | None:
        """The ELT table for `vendor`'s `obj` (`contacts` | `orders`), None to call the API."""
        try:
            return elt_table(vendor, self.tool(vendor), obj,
                             getattr(self, f"{vendor}_schema") or None)
        except EltConfigurationError as error:
            raise EltConfigurationError(
                f"{VARIABLES[vendor][0]} must be one of {', '.join(TOOLS[vendor])}, "
                f"not {self.tool(vendor)!r}") from error


def crm_sources_resource(environ=None) -> CrmSourcesResource:
    """The resource with each variable that is set bound as an EnvVar (unset: the API)."""
    environ = os.environ if environ is None else environ
    fields = {}
    for vendor, (source, schema) in VARIABLES.items():
        if environ.get(source):
            fields[vendor] = dg.EnvVar(source)
            CrmSourcesResource(**{vendor: environ[source]}).table(vendor, "contacts")
        if environ.get(schema):
            fields[f"{vendor}_schema"] = dg.EnvVar(schema)
    return CrmSourcesResource(**fields)


@dg.definitions
def crm_sources() -> dg.Definitions:
    return dg.Definitions(resources={"crm_sources": crm_sources_resource()})
