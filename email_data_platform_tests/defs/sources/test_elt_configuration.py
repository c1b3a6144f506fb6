"""A CRM read from an ELT tool needs none of its API's variables: production starts without
them, the run binds no EnvVar for them, and `edp connections check` checks the tool's tables
in the configured warehouse instead of calling the API."""

import dagster as dg
import pytest

from email_data_platform.cli.connections import check_connections
from email_data_platform.defs.connections import bind_connections
from email_data_platform.lib.deployment import check_environment, missing_variables
from email_data_platform_tests.defs.sources.test_elt_sources_assets import _fivetran_fixture
from email_data_platform_tests.defs.test_deployment import PROD

HUBSPOT_API = ("HUBSPOT_ACCESS_TOKEN",)
SALESFORCE_API = ("SALESFORCE_BASE_URL", "SALESFORCE_CLIENT_ID", "SALESFORCE_USERNAME",
                  "SALESFORCE_PRIVATE_KEY", "SALESFORCE_AUTH_FLOW")


def _without(environ: dict, names) -> dict:
    return {k: v for k, v in environ.items() if k not in names}


def test_prod_starts_without_the_api_variables_of_a_crm_read_from_a_tool():
    bare = _without(PROD, HUBSPOT_API + SALESFORCE_API)
    assert missing_variables(bare) == ["HUBSPOT_ACCESS_TOKEN", "SALESFORCE_BASE_URL",
                                       "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET"]
    assert check_environment(bare | {"EDP_HUBSPOT_SOURCE": "fivetran",
                                     "EDP_SALESFORCE_SOURCE": "fivetran"}) == "prod"
    assert missing_variables(bare | {"EDP_HUBSPOT_SOURCE": "airbyte"}) == [
        "SALESFORCE_BASE_URL", "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET"]


def test_a_crm_read_from_a_tool_binds_its_api_variables_only_when_set():
    bound = bind_connections({"EDP_HUBSPOT_SOURCE": "fivetran"})
    assert bound["hubspot"].access_token == ""
    assert isinstance(bound["salesforce"].client_id, dg.EnvVar)  # still on its API
    on_api = bind_connections({"EDP_HUBSPOT_SOURCE": "api"})
    assert isinstance(on_api["hubspot"].access_token, dg.EnvVar)
    set_anyway = bind_connections({"EDP_HUBSPOT_SOURCE": "fivetran",
                                   "HUBSPOT_ACCESS_TOKEN": "t"})
    assert isinstance(set_anyway["hubspot"].access_token, dg.EnvVar)


def test_connections_check_reads_the_tools_tables(tmp_path, monkeypatch):
    path = tmp_path / "wh.duckdb"
    _fivetran_fixture(path)
    for name in HUBSPOT_API + SALESFORCE_API + ("EDP_WAREHOUSE",):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EDP_WAREHOUSE_PATH", str(path))
    monkeypatch.setenv("EDP_HUBSPOT_SOURCE", "fivetran")
    monkeypatch.setenv("EDP_SALESFORCE_SOURCE", "fivetran")
    results = {r.connection: r for r in check_connections(["hubspot", "salesforce"])}
    assert results["hubspot"].ok and results["salesforce"].ok
    assert results["hubspot"].detail == ("fivetran tables readable: hubspot.contact (1 live), "
                                         "hubspot.deal (1 live); the API is not called")
    monkeypatch.setenv("EDP_SALESFORCE_ELT_SCHEMA", "nowhere")
    failed = check_connections(["salesforce"])[0]
    assert not failed.ok and "nowhere.contact cannot be read" in failed.detail


@pytest.fixture(autouse=True)
def _no_prod(monkeypatch):
    monkeypatch.delenv("EDP_ENV", raising=False)
