"""The CRM sources assets read Fivetran's or Airbyte's tables when configured to: the real
assets materialised over small fixtures in those tools' schemas in a DuckDB warehouse, with the
API resources pointing nowhere (a call would fail the run)."""

from datetime import UTC, datetime

import dagster as dg
import polars as pl
import pytest

from email_data_platform.defs.sources.resources import (
    CrmSourcesResource,
    crm_sources_resource,
)
from email_data_platform.lib.sources import elt
from email_data_platform.lib.sources.records import (
    contacts_frame,
    salesforce_contacts_frame,
)
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform_tests.defs.sources.sources_helpers import (
    crm_contacts,
    crm_orders,
    materialize,
    metadata,
    read,
)
from email_data_platform_tests.lib.sources.test_elt_sources import (
    API_CONTACTS,
    SYNC_1,
    SYNC_2,
    airbyte_contact_rows,
    fivetran_contact_rows,
)

# Nothing listens there: an API call would fail the run.
NOWHERE = {"hubspot": {"base_url": "http://127.0.0.1:9", "access_token": "unused"},
           "salesforce": {"base_url": "http://127.0.0.1:9", "client_id": "unused",
                          "client_secret": "unused"},
           "mailchimp": {"base_url": "http://127.0.0.1:9", "api_key": "x-us1", "list_id": "l"},
           "sendgrid": {"base_url": "http://127.0.0.1:9", "api_key": "unused"},
           "consent": {"base_url": "http://127.0.0.1:9", "api_key": "unused"}}
SYNC_3 = datetime(2026, 12, 1, 1)

SALESFORCE_CONTACT = {
    "id": "003000000000001AAA", "first_name": "Grace", "last_name": "Hopper",
    "email": "grace@example.com", "phone": None, "birthdate": "1906-12-09",
    "mailing_city": "New York", "mailing_postal_code": "10001", "mailing_country": "US",
    "account_name": "Navy", "created_date": "2026-01-01T00:00:00Z",
    "system_modstamp": "2026-11-28T00:00:00Z", "is_deleted": False,
    "has_opted_out_of_email": True, "_fivetran_deleted": False, "_fivetran_synced": SYNC_1}
API_SALESFORCE_CONTACT = {
    "Id": "003000000000001AAA", "FirstName": "Grace", "LastName": "Hopper",
    "Email": "grace@example.com", "Phone": None, "Birthdate": "1906-12-09",
    "MailingCity": "New York", "MailingPostalCode": "10001", "MailingCountry": "US",
    "Account": {"Name": "Navy"}, "CreatedDate": "2026-01-01T00:00:00Z",
    "SystemModstamp": "2026-11-28T00:00:00Z", "IsDeleted": False, "HasOptedOutOfEmail": True}
DEAL = {"amount": "120.50", "deal_currency_code": "EUR", "closedate": "2026-11-01T00:00:00Z",
        "dealstage": "closedwon", "hs_lastmodifieddate": "2026-11-02T00:00:00Z"}
OPPORTUNITY = {"id": "006000000000001AAA", "amount": "99.0", "currency_iso_code": "USD",
               "close_date": "2026-10-01", "stage_name": "Closed Won",
               "contact_id": "003000000000001AAA", "system_modstamp": "2026-11-28T00:00:00Z",
               "is_deleted": False, "_fivetran_deleted": False, "_fivetran_synced": SYNC_1}


def _write(path, tables: dict[str, pl.DataFrame]) -> None:
    with DuckDBWarehouse(path) as wh:
        for name, frame in tables.items():
            wh.replace(name, frame)


def _fivetran_fixture(path) -> None:
    _write(path, {
        "hubspot.contact": fivetran_contact_rows(),
        "hubspot.deal": pl.DataFrame([{"id": 9, "is_deleted": False, "_fivetran_deleted": False,
                                       "_fivetran_synced": SYNC_1,
                                       **{f"property_{k}": v for k, v in DEAL.items()}}]),
        "hubspot.deal_contact": pl.DataFrame({"deal_id": [9], "contact_id": [101]}),
        "salesforce.contact": pl.DataFrame([SALESFORCE_CONTACT]),
        "salesforce.opportunity": pl.DataFrame([OPPORTUNITY]),
    })


def _run(path, assets, sources: CrmSourcesResource, **kwargs) -> dg.ExecuteInProcessResult:
    return materialize(NOWHERE, path, assets, crm_sources=sources, **kwargs)


FIVETRAN = CrmSourcesResource(hubspot="fivetran", salesforce="fivetran")


def test_fivetran_tables_land_the_rows_the_api_pulls_write(tmp_path):
    path = tmp_path / "wh.duckdb"
    _fivetran_fixture(path)
    result = _run(path, [crm_contacts, crm_orders], FIVETRAN)
    contacts = read(path, "sources.crm_contacts").sort("record_id")
    run_id = contacts["run_id"][0]
    expected = pl.concat([contacts_frame(API_CONTACTS, run_id, datetime.now(UTC)),
                          salesforce_contacts_frame([API_SALESFORCE_CONTACT], run_id,
                                                    datetime.now(UTC))]).sort("record_id")
    assert contacts.drop("extracted_at").equals(expected.drop("extracted_at"))
    orders = read(path, "sources.crm_orders").sort("order_record_id")
    assert orders["contact_record_id"].to_list() == ["hubspot:101",
                                                     "salesforce:003000000000001AAA"]
    meta = metadata(result, "sources/crm_contacts")
    assert (meta["hubspot_via"], meta["salesforce_via"]) == ("fivetran", "fivetran")
    assert (meta["hubspot_mode"], meta["hubspot_rows_landed"]) == ("full", 2)
    assert meta["hubspot_source_total"] == 1 and meta["hubspot_active_rows"] == 1  # one deleted
    assert meta["hubspot_cursor_after"] == SYNC_2.isoformat()
    log = read(path, "sources.extraction_log")
    assert sorted(zip(log["source"], log["object"], strict=True)) == [
        ("hubspot", "contacts"), ("hubspot", "deals"), ("salesforce", "contacts"),
        ("salesforce", "opportunities")]
    cursors = read(path, "sources.cursors")
    assert set(cursors["source"]) == {"fivetran:hubspot", "fivetran:salesforce"}
    verdicts = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert len(verdicts) == 4 and all(verdicts.values())


def test_the_next_run_reads_only_rows_synced_after_the_cursor(tmp_path):
    path = tmp_path / "wh.duckdb"
    _fivetran_fixture(path)
    _run(path, [crm_contacts], FIVETRAN)
    with DuckDBWarehouse(path) as wh:  # Fivetran syncs an edit of contact 101
        wh.execute("update hubspot.contact set property_city = 'Paris', "
                   "property_lastmodifieddate = '2026-11-30T09:00:00Z', _fivetran_synced = ? "
                   "where id = 101", [SYNC_3])
    result = _run(path, [crm_contacts], FIVETRAN, config={"overlap_seconds": 0})
    meta = metadata(result, "sources/crm_contacts")
    assert (meta["hubspot_mode"], meta["hubspot_rows_fetched"]) == ("incremental", 1)
    assert meta["salesforce_rows_fetched"] == 0
    assert (meta["hubspot_cursor_before"], meta["hubspot_cursor_after"]) == (
        SYNC_2.isoformat(), SYNC_3.isoformat())
    contacts = read(path, "sources.crm_contacts")
    assert contacts.height == 3 and contacts["record_id"].is_unique().all()
    assert contacts.filter(pl.col("record_id") == "hubspot:101")["city"].to_list() == ["Paris"]
    verdicts = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert all(verdicts.values())
    # with the default overlap (60 s) rows synced in the minute up to the cursor are read again
    # (contact 101, synced at the cursor): it collapses on its key and the cursor stays
    again = metadata(_run(path, [crm_contacts], FIVETRAN), "sources/crm_contacts")
    assert (again["hubspot_rows_fetched"], again["hubspot_cursor_after"]) == (
        1, SYNC_3.isoformat())
    assert read(path, "sources.crm_contacts").height == 3


def test_airbyte_hubspot_with_salesforce_from_its_api_left_alone(tmp_path):
    """Airbyte for HubSpot; Salesforce on `api` calls its (here unreachable) API and fails."""
    path = tmp_path / "wh.duckdb"
    deals = pl.DataFrame([{"id": "9", "archived": False, "contacts": ["101"],
                           "_airbyte_extracted_at": SYNC_1,
                           **{f"properties_{k}": v for k, v in DEAL.items()}}])
    _write(path, {"airbyte_hubspot.contacts": airbyte_contact_rows(),
                  "crm_sync.deals": deals})
    sources = CrmSourcesResource(hubspot="airbyte", salesforce="fivetran",
                                 salesforce_schema="sf")
    _write(path, {"sf.contact": pl.DataFrame([SALESFORCE_CONTACT]),
                  "sf.opportunity": pl.DataFrame([OPPORTUNITY])})
    _run(path, [crm_contacts], sources)
    assert read(path, "sources.crm_contacts").height == 3
    _run(path, [crm_orders], CrmSourcesResource(hubspot="airbyte", hubspot_schema="crm_sync",
                                                salesforce="fivetran", salesforce_schema="sf"))
    assert read(path, "sources.crm_orders")["contact_record_id"].to_list() == [
        "hubspot:101", "salesforce:003000000000001AAA"]
    on_api = _run(path, [crm_orders], CrmSourcesResource(hubspot="airbyte",
                                                          hubspot_schema="crm_sync"),
                  raise_on_error=False)
    assert not on_api.success  # Salesforce stayed on its API, which is unreachable here


def test_a_backfill_partition_reads_the_records_modified_that_day(tmp_path):
    path = tmp_path / "wh.duckdb"
    _fivetran_fixture(path)
    result = _run(path, [crm_contacts], FIVETRAN, partition_key="2026-11-29")
    meta = metadata(result, "sources/crm_contacts")
    assert meta["hubspot_mode"] == "window" and meta["hubspot_rows_landed"] == 1  # contact 102
    assert read(path, "sources.crm_contacts")["record_id"].to_list() == ["hubspot:102"]
    assert meta["hubspot_cursor_after"] == ""  # the cursor is left alone


def test_an_unknown_tool_or_a_missing_table_fails_clearly(tmp_path):
    with pytest.raises(elt.EltConfigurationError, match="EDP_HUBSPOT_SOURCE must be one of"):
        crm_sources_resource({"EDP_HUBSPOT_SOURCE": "stitch"})
    with pytest.raises(elt.EltConfigurationError, match="EDP_SALESFORCE_SOURCE"):
        crm_sources_resource({"EDP_SALESFORCE_SOURCE": "airbyte"})
    bound = crm_sources_resource({"EDP_HUBSPOT_SOURCE": "fivetran",
                                  "EDP_HUBSPOT_ELT_SCHEMA": "hs"})
    assert isinstance(bound.hubspot, dg.EnvVar) and isinstance(bound.hubspot_schema, dg.EnvVar)
    path = tmp_path / "wh.duckdb"
    _write(path, {"other.t": pl.DataFrame({"a": [1]})})
    bad = _run(path, [crm_contacts], CrmSourcesResource(hubspot="stitch"),
               raise_on_error=False)
    assert not bad.success
    assert "EDP_HUBSPOT_SOURCE must be one of api, fivetran, airbyte, not 'stitch'" in str(
        bad.all_events)
    missing = _run(path, [crm_contacts], FIVETRAN, raise_on_error=False)
    assert not missing.success
    assert "table hubspot.contact cannot be read" in str(missing.all_events)
