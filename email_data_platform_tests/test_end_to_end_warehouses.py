"""The whole asset graph on Snowflake (fakesnow's server) and BigQuery (the local emulator), with
the same assertions as the DuckDB end-to-end test (`test_end_to_end.py`, imported here).

Identity computes in a local DuckDB workspace and publishes its tables back to the warehouse;
everything else reads and writes the cloud warehouse through the warehouse interface.
"""

import time

import dagster as dg
import pytest

from email_data_platform.cli.run import materialise
from email_data_platform.cli.sandbox_process import sandbox_env
from email_data_platform.cli.summary import summarise
from email_data_platform.lib.connectors.mailchimp import MailchimpClient
from email_data_platform.lib.warehouse import open_warehouse
from email_data_platform.sandbox.generator import DEFAULT_AS_OF, generate_dataset, write_dataset
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests import test_end_to_end as on_duckdb
from email_data_platform_tests.test_end_to_end import CONTACTS, environment
from email_data_platform_tests.warehouse_servers import (
    bigquery_emulator_settings,
    fakesnow_settings,
)

pytestmark = pytest.mark.slow

# The DuckDB end-to-end test's assertions, each run here against the cloud warehouse's `run`.
test_every_asset_materialises_and_every_blocking_check_passes = (
    on_duckdb.test_every_asset_materialises_and_every_blocking_check_passes)
test_raw_rows_are_clean_or_quarantined = on_duckdb.test_raw_rows_are_clean_or_quarantined
test_every_clean_record_has_one_entity = on_duckdb.test_every_clean_record_has_one_entity
test_no_address_without_its_own_current_consent_reached_the_esp = (
    on_duckdb.test_no_address_without_its_own_current_consent_reached_the_esp)
test_esp_holds_exactly_the_pushed_members = on_duckdb.test_esp_holds_exactly_the_pushed_members
test_reconciliation_agrees = on_duckdb.test_reconciliation_agrees
test_no_table_tagged_non_pii_holds_an_email_phone_or_name_column = (
    on_duckdb.test_no_table_tagged_non_pii_holds_an_email_phone_or_name_column)
test_simulators_journaled_the_requests = on_duckdb.test_simulators_journaled_the_requests


def warehouse_env(kind: str, settings) -> dict[str, str]:
    if kind == "snowflake":
        args = settings.connection_args
        return {"EDP_WAREHOUSE": "snowflake", "SNOWFLAKE_ACCOUNT": settings.account,
                "SNOWFLAKE_USER": settings.user, "SNOWFLAKE_PASSWORD": settings.password,
                "SNOWFLAKE_DATABASE": settings.database, "SNOWFLAKE_HOST": args["host"],
                "SNOWFLAKE_PORT": str(args["port"]), "SNOWFLAKE_PROTOCOL": args["protocol"]}
    return {"EDP_WAREHOUSE": "bigquery", "BIGQUERY_PROJECT": settings.project,
            "BIGQUERY_API_ENDPOINT": settings.api_endpoint,
            "BIGQUERY_LOAD_FORMAT": settings.load_format}


@pytest.fixture(scope="module", params=["snowflake", "bigquery"])
def run(request, tmp_path_factory):
    """The whole graph materialised into the cloud warehouse's stand-in; the ESP's members read
    while the simulators still run."""
    home = tmp_path_factory.mktemp(f"edp_{request.param}")
    dataset = generate_dataset(CONTACTS, seed=7)
    write_dataset(dataset, home / "data")
    servers = fakesnow_settings() if request.param == "snowflake" else bigquery_emulator_settings()
    with servers as settings, running_sandbox(home / "data", home / "journal.jsonl") as info:
        env = sandbox_env(info) | warehouse_env(request.param, settings) | {
            "EDP_HOME": str(home), "EDP_ALERT_WEBHOOK_URL": "",
            "EDP_TRUTH_PATH": str(home / "data" / "truth.parquet"),
            "EDP_AS_OF": DEFAULT_AS_OF.isoformat(),  # as the DuckDB end-to-end test
        }
        started = time.perf_counter()
        with environment(env), dg.DagsterInstance.ephemeral() as instance:
            result, keys = materialise(None, instance)
            summary = summarise(result, keys, instance)
        print(f"whole graph on {request.param}: {time.perf_counter() - started:.0f} s")
        client = MailchimpClient(info["mailchimp"]["base_url"], info["mailchimp"]["api_key"])
        try:
            members = list(client.iter_members(info["mailchimp"]["list_id"]))
        finally:
            client.close()
        warehouse = open_warehouse(request.param, snowflake=settings, bigquery=settings)
        yield {"summary": summary, "warehouse": warehouse, "members": members,
               "dataset": dataset, "home": home, "kind": request.param, "env": env}
        warehouse.close()


def test_cursors_and_extraction_log_live_in_the_warehouse(run):
    wh = run["warehouse"]
    assert wh.read("sources.crm_contacts").height == CONTACTS
    assert wh.exists("sources.cursors") and wh.row_count("sources.cursors") > 0


def test_identity_tables_were_published_to_the_warehouse(run):
    wh = run["warehouse"]
    tables = set(wh.tables("identity"))
    assert {"identity.splink_model", "identity.match_pairs", "identity.entities",
            "identity.golden_profiles", "identity.blocking_keys"} <= tables
    assert not [t for t in tables if "__staging_" in t]


def test_a_second_identity_run_is_incremental_and_keeps_every_entity_id(run):
    """The published identity tables read back exactly: profile times still match the entities'
    (an empty delta, so an incremental link), and every record keeps its entity id."""
    wh = run["warehouse"]
    before = wh.read("identity.entities").select("record_id", "entity_id").sort("record_id")
    with environment(run["env"]), dg.DagsterInstance.ephemeral() as instance:
        result, keys = materialise("key:identity/*", instance)
        summary = summarise(result, keys, instance)
    assert summary.ok, summary.failures
    state = wh.read("identity.link_state").row(0, named=True)
    assert (state["mode"], state["delta_records"]) == ("incremental", 0)
    after = wh.read("identity.entities").select("record_id", "entity_id").sort("record_id")
    assert after.equals(before)
