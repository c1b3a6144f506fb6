"""Vendor connections: one resource per vendor account, bound once, secrets only via EnvVar.

Each resource builds a connector client (`.client()`); a 401 makes the client re-read the
credential from its environment variable, so a rotated key is picked up without a restart.
"""


import dagster as dg

from email_data_platform.lib.connectors.consent import ConsentFeedClient
from email_data_platform.lib.connectors.credentials import (
    RequestBudget,
    RotatingToken,
    shared_budget,
)
from email_data_platform.lib.connectors.http import RetryPolicy
from email_data_platform.lib.connectors.hubspot import HubSpotClient
from email_data_platform.lib.connectors.mailchimp import MailchimpClient
from email_data_platform.lib.connectors.salesforce import SalesforceClient
from email_data_platform.lib.connectors.sendgrid import SendGridClient


def rotating_credential(configured: str, env_var: str) -> RotatingToken:
    """Start from the configured secret; on a 401, take a rotated value from the environment."""
    return RotatingToken(configured, env_var)


class _OAuthSecret:
    """The configured secret for the first token request, a refreshed one after that (a new
    token is only requested again when the old one was refused, e.g. after rotation)."""

    def __init__(self, secret: RotatingToken):
        self.secret, self.asked = secret, False

    def __call__(self) -> str:
        if not self.asked:
            self.asked = True
            return self.secret.token()
        return self.secret.refresh()


class VendorResource(dg.ConfigurableResource):
    """Settings every vendor connection shares: request budget and retry pacing."""

    request_budget: int = 0  # requests per account and budget period; 0 = unlimited
    request_budget_period_s: float = 86_400.0  # a daily quota, like the vendors' own
    retry_base_delay_s: float = 0.2  # first backoff; doubles per attempt, with jitter
    max_attempts: int = 8

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.max_attempts, base_delay_s=self.retry_base_delay_s)

    def budget(self) -> RequestBudget | None:
        """Shared by every client of this account in the process (all assets, all runs)."""
        if self.request_budget <= 0:
            return None
        account = f"{type(self).__name__}:{getattr(self, 'base_url', '')}"
        return shared_budget(account, self.request_budget, self.request_budget_period_s)


class HubSpotResource(VendorResource):
    """A HubSpot private app (CRM v3): contacts and deals."""

    base_url: str = "https://api.hubapi.com"
    access_token: str
    token_env_var: str = "HUBSPOT_ACCESS_TOKEN"

    def client(self) -> HubSpotClient:
        return HubSpotClient(self.base_url,
                             token_provider=rotating_credential(self.access_token,
                                                                self.token_env_var),
                             budget=self.budget(), policy=self.retry_policy())


class MailchimpResource(VendorResource):
    """A Mailchimp Marketing API key and the audience (list) the platform manages."""

    base_url: str
    api_key: str
    list_id: str
    key_env_var: str = "MAILCHIMP_API_KEY"

    def client(self) -> MailchimpClient:
        return MailchimpClient(self.base_url,
                               token_provider=rotating_credential(self.api_key, self.key_env_var),
                               budget=self.budget(), policy=self.retry_policy())


class SalesforceResource(VendorResource):
    """A Salesforce connected app (OAuth 2.0 client credentials): Contacts and Opportunities."""

    base_url: str  # the org's instance URL
    client_id: str
    client_secret: str
    secret_env_var: str = "SALESFORCE_CLIENT_SECRET"

    def client(self) -> SalesforceClient:
        secret = rotating_credential(self.client_secret, self.secret_env_var)
        return SalesforceClient(self.base_url, self.client_id, secret_provider=_OAuthSecret(secret),
                                budget=self.budget(), policy=self.retry_policy())


class SendGridResource(VendorResource):
    """A SendGrid API key: Marketing Contacts and suppression lists."""

    base_url: str = "https://api.sendgrid.com"
    api_key: str
    key_env_var: str = "SENDGRID_API_KEY"

    def client(self) -> SendGridClient:
        return SendGridClient(self.base_url,
                              token_provider=rotating_credential(self.api_key, self.key_env_var),
                              budget=self.budget(), policy=self.retry_policy())


class ConsentFeedResource(VendorResource):
    """The consent-management platform's event feed."""

    base_url: str
    api_key: str
    key_env_var: str = "CONSENT_API_KEY"

    def client(self) -> ConsentFeedClient:
        return ConsentFeedClient(self.base_url,
                                 token_provider=rotating_credential(self.api_key,
                                                                    self.key_env_var),
                                 budget=self.budget(), policy=self.retry_policy())


@dg.definitions
def connections() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "hubspot": HubSpotResource(base_url=dg.EnvVar("HUBSPOT_BASE_URL"),
                                       access_token=dg.EnvVar("HUBSPOT_ACCESS_TOKEN")),
            "mailchimp": MailchimpResource(base_url=dg.EnvVar("MAILCHIMP_BASE_URL"),
                                           api_key=dg.EnvVar("MAILCHIMP_API_KEY"),
                                           list_id=dg.EnvVar("MAILCHIMP_LIST_ID")),
            "salesforce": SalesforceResource(base_url=dg.EnvVar("SALESFORCE_BASE_URL"),
                                             client_id=dg.EnvVar("SALESFORCE_CLIENT_ID"),
                                             client_secret=dg.EnvVar("SALESFORCE_CLIENT_SECRET")),
            "sendgrid": SendGridResource(base_url=dg.EnvVar("SENDGRID_BASE_URL"),
                                         api_key=dg.EnvVar("SENDGRID_API_KEY")),
            "consent_feed": ConsentFeedResource(base_url=dg.EnvVar("CONSENT_BASE_URL"),
                                                api_key=dg.EnvVar("CONSENT_API_KEY")),
        },
    )
