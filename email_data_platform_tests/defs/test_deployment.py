"""EDP_ENV: local needs nothing; prod refuses to load without a variable it needs, naming it."""

import pytest

from email_data_platform.defs.connections import bind_connections
from email_data_platform.defs.warehouse import warehouse_resource
from email_data_platform.lib.deployment import (
    MissingConfigurationError,
    check_environment,
    missing_variables,
)

PROD = {
    "EDP_ENV": "prod", "EDP_HOME": "/data/edp", "EDP_WAREHOUSE": "snowflake",
    "DAGSTER_PG_USERNAME": "dagster", "DAGSTER_PG_PASSWORD": "pw", "DAGSTER_PG_HOST": "pg",
    "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_DB": "dagster",
    "SNOWFLAKE_ACCOUNT": "acme-xy123", "SNOWFLAKE_USER": "edp", "SNOWFLAKE_DATABASE": "marketing",
    "SNOWFLAKE_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----",
    "HUBSPOT_ACCESS_TOKEN": "pat-eu1-x", "MAILCHIMP_API_KEY": "k-us21", "MAILCHIMP_LIST_ID": "l1",
    "SENDGRID_API_KEY": "SG.x", "CONSENT_BASE_URL": "https://consent.example",
    "CONSENT_API_KEY": "c", "SALESFORCE_BASE_URL": "https://acme.my.salesforce.com",
    "SALESFORCE_CLIENT_ID": "cid", "SALESFORCE_AUTH_FLOW": "jwt_bearer",
    "SALESFORCE_USERNAME": "edp@acme.com", "SALESFORCE_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----",
    "EDP_PSEUDONYM_KEYS": "p1=" + "p" * 32, "EDP_AUDIT_KEYS": "a1=" + "a" * 32,
    "EDP_PII_KEYS": "c1=" + "A" * 43 + "=",
}


def test_local_needs_nothing():
    assert check_environment({}) == "local"


def test_complete_prod_environment_starts():
    assert check_environment(PROD) == "prod"


@pytest.mark.parametrize("variable", ["DAGSTER_PG_PASSWORD", "SNOWFLAKE_ACCOUNT",
                                      "SALESFORCE_USERNAME", "MAILCHIMP_LIST_ID",
                                      "EDP_PSEUDONYM_KEYS", "EDP_AUDIT_KEYS", "EDP_PII_KEYS"])
def test_prod_refuses_to_start_naming_the_missing_variable(variable):
    environ = {k: v for k, v in PROD.items() if k != variable}
    with pytest.raises(MissingConfigurationError, match=variable) as refused:
        check_environment(environ)
    assert "pat-eu1-x" not in str(refused.value)  # names, never values


def test_either_snowflake_secret_will_do():
    environ = {k: v for k, v in PROD.items() if k != "SNOWFLAKE_PRIVATE_KEY"}
    assert missing_variables(environ) == ["SNOWFLAKE_PASSWORD|SNOWFLAKE_PRIVATE_KEY"]
    assert missing_variables(environ | {"SNOWFLAKE_PASSWORD": "pw"}) == []


def test_what_prod_needs_follows_the_warehouse_and_salesforce_flow():
    bigquery = {k: v for k, v in PROD.items() if not k.startswith("SNOWFLAKE")}
    assert missing_variables(bigquery | {"EDP_WAREHOUSE": "bigquery"}) == ["BIGQUERY_PROJECT"]
    assert missing_variables(PROD | {"SALESFORCE_AUTH_FLOW": "refresh_token"}) == [
        "SALESFORCE_REFRESH_TOKEN"]


def test_unknown_choices_are_refused():
    with pytest.raises(MissingConfigurationError, match="EDP_ENV"):
        check_environment({"EDP_ENV": "staging"})
    with pytest.raises(MissingConfigurationError, match="EDP_WAREHOUSE"):
        check_environment(PROD | {"EDP_WAREHOUSE": "oracle"})


def test_warehouse_binding_follows_edp_warehouse():
    assert warehouse_resource({}).kind == "duckdb"
    snowflake = warehouse_resource({"EDP_WAREHOUSE": "snowflake", "SNOWFLAKE_ACCOUNT": "a"})
    assert snowflake.kind == "snowflake"
    with pytest.raises(ValueError, match="EDP_WAREHOUSE"):
        warehouse_resource({"EDP_WAREHOUSE": "oracle"})


def test_vendor_urls_default_to_the_real_ones_unless_set():
    bound = bind_connections({})
    assert bound["hubspot"].base_url == "https://api.hubapi.com"
    assert bound["sendgrid"].base_url == "https://api.sendgrid.com"
    assert bound["mailchimp"].base_url == ""  # from the key's datacenter
