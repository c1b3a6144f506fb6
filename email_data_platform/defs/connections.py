"""Vendor connections: one resource per vendor account, bound once, secrets only via EnvVar.

Each resource builds a connector client (`.client()`); a 401 makes the client re-read the
credential from its environment variable, so a rotated key is picked up without a restart.
"""

import os

import dagster as dg

from email_data_platform.lib.connectors.consent import ConsentFeedClient
from email_data_platform.lib.connectors.http import CallableToken, RequestBudget
from email_data_platform.lib.connectors.hubspot import HubSpotClient
from email_data_platform.lib.connectors.mailchimp import MailchimpClient


def rotating_credential(configured: str, env_var: str) -> CallableToken:
    """Start from the configured secret; on refresh, prefer the environment's current value."""
    return CallableToken(lambda: os.environ.get(env_var) or configured)


def _budget(limit: int) -> RequestBudget | None:
    return RequestBudget(limit) if limit > 0 else None


class HubSpotResource(dg.ConfigurableResource):
    """A HubSpot private app (CRM v3): contacts and deals."""

    base_url: str = "https://api.hubapi.com"
    access_token: str
    token_env_var: str = "HUBSPOT_ACCESS_TOKEN"
    request_budget: int = 0  # requests per run; 0 = unlimited

    def client(self) -> HubSpotClient:
        return HubSpotClient(self.base_url,
                             token_provider=rotating_credential(self.access_token,
                                                                self.token_env_var),
                             budget=_budget(self.request_budget))


class MailchimpResource(dg.ConfigurableResource):
    """A Mailchimp Marketing API key and the audience (list) the platform manages."""

    base_url: str
    api_key: str
    list_id: str
    key_env_var: str = "MAILCHIMP_API_KEY"
    request_budget: int = 0

    def client(self) -> MailchimpClient:
        return MailchimpClient(self.base_url,
                               token_provider=rotating_credential(self.api_key, self.key_env_var),
                               budget=_budget(self.request_budget))


class ConsentFeedResource(dg.ConfigurableResource):
    """The consent-management platform's event feed."""

    base_url: str
    api_key: str
    key_env_var: str = "CONSENT_API_KEY"
    request_budget: int = 0

    def client(self) -> ConsentFeedClient:
        return ConsentFeedClient(self.base_url,
                                 token_provider=rotating_credential(self.api_key,
                                                                    self.key_env_var),
                                 budget=_budget(self.request_budget))


@dg.definitions
def connections() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "hubspot": HubSpotResource(base_url=dg.EnvVar("HUBSPOT_BASE_URL"),
                                       access_token=dg.EnvVar("HUBSPOT_ACCESS_TOKEN")),
            "mailchimp": MailchimpResource(base_url=dg.EnvVar("MAILCHIMP_BASE_URL"),
                                           api_key=dg.EnvVar("MAILCHIMP_API_KEY"),
                                           list_id=dg.EnvVar("MAILCHIMP_LIST_ID")),
            "consent_feed": ConsentFeedResource(base_url=dg.EnvVar("CONSENT_BASE_URL"),
                                                api_key=dg.EnvVar("CONSENT_API_KEY")),
        },
    )
