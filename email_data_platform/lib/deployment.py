"""Which environment the platform runs in, and what production needs before it may start.

`EDP_ENV=local` (default): the vendor simulators and an embedded DuckDB file. `EDP_ENV=prod`:
the configured warehouse, the vendors' real URLs, Dagster's storage in Postgres. Production
refuses to start when a variable it needs is missing, naming every missing one (never a value).
"""

from collections.abc import Mapping

ENVIRONMENTS = ("local", "prod")

# Dagster's own storage (dagster.prod.yaml) and the warehouse choice.
_PLATFORM = ("DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_HOST", "DAGSTER_PG_PORT",
             "DAGSTER_PG_DB", "EDP_HOME", "EDP_WAREHOUSE",
             # privacy keys: a local keyfile is never acceptable in production
             "EDP_PSEUDONYM_KEYS", "EDP_AUDIT_KEYS", "EDP_PII_KEYS")
_WAREHOUSE = {
    "duckdb": ("EDP_WAREHOUSE_PATH",),
    "snowflake": ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_DATABASE",
                  "SNOWFLAKE_PASSWORD|SNOWFLAKE_PRIVATE_KEY"),
    "bigquery": ("BIGQUERY_PROJECT",),
}
_VENDORS = ("HUBSPOT_ACCESS_TOKEN", "MAILCHIMP_API_KEY", "MAILCHIMP_LIST_ID", "SENDGRID_API_KEY",
            "CONSENT_BASE_URL", "CONSENT_API_KEY", "SALESFORCE_BASE_URL", "SALESFORCE_CLIENT_ID")
_SALESFORCE_FLOWS = {
    "client_credentials": ("SALESFORCE_CLIENT_SECRET",),
    "jwt_bearer": ("SALESFORCE_USERNAME", "SALESFORCE_PRIVATE_KEY"),
    "refresh_token": ("SALESFORCE_REFRESH_TOKEN",),
}

# A CRM read from an ELT tool's tables (defs/sources/resources.py) never calls its API, so none
# of that API's variables is needed.
_ELT_SOURCES = {"EDP_HUBSPOT_SOURCE": "HUBSPOT_", "EDP_SALESFORCE_SOURCE": "SALESFORCE_"}


class MissingConfigurationError(RuntimeError):
    """Production was asked to start without a variable it needs."""


def environment(environ: Mapping[str, str]) -> str:
    env = environ.get("EDP_ENV") or "local"
    if env not in ENVIRONMENTS:
        raise MissingConfigurationError(f"EDP_ENV must be one of {', '.join(ENVIRONMENTS)}, "
                                        f"not {env!r}")
    return env


def required_variables(environ: Mapping[str, str]) -> list[str]:
    """What production needs, given the warehouse and Salesforce flow chosen (`A|B`: either)."""
    warehouse = environ.get("EDP_WAREHOUSE") or "duckdb"
    flow = environ.get("SALESFORCE_AUTH_FLOW") or "client_credentials"
    if warehouse not in _WAREHOUSE:
        raise MissingConfigurationError(f"EDP_WAREHOUSE must be one of {', '.join(_WAREHOUSE)}, "
                                        f"not {warehouse!r}")
    if flow not in _SALESFORCE_FLOWS:
        raise MissingConfigurationError(f"SALESFORCE_AUTH_FLOW must be one of "
                                        f"{', '.join(_SALESFORCE_FLOWS)}, not {flow!r}")
    unused = tuple(prefix for source, prefix in _ELT_SOURCES.items()
                   if (environ.get(source) or "api") != "api")
    return [need for need in (*_PLATFORM, *_WAREHOUSE[warehouse], *_VENDORS,
                              *_SALESFORCE_FLOWS[flow]) if not need.startswith(unused)]


def missing_variables(environ: Mapping[str, str]) -> list[str]:
    return [need for need in required_variables(environ)
            if not any(environ.get(name) for name in need.split("|"))]


def check_environment(environ: Mapping[str, str]) -> str:
    """The environment name; in prod, raise naming every missing variable."""
    env = environment(environ)
    if env == "prod":
        missing = missing_variables(environ)
        if missing:
            raise MissingConfigurationError(
                "EDP_ENV=prod refuses to start: missing " + ", ".join(
                    name.replace("|", " or ") for name in missing)
                + " (see .env.example)")
    return env
