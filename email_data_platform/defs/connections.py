"""Vendor connections: one resource per vendor account, bound once, secrets only via EnvVar.

Each resource builds a connector client (`.client()`); a 401 makes the client re-read the
credential from its environment variable, so a rotated key is picked up without a restart.
Base URLs default to the vendors' real ones (Mailchimp's from the key's `-usNN` suffix); the
local simulators set theirs. `EDP_ENV=prod` refuses to load with a variable missing.
"""


import dagster as dg

from email_data_platform.lib.connectors.consent import ConsentFeedClient
from email_data_platform.lib.connectors.credentials import (
    RequestBudget,
    RotatingToken,
    mailchimp_base_url,
    shared_budget,
)
from email_data_platform.lib.connectors.http import RetryPolicy
from email_data_platform.lib.connectors.hubspot import HubSpotClient
from email_data_platform.lib.connectors.mailchimp import MailchimpClient
from email_data_platform.lib.connectors.salesforce import DEFAULT_API_VERSION, SalesforceClient
from email_data_platform.lib.connectors.salesforce_auth import SalesforceOAuth
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

    base_url: str = ""  # empty: the key's datacenter (`...-us21` -> us21.api.mailchimp.com)
    api_key: str
    list_id: str
    key_env_var: str = "MAILCHIMP_API_KEY"

    def client(self) -> MailchimpClient:
        return MailchimpClient(self.base_url or mailchimp_base_url(self.api_key),
                               token_provider=rotating_credential(self.api_key, self.key_env_var),
                               budget=self.budget(), policy=self.retry_policy())


class SalesforceResource(VendorResource):
    """A Salesforce connected app: Contacts and Opportunities.

    `auth_flow`: `client_credentials` (client secret), `jwt_bearer` (the integration user's
    username and the app's private key, PEM) or `refresh_token` (a refresh token from the
    web-server flow). Tokens come from `login_url` (default: the instance URL; a JWT's
    audience is https://login.salesforce.com or https://test.salesforce.com).
    """

    base_url: str  # the org's instance URL
    client_id: str
    auth_flow: str = "client_credentials"
    client_secret: str | None = None
    username: str | None = None
    private_key: str | None = None
    refresh_token: str | None = None
    login_url: str | None = None
    api_version: str = DEFAULT_API_VERSION
    secret_env_var: str = "SALESFORCE_CLIENT_SECRET"
    private_key_env_var: str = "SALESFORCE_PRIVATE_KEY"
    refresh_token_env_var: str = "SALESFORCE_REFRESH_TOKEN"

    def auth(self) -> SalesforceOAuth:
        configured, variable = {
            "client_credentials": (self.client_secret, self.secret_env_var),
            "jwt_bearer": (self.private_key, self.private_key_env_var),
            "refresh_token": (self.refresh_token, self.refresh_token_env_var),
        }.get(self.auth_flow, (None, ""))
        if configured is None:
            raise ValueError(f"Salesforce {self.auth_flow} flow: its secret is not configured "
                             f"({variable or 'unknown flow'})")
        client_secret = (_OAuthSecret(rotating_credential(self.client_secret,
                                                          self.secret_env_var))
                         if self.auth_flow == "refresh_token" and self.client_secret else None)
        return SalesforceOAuth(self.login_url or self.base_url, self.client_id,
                               _OAuthSecret(rotating_credential(configured, variable)),
                               flow=self.auth_flow, username=self.username,
                               client_secret=client_secret)

    def client(self) -> SalesforceClient:
        return SalesforceClient(self.base_url, self.client_id, auth=self.auth(),
                                api_version=self.api_version, budget=self.budget(),
                                policy=self.retry_policy())


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


# Resource field -> environment variable. Required ones are always bound (a launch without
# them fails naming the variable); optional ones only when set, so defaults apply otherwise.
REQUIRED = {
    "hubspot": {"access_token": "HUBSPOT_ACCESS_TOKEN"},
    "mailchimp": {"api_key": "MAILCHIMP_API_KEY", "list_id": "MAILCHIMP_LIST_ID"},
    "salesforce": {"base_url": "SALESFORCE_BASE_URL", "client_id": "SALESFORCE_CLIENT_ID"},
    "sendgrid": {"api_key": "SENDGRID_API_KEY"},
    "consent_feed": {"base_url": "CONSENT_BASE_URL", "api_key": "CONSENT_API_KEY"},
}
OPTIONAL = {
    "hubspot": {"base_url": "HUBSPOT_BASE_URL"},
    "mailchimp": {"base_url": "MAILCHIMP_BASE_URL"},
    "salesforce": {"auth_flow": "SALESFORCE_AUTH_FLOW", "client_secret": "SALESFORCE_CLIENT_SECRET",
                   "username": "SALESFORCE_USERNAME", "private_key": "SALESFORCE_PRIVATE_KEY",
                   "refresh_token": "SALESFORCE_REFRESH_TOKEN", "login_url": "SALESFORCE_LOGIN_URL",
                   "api_version": "SALESFORCE_API_VERSION"},
    "sendgrid": {"base_url": "SENDGRID_BASE_URL"},
    "consent_feed": {},
}
# A CRM read from an ELT tool's tables (EDP_HUBSPOT_SOURCE / EDP_SALESFORCE_SOURCE, see
# defs/sources/resources.py) never calls its API: its variables are bound only when set.
ELT_SOURCES = {"hubspot": "EDP_HUBSPOT_SOURCE", "salesforce": "EDP_SALESFORCE_SOURCE"}
RESOURCES = {"hubspot": HubSpotResource, "mailchimp": MailchimpResource,
             "salesforce": SalesforceResource, "sendgrid": SendGridResource,
             "consent_feed": ConsentFeedResource}


def api_unused(key: str, environ) -> bool:
    """Whether this vendor's contacts and orders come from an ELT tool, not its API."""
    return (environ.get(ELT_SOURCES.get(key, "")) or "api") != "api"


def bind_connections(environ) -> dict[str, VendorResource]:
    """Every vendor resource, its settings bound as EnvVars (read at launch)."""
    bound = {}
    for key, resource in RESOURCES.items():
        fields = {field: dg.EnvVar(variable) if environ.get(variable) or not api_unused(
                      key, environ) else "" for field, variable in REQUIRED[key].items()}
        fields |= {field: dg.EnvVar(variable) for field, variable in OPTIONAL[key].items()
                   if environ.get(variable)}
        bound[key] = resource(**fields)
    return bound
