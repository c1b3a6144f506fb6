"""The sources assets: full, incremental, backfill, crash-resume and quarantine behaviour."""

import dagster as dg
import httpx
import polars as pl
import pytest

from email_data_platform.sandbox.faults import FaultConfig
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.defs.sources.sources_helpers import (
    consent_raw,
    crm_contacts,
    crm_orders,
    esp_events,
    hubspot_client,
    materialize,
    metadata,
    read,
    resources,
    salesforce_client,
)
from email_data_platform_tests.sandbox.sandbox_helpers import admin, write_small_dataset


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_small_dataset(tmp_path_factory.mktemp("sources_data"), contacts=800, seed=11)


@pytest.fixture
def sandbox(data_dir, tmp_path):
    with running_sandbox(data_dir, tmp_path / "journal.jsonl") as info:
        yield info


def test_first_run_lands_every_source_and_matches_the_simulators(sandbox, data_dir, tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    result = materialize(sandbox, warehouse)
    stats = admin(sandbox, "hubspot", "stats")
    contacts, orders = metadata(result, "sources/crm_contacts"), metadata(result,
                                                                         "sources/crm_orders")
    assert (contacts["hubspot_mode"], contacts["dagster/row_count"]) == ("full", 800)
    assert contacts["hubspot_checksum"] == stats["contacts"]["checksum"]
    assert contacts["hubspot_source_total"] == 800
    assert orders["hubspot_checksum"] == stats["deals"]["checksum"]
    consent = pl.read_parquet(data_dir / "consent.parquet")
    assert metadata(result, "sources/consent_raw")["dagster/row_count"] == consent.height
    events = read(warehouse, "sources.esp_events")
    assert set(events["event_type"]) == {"sent", "open", "click", "bounce", "unsubscribe",
                                         "complaint"}
    assert events["event_id"].is_unique().all()
    generated = pl.read_parquet(data_dir / "engagement.parquet")
    sends = generated.filter(pl.col("event_type") == "sent").unique(["campaign_id", "email"])
    assert events.filter(pl.col("event_type") == "sent").height == sends.height
    landed = read(warehouse, "sources.crm_contacts")
    assert landed["record_id"].str.starts_with("hubspot:").all()
    assert landed.schema["extracted_at"].time_zone in ("UTC", "Etc/UTC")
    # HubSpot's hs_email_optout lands as email_opt_out, record by record (a consent withdrawal)
    flags = pl.read_parquet(data_dir / "contacts.parquet").select(
        record_id="hubspot:" + pl.col("id"), flag="email_opt_out")
    hubspot = landed.join(flags, on="record_id")
    assert hubspot.height == 800 and (hubspot["email_opt_out"] == hubspot["flag"]).all()
    assert 0 < (hubspot["email_opt_out"] == "true").sum() < 800
    log = read(warehouse, "sources.extraction_log")
    assert sorted(zip(log["source"], log["object"], strict=True)) == [
        ("consent_platform", "consent_events"), ("hubspot", "contacts"), ("hubspot", "deals"),
        ("mailchimp", "engagement"), ("salesforce", "contacts"), ("salesforce", "opportunities"),
        ("sendgrid", "suppressions")]
    assert "@" not in str(contacts["preview"])  # previews show shape, not people
    verdicts = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert len(verdicts) == 7 and all(verdicts.values())


def test_next_run_fetches_only_the_500_updated_contacts(sandbox, tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    materialize(sandbox, warehouse, [crm_contacts])
    client = hubspot_client(sandbox)
    ids = [r["id"] for r in client.iter_contacts()][:500]
    client.update_objects("contacts", {i: {"city": f"Updated {i}"} for i in ids})
    client.close()
    second = materialize(sandbox, warehouse, [crm_contacts])
    landed = read(warehouse, "sources.crm_contacts")
    touched = landed.filter(pl.col("run_id") == second.run_id)
    assert metadata(second, "sources/crm_contacts")["hubspot_mode"] == "incremental"
    assert metadata(second, "sources/crm_contacts")["hubspot_rows_fetched"] == 500
    assert sorted(touched["object_id"]) == sorted(ids)
    assert touched["city"].str.starts_with("Updated").all()
    assert landed.height == 800
    stats = admin(sandbox, "hubspot", "stats")["contacts"]
    assert metadata(second, "sources/crm_contacts")["hubspot_checksum"] == stats["checksum"]


def test_archived_contacts_are_kept_and_flagged(sandbox, tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    materialize(sandbox, warehouse, [crm_contacts])
    client = hubspot_client(sandbox)
    client.archive_object("contacts", "100010")
    client.close()
    materialize(sandbox, warehouse, [crm_contacts])
    landed = read(warehouse, "sources.crm_contacts")
    assert landed.filter(pl.col("archived"))["object_id"].to_list() == ["100010"]
    assert landed.height == 800


def test_backfilling_a_day_leaves_the_cursor_alone(sandbox, data_dir, tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    materialize(sandbox, warehouse, [crm_contacts])
    cursor = read(warehouse, "sources.cursors").filter(pl.col("object") == "contacts")["cursor"]
    contacts = pl.read_parquet(data_dir / "contacts.parquet")
    day = contacts["updated_at"].str.slice(0, 10).mode().sort()[0]
    on_day = contacts.filter(pl.col("updated_at").str.starts_with(day)).height
    result = materialize(sandbox, warehouse, [crm_contacts], partition_key=day)
    meta = metadata(result, "sources/crm_contacts")
    after = read(warehouse, "sources.cursors").filter(pl.col("object") == "contacts")["cursor"]
    assert meta["hubspot_mode"] == "window" and meta["hubspot_rows_fetched"] == on_day
    assert after.to_list() == cursor.to_list()


def test_crashed_extraction_rerun_lands_every_record_once(sandbox, tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    crashed = materialize(sandbox, warehouse, [crm_contacts], config={"chunk_size": 100},
                          hubspot_budget=4, raise_on_error=False)
    assert not crashed.success
    partial = read(warehouse, "sources.crm_contacts")
    assert 0 < partial.height < 800
    materialize(sandbox, warehouse, [crm_contacts], config={"chunk_size": 100})
    landed = read(warehouse, "sources.crm_contacts")
    assert landed.height == landed["record_id"].n_unique() == 800


def test_bad_pages_are_quarantined_and_nothing_is_lost(data_dir, tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    faults = FaultConfig(seed=2, corrupt_record_rate=0.3, malformed_rate=0.2)
    with running_sandbox(data_dir, tmp_path / "j.jsonl", faults) as info:
        first = materialize(info, warehouse, [crm_contacts])
        quarantined = read(warehouse, "sources.quarantine")
        after_bad_run = read(warehouse, "sources.crm_contacts").height
        admin(info, "hubspot", "faults", {})
        materialize(info, warehouse, [crm_contacts])
    rules = set(quarantined["rule"])
    assert {"missing_id", "wrong_type", "malformed_page"} <= rules
    assert quarantined["reason"].str.len_chars().min() > 10
    assert metadata(first, "sources/crm_contacts")["hubspot_quarantined"] == quarantined.height
    assert 700 < after_bad_run < 800  # the good records of the bad pages landed at once
    landed = read(warehouse, "sources.crm_contacts")
    assert landed.height == landed["record_id"].n_unique() == 800


def test_salesforce_contacts_share_the_table_and_sync_incrementally(data_dir, tmp_path):
    org = tmp_path / "org"
    org.mkdir()
    for name in ("contacts", "orders", "engagement", "consent"):
        (org / f"{name}.parquet").write_bytes((data_dir / f"{name}.parquet").read_bytes())
    pl.read_parquet(data_dir / "contacts.parquet").head(120).write_parquet(
        org / "salesforce_contacts.parquet")
    warehouse = tmp_path / "wh.duckdb"
    with running_sandbox(org, tmp_path / "j.jsonl") as info:
        first = materialize(info, warehouse, [crm_contacts], config={"overlap_seconds": 0})
        client = salesforce_client(info)
        ids = [r["Id"] for r in client.iter_modified("contacts")]
        client.update("Contact", ids[5], {"MailingCity": "Bristol"})
        client.delete("Contact", ids[6])
        client.close()
        second = materialize(info, warehouse, [crm_contacts], config={"overlap_seconds": 0})
    landed = read(warehouse, "sources.crm_contacts").filter(pl.col("source") == "salesforce")
    assert metadata(first, "sources/crm_contacts")["salesforce_rows_landed"] == 120
    touched = set(landed.filter(pl.col("run_id") == second.run_id)["object_id"])
    # the record sitting exactly on the cursor is read again by design (ties are never skipped)
    assert {ids[5], ids[6]} <= touched and len(touched) <= 3
    assert metadata(second, "sources/crm_contacts")["salesforce_rows_fetched"] == len(touched)
    assert landed.height == 120 and landed["record_id"].str.starts_with("salesforce:003").all()
    assert landed.filter(pl.col("object_id") == ids[5])["city"].to_list() == ["Bristol"]
    assert landed.filter(pl.col("archived"))["object_id"].to_list() == [ids[6]]
    # HasOptedOutOfEmail, a JSON boolean, lands as the text the other sources give
    opted_out = pl.read_parquet(data_dir / "contacts.parquet").head(120)["email_opt_out"]
    assert landed["email_opt_out"].sort().to_list() == opted_out.sort().to_list()
    assert "true" in opted_out.to_list()


def test_sendgrid_suppressions_join_mailchimp_engagement(data_dir, tmp_path):
    org = tmp_path / "org"
    org.mkdir()
    engagement = pl.read_parquet(data_dir / "engagement.parquet")
    engagement.write_parquet(org / "engagement.parquet")
    engagement.write_parquet(org / "sendgrid_engagement.parquet")
    suppressed = engagement.filter(pl.col("event_type").is_in(
        ["bounce", "complaint", "unsubscribe"])).unique(["email", "event_type"]).height
    warehouse = tmp_path / "wh.duckdb"
    with running_sandbox(org, tmp_path / "j.jsonl") as info:
        first = materialize(info, warehouse, [esp_events])
        after_first = read(warehouse, "sources.esp_events")
        second = materialize(info, warehouse, [esp_events])
    events = read(warehouse, "sources.esp_events")
    from_sendgrid = events.filter(pl.col("source") == "sendgrid")
    assert from_sendgrid.height == suppressed
    assert set(from_sendgrid["event_type"]) == {"bounce", "complaint", "unsubscribe"}
    assert metadata(first, "sources/esp_events")["sendgrid_mode"] == "full"
    assert metadata(second, "sources/esp_events")["sendgrid_mode"] == "incremental"
    # every generated Mailchimp event once and every suppression once, after each run
    expected = {"mailchimp": engagement.height, "sendgrid": suppressed}
    for landed in (after_first, events):
        assert dict(landed.group_by("source").len().iter_rows()) == expected


def test_records_modified_while_paging_are_caught_by_the_next_run(data_dir, tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    with running_sandbox(data_dir, tmp_path / "j.jsonl",
                         FaultConfig(seed=4, modify_while_paging=5)) as info:
        materialize(info, warehouse, [crm_contacts])  # full listing, records move under it
        materialize(info, warehouse, [crm_contacts])  # incremental search, same again
        admin(info, "hubspot", "faults", {})
        last = materialize(info, warehouse, [crm_contacts])
        expected = admin(info, "hubspot", "stats")["contacts"]
    landed = read(warehouse, "sources.crm_contacts")
    assert landed.height == landed["record_id"].n_unique() == 800
    assert metadata(last, "sources/crm_contacts")["hubspot_checksum"] == expected["checksum"]


def test_a_backfill_range_runs_once_over_the_whole_window(sandbox, data_dir, tmp_path):
    contacts = pl.read_parquet(data_dir / "contacts.parquet")
    days = contacts["updated_at"].str.slice(0, 10).sort()
    start, end = days[100], days[300]
    day = pl.col("updated_at").str.slice(0, 10)
    expected = contacts.filter(day.is_between(pl.lit(start), pl.lit(end)))
    result = dg.materialize(
        [crm_contacts], resources=resources(sandbox, tmp_path / "wh.duckdb"),
        tags={"dagster/asset_partition_range_start": start,
              "dagster/asset_partition_range_end": end})
    meta = metadata(result, "sources/crm_contacts")
    assert meta["hubspot_mode"] == "window"
    assert meta["hubspot_rows_fetched"] == expected.height


def test_updated_deals_arrive_incrementally_with_their_contact(sandbox, data_dir, tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    materialize(sandbox, warehouse, [crm_orders], config={"overlap_seconds": 0})
    deal = pl.read_parquet(data_dir / "orders.parquet").row(3, named=True)
    client = hubspot_client(sandbox)
    client.update_objects("deals", {deal["order_id"]: {"dealstage": "refunded"}})
    client.close()
    second = materialize(sandbox, warehouse, [crm_orders], config={"overlap_seconds": 0})
    orders = read(warehouse, "sources.crm_orders")
    touched = orders.filter(pl.col("run_id") == second.run_id)
    assert metadata(second, "sources/crm_orders")["hubspot_mode"] == "incremental"
    assert deal["order_id"] in touched["object_id"].to_list() and touched.height <= 2
    row = orders.filter(pl.col("object_id") == deal["order_id"]).row(0, named=True)
    assert row["status"] == "refunded"
    assert row["contact_record_id"] == f"hubspot:{deal['contact_id']}"


def test_new_consent_decisions_arrive_on_the_next_run(sandbox, tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    materialize(sandbox, warehouse, [consent_raw], config={"overlap_seconds": 0})
    withdrawal = {"event_id": "cns_late", "contact_id": "100001", "email": "a@b.c",
                  "purpose": "email_marketing", "status": "withdrawn",
                  "channel": "preference_centre", "occurred_at": "2026-11-28T10:00:00Z",
                  "policy_version": "2024-05"}
    httpx.post(sandbox["consent"]["base_url"] + "/v1/consent-events", json=[withdrawal],
               headers={"X-API-Key": sandbox["consent"]["api_key"]}).raise_for_status()
    second = materialize(sandbox, warehouse, [consent_raw], config={"overlap_seconds": 0})
    landed = read(warehouse, "sources.consent_raw")
    assert metadata(second, "sources/consent_raw")["mode"] == "incremental"
    # the new event, plus the event(s) sitting exactly on the cursor (re-read, never skipped)
    assert 2 <= metadata(second, "sources/consent_raw")["rows_fetched"] <= 3
    assert landed.height == landed["event_id"].n_unique()
    late = landed.filter(pl.col("event_id") == "cns_late").row(0, named=True)
    assert (late["contact_record_id"], late["status"]) == ("hubspot:100001", "withdrawn")


def test_empty_vendors_still_give_downstream_empty_tables(tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    with running_sandbox(tmp_path / "nothing", tmp_path / "j.jsonl") as info:
        result = materialize(info, warehouse)
    for table in ("crm_contacts", "crm_orders", "esp_events", "consent_raw"):
        assert metadata(result, f"sources/{table}")["dagster/row_count"] == 0
    assert "record_id" in read(warehouse, "sources.crm_contacts").columns
