"""Tables Fivetran or Airbyte landed become the same raw rows the API pulls write, read
incrementally on the tool's sync time."""

from datetime import UTC, datetime

import polars as pl
import pytest

from email_data_platform.lib.sources import elt
from email_data_platform.lib.sources.records import (
    contacts_frame,
    orders_frame,
    salesforce_contacts_frame,
    salesforce_orders_frame,
)
from email_data_platform.lib.warehouse import DuckDBWarehouse

RUN, AT = "run-1", datetime(2026, 11, 30, 12, tzinfo=UTC)
SYNC_1, SYNC_2 = datetime(2026, 11, 29, 1), datetime(2026, 11, 30, 1)

# The same two HubSpot contacts as the API returns them ...
API_CONTACTS = [
    {"id": "101", "archived": False, "properties": {
        "firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.com",
        "phone": "+44 20 7946 0000", "zip": "N1 9GU", "city": "London", "country": "GB",
        "company": None, "date_of_birth": "1990-12-10", "createdate": "2026-01-02T03:04:05Z",
        "lastmodifieddate": "2026-11-28T10:00:00Z", "hs_email_optout": "true"}},
    {"id": "102", "archived": True, "properties": {
        "firstname": "Alan", "lastname": "Turing", "email": None, "phone": None, "zip": None,
        "city": None, "country": None, "company": "Acme", "date_of_birth": None,
        "createdate": "2026-02-02T00:00:00Z", "lastmodifieddate": "2026-11-29T10:00:00Z",
        "hs_email_optout": "false"}},
]


def _typed(name: str, value):
    """Fivetran types HubSpot's boolean properties (the API sends "true"/"false")."""
    return value == "true" if name == "hs_email_optout" else value


def fivetran_contact_rows() -> pl.DataFrame:
    """... and as Fivetran lands them in `hubspot.contact`."""
    rows = [{"id": int(c["id"]), "_fivetran_deleted": c["archived"], "_fivetran_synced": sync,
             **{f"property_{k}": _typed(k, v) for k, v in c["properties"].items()}}
            for c, sync in zip(API_CONTACTS, [SYNC_1, SYNC_2], strict=True)]
    return pl.DataFrame(rows)


def airbyte_contact_rows() -> pl.DataFrame:
    rows = [{"id": c["id"], "archived": c["archived"], "_airbyte_extracted_at": SYNC_1,
             **{f"properties_{k}": v for k, v in c["properties"].items()}}
            for c in API_CONTACTS]
    return pl.DataFrame(rows)


@pytest.mark.parametrize("table, rows", [(elt.fivetran("hubspot", "contacts"),
                                          fivetran_contact_rows()),
                                         (elt.airbyte("contacts"), airbyte_contact_rows())])
def test_hubspot_contacts_map_to_the_rows_the_api_pull_writes(table, rows):
    landed = elt.to_raw(table, rows, RUN, AT)
    assert landed.equals(contacts_frame(API_CONTACTS, RUN, AT))
    assert landed["email_opt_out"].to_list() == ["true", "false"]


def test_hubspot_deals_keep_their_contact_from_either_tool():
    api = [{"id": "9", "archived": False, "properties": {
        "amount": "120.50", "deal_currency_code": "EUR", "closedate": "2026-11-01T00:00:00Z",
        "dealstage": "closedwon", "hs_lastmodifieddate": "2026-11-02T00:00:00Z"}}]
    expected = orders_frame(api, {"9": "101"}, RUN, AT)
    props = api[0]["properties"]
    fivetran = pl.DataFrame([{"id": 9, "is_deleted": False, "_fivetran_synced": SYNC_1,
                              **{f"property_{k}": v for k, v in props.items()}}])
    links = elt.fivetran_deal_contacts(pl.DataFrame({"deal_id": [9, 9], "contact_id": [101, 205]}))
    assert elt.to_raw(elt.fivetran("hubspot", "orders"), fivetran, RUN, AT, links).equals(expected)
    airbyte = pl.DataFrame([{"id": "9", "archived": False, "contacts": ["101"],
                             "_airbyte_extracted_at": SYNC_1,
                             **{f"properties_{k}": v for k, v in props.items()}}])
    assert elt.to_raw(elt.airbyte("orders"), airbyte, RUN, AT).equals(expected)


def test_salesforce_contacts_and_opportunities_from_fivetran():
    api_contact = {"Id": "003000000000001AAA", "FirstName": "Grace", "LastName": "Hopper",
                   "Email": "grace@example.com", "Phone": None, "Birthdate": "1906-12-09",
                   "MailingCity": "New York", "MailingPostalCode": "10001",
                   "MailingCountry": "US", "Account": {"Name": "0010000000000AAA"},
                   "CreatedDate": "2026-01-01T00:00:00Z",
                   "SystemModstamp": "2026-11-28T00:00:00Z", "IsDeleted": False,
                   "HasOptedOutOfEmail": True}
    fivetran_contact = pl.DataFrame([{
        "id": "003000000000001AAA", "first_name": "Grace", "last_name": "Hopper",
        "email": "grace@example.com", "phone": None, "birthdate": "1906-12-09",
        "mailing_city": "New York", "mailing_postal_code": "10001", "mailing_country": "US",
        "account_name": "0010000000000AAA", "created_date": "2026-01-01T00:00:00Z",
        "system_modstamp": "2026-11-28T00:00:00Z", "is_deleted": False,
        "has_opted_out_of_email": True, "_fivetran_synced": SYNC_1}])
    landed = elt.to_raw(elt.fivetran("salesforce", "contacts"), fivetran_contact, RUN, AT)
    assert landed.equals(salesforce_contacts_frame([api_contact], RUN, AT))
    assert landed["email_opt_out"].to_list() == ["true"]
    api_opportunity = {"Id": "006000000000001AAA", "Amount": "99.0", "CurrencyIsoCode": "USD",
                       "CloseDate": "2026-10-01", "StageName": "Closed Won",
                       "ContactId": "003000000000001AAA",
                       "SystemModstamp": "2026-11-28T00:00:00Z", "IsDeleted": True}
    fivetran_opportunity = pl.DataFrame([{
        "id": "006000000000001AAA", "amount": "99.0", "currency_iso_code": "USD",
        "close_date": "2026-10-01", "stage_name": "Closed Won",
        "contact_id": "003000000000001AAA", "system_modstamp": "2026-11-28T00:00:00Z",
        "_fivetran_deleted": True, "_fivetran_synced": SYNC_1}])
    assert elt.to_raw(elt.fivetran("salesforce", "orders"), fivetran_opportunity, RUN,
                      AT).equals(salesforce_orders_frame([api_opportunity], RUN, AT))


def test_reads_are_incremental_on_the_sync_time(tmp_path):
    table = elt.fivetran("hubspot", "contacts")
    with DuckDBWarehouse(tmp_path / "wh.duckdb") as wh:
        wh.replace(table.table, fivetran_contact_rows())
        first = elt.read_since(wh, table, None)
        cursor = elt.next_cursor(first, table, None)
        assert first.height == 2 and cursor == SYNC_2
        assert elt.read_since(wh, table, SYNC_1)["id"].to_list() == [102]
        again = elt.read_since(wh, table, cursor)
        assert again.height == 0 and elt.next_cursor(again, table, cursor) == cursor
