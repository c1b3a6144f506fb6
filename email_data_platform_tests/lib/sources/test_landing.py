"""Landing logic on its own: latest version wins, cursors, quarantine, record mapping, checks."""

from datetime import UTC, datetime

import polars as pl

from email_data_platform.lib.connectors.checksum import record_checksum
from email_data_platform.lib.sources.landing import CursorStore, land, quarantine
from email_data_platform.lib.sources.records import (
    contacts_frame,
    esp_events_frame,
    mailchimp_activity_events,
    salesforce_contacts_frame,
)
from email_data_platform.lib.sources.source_checks import (
    duplicate_keys,
    source_total_mismatches,
)
from email_data_platform.lib.warehouse import DuckDBWarehouse

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def _contact(object_id: str, modified: str, city: str) -> dict:
    return {"id": object_id, "archived": False,
            "properties": {"email": f"{object_id}@x.com", "zip": "AB1", "city": city,
                           "lastmodifieddate": modified}}


def test_landing_keeps_one_row_per_record_with_the_latest_version():
    wh = DuckDBWarehouse(":memory:")
    first = contacts_frame([_contact("1", "2026-01-01T00:00:00.000Z", "Old"),
                            _contact("2", "2026-01-01T00:00:00.000Z", "Same")], "r1", NOW)
    overlap = contacts_frame([_contact("1", "2026-02-01T00:00:00.000Z", "New"),
                              _contact("1", "2026-01-15T00:00:00.000Z", "Middle")], "r2", NOW)
    land(wh, "sources.crm_contacts", first, "record_id", "updated_at")
    land(wh, "sources.crm_contacts", overlap, "record_id", "updated_at")
    table = wh.read("sources.crm_contacts").sort("record_id")
    assert table["record_id"].to_list() == ["hubspot:1", "hubspot:2"]
    assert table["city"].to_list() == ["New", "Same"]
    assert table["postal_code"].to_list() == ["AB1", "AB1"]  # zip -> postal_code
    assert duplicate_keys(wh, "sources.crm_contacts", "record_id") == 0


def test_a_column_the_mapping_gained_is_added_to_an_existing_table():
    """A warehouse created before contacts carried email_opt_out keeps landing them."""
    wh = DuckDBWarehouse(":memory:")
    older = contacts_frame([_contact("1", "2026-01-01T00:00:00.000Z", "Old")], "r1", NOW)
    land(wh, "sources.crm_contacts", older.drop("email_opt_out"), "record_id", "updated_at")
    newer = _contact("2", "2026-02-01T00:00:00.000Z", "New")
    newer["properties"]["hs_email_optout"] = "true"
    land(wh, "sources.crm_contacts", contacts_frame([newer], "r2", NOW), "record_id",
         "updated_at")
    table = wh.read("sources.crm_contacts").sort("record_id")
    assert table["email_opt_out"].to_list() == [None, "true"]
    assert set(table.columns) == set(contacts_frame([], "r", NOW).columns)


def test_cursor_store_keeps_one_mark_per_source_object():
    wh = DuckDBWarehouse(":memory:")
    cursors = CursorStore(wh)
    assert cursors.get("hubspot", "contacts") is None
    cursors.set("hubspot", "contacts", "2026-01-01T00:00:00.000Z", "r1")
    cursors.set("hubspot", "contacts", "2026-02-01T00:00:00.000Z", "r2")
    cursors.set("hubspot", "deals", "2026-03-01T00:00:00.000Z", "r2")
    assert cursors.get("hubspot", "contacts") == "2026-02-01T00:00:00.000Z"
    assert wh.row_count("sources.cursors") == 2


def test_quarantine_keeps_the_raw_record_and_the_rule():
    wh = DuckDBWarehouse(":memory:")
    bad = [{"record_key": "None", "rule": "missing_id", "reason": "record id None is missing",
            "raw": {"properties": {"email": "x@y.z"}}}]
    assert quarantine(wh, "hubspot", "sources.crm_contacts", bad, "r1") == 1
    row = wh.read("sources.quarantine").row(0, named=True)
    assert row["rule"] == "missing_id" and '"email"' in row["raw_record"]


def test_salesforce_parent_fields_flatten_and_deletions_become_archived():
    record = {"attributes": {"type": "Contact"}, "Id": "003000000000000001", "Email": "a@b.c",
              "Account": {"attributes": {"type": "Account"}, "Name": "Acme"},
              "SystemModstamp": "2026-01-01T00:00:00.000+0000", "IsDeleted": True}
    frame = salesforce_contacts_frame([record], "r1", NOW)
    assert frame.row(0, named=True) | {"company": "Acme", "archived": True,
                                       "record_id": "salesforce:003000000000000001"} == (
        frame.row(0, named=True))


def test_esp_event_ids_are_stable_and_free_of_addresses():
    recipients = [{"email_id": "abc123", "email_address": "Ann@X.com",
                   "activity": [{"action": "open", "timestamp": "2026-01-01T00:00:00+00:00"},
                                {"action": "click", "timestamp": "2026-01-01T00:01:00+00:00"}]}]
    events = mailchimp_activity_events("cmp1", recipients)
    once = esp_events_frame(events, "r1", NOW)
    twice = esp_events_frame(events, "r2", NOW)
    assert once["event_id"].to_list() == twice["event_id"].to_list()
    assert once["event_id"].n_unique() == 2
    assert not once["event_id"].str.contains("@").any()


def test_source_totals_are_compared_only_where_the_source_reports_its_size():
    wh = DuckDBWarehouse(":memory:")
    log = pl.DataFrame({
        "source": ["hubspot", "hubspot", "consent_platform"],
        "object": ["contacts", "contacts", "consent_events"], "table": ["sources.t"] * 3,
        "mode": ["full", "incremental", "incremental"], "source_total": [10, 12, 3],
        "table_active_rows": [10, 11, 40],
        "logged_at": [NOW.replace(hour=1), NOW.replace(hour=2), NOW.replace(hour=2)]})
    wh.write("sources.extraction_log", log)
    assert source_total_mismatches(wh, "sources.t") == [
        {"source": "hubspot", "object": "contacts", "source_total": 12, "warehouse_rows": 11}]


def test_checksum_ignores_order_and_sees_any_changed_version():
    ids, versions = pl.Series(["1", "2", "3"]), pl.Series(["a", "b", None])
    assert record_checksum(ids, versions) == record_checksum(ids.reverse(), versions.reverse())
    assert record_checksum(ids, versions) != record_checksum(ids, pl.Series(["a", "b", "c"]))
