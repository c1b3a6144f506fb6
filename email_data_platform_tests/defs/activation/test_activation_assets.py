"""Activation end to end against the Mailchimp and SendGrid simulators (real HTTP, real
connectors), both destinations active as destinations.yaml ships them."""

import json
from datetime import UTC, datetime

import dagster as dg
import polars as pl
import pytest

from email_data_platform.defs.activation import assets, checks
from email_data_platform.defs.audiences import assets as audience_assets
from email_data_platform.defs.audiences import consented, consented_checks
from email_data_platform.defs.privacy import assets as privacy_assets
from email_data_platform.defs.privacy import checks as privacy_checks
from email_data_platform.lib.connectors.mailchimp import MailchimpClient, subscriber_hash
from email_data_platform.lib.connectors.sendgrid import SendGridClient
from email_data_platform.lib.privacy.audit import read_audit_log, verify_chain
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.defs.activation.esp_resources import esp_sync_resources
from email_data_platform_tests.defs.privacy.upstream import AS_OF, seed_upstream

EVERYTHING = [
    privacy_assets.consent_events, privacy_assets.consent_ledger,
    audience_assets.customer_features, consented.marketable_audience, audience_assets.segments,
    privacy_checks.esp_payload_consent_proven,
    consented_checks.marketable_audience_has_consent, assets.esp_payload, assets.esp_sync,
    checks.esp_payload_allow_listed, checks.esp_payload_only_marketable,
    checks.esp_payload_matches_schema,
    checks.esp_sync_without_failures,
]
FEATURES_CONFIG = {"audiences__customer_features": {"config": {"as_of": AS_OF}}}


@pytest.fixture
def vendors(tmp_path):
    with running_sandbox(tmp_path / "no_data", tmp_path / "journal.jsonl") as info:
        yield info


@pytest.fixture
def sandbox(vendors):
    return vendors["mailchimp"]


@pytest.fixture
def warehouse_path(tmp_path):
    path = str(tmp_path / "wh.duckdb")
    wh = DuckDBWarehouse(path)
    seed_upstream(wh)
    wh.close()
    return path


SENDGRID = {}  # filled by the autouse fixture below: the running SendGrid simulator


@pytest.fixture(autouse=True)
def _sendgrid(vendors):
    SENDGRID.clear()
    SENDGRID.update(vendors["sendgrid"])


def resources(path, esp, **mailchimp_extra):
    return esp_sync_resources(path, {"mailchimp": esp, "sendgrid": SENDGRID}, **mailchimp_extra)


def run(path, esp, dry_run=False, **kwargs):
    return dg.materialize(
        EVERYTHING, resources=resources(path, esp),
        run_config={"ops": {**FEATURES_CONFIG,
                            "activation__esp_sync": {"config": {"dry_run": dry_run}}}},
        **kwargs,
    )


def sendgrid_contacts(emails) -> dict:
    client = SendGridClient(SENDGRID["base_url"], SENDGRID["api_key"])
    try:
        return client.search_emails(list(emails))
    finally:
        client.close()


def personalised(path, email) -> bool:
    """Whether the audience grants personalisation to this address (absent column = no)."""
    audience = DuckDBWarehouse(path).read("audiences.marketable_audience")
    if "personalisation" not in audience.columns:
        return False
    return bool(audience.filter(pl.col("email") == email)["personalisation"].item())


def esp_members(esp, status="subscribed"):
    client = MailchimpClient(esp["base_url"], esp["api_key"])
    try:
        return {m["email_address"]: m for m in client.iter_members(esp["list_id"], status=status)}
    finally:
        client.close()


def sync_metadata(result):
    return result.asset_materializations_for_node("activation__esp_sync")


def summary_of(result, destination="mailchimp") -> dict:
    """The esp_sync metadata of one destination (keys `<destination>/<count>` unprefixed), plus
    the run-wide keys."""
    (materialization,) = [m for m in sync_metadata(result)
                          if m.asset_key == dg.AssetKey(["activation", "esp_sync"])]
    values = {k: v.value for k, v in materialization.metadata.items()}
    prefix = f"{destination}/"
    return {**{k: v for k, v in values.items() if "/" not in k},
            **{k.removeprefix(prefix): v for k, v in values.items() if k.startswith(prefix)}}


def add_consent_event(path, record_id, status):
    wh = DuckDBWarehouse(path)
    events = wh.read("profiles.clean_consent_events")
    wh.write("profiles.clean_consent_events", pl.concat([events, pl.DataFrame([{
        "event_id": f"late-{record_id}", "source": "hubspot", "contact_record_id": record_id,
        "email": None, "purpose": "email_marketing", "status": status, "channel": "web_form",
        "occurred_at": datetime(2026, 11, 27, tzinfo=UTC), "policy_version": "2024-05",
    }], schema=events.schema)]))
    wh.close()


def test_only_consented_people_reach_the_esp_with_minimised_fields(warehouse_path, sandbox):
    result = run(warehouse_path, sandbox)
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
    members = esp_members(sandbox)
    assert set(members) == {"ann@example.com", "flo@example.com", "gus@example.com"}
    ann = members["ann@example.com"]
    if personalised(warehouse_path, "ann@example.com"):
        assert ann["merge_fields"]["FNAME"] == "Ann" and ann["merge_fields"]["LTV"] == "600.0"
    else:  # no personalisation grant: email and tags only
        assert ann["merge_fields"]["FNAME"] == "" and ann["merge_fields"]["LTV"] == ""
    assert "high_value" in [t["name"] for t in ann["tags"]]
    assert "+447700900123" not in json.dumps(members)
    assert summary_of(result)["upserted"] == 3
    contacts = sendgrid_contacts(members)
    assert set(contacts) == set(members)
    assert "high_value" in next(iter(
        v for v in contacts["ann@example.com"]["custom_fields"].values() if "high" in str(v)))
    assert summary_of(result, "sendgrid")["upserted"] == 3


def test_rerun_sends_nothing_and_a_withdrawal_archives_the_member(warehouse_path, sandbox):
    assert run(warehouse_path, sandbox).success
    again = summary_of(run(warehouse_path, sandbox))
    assert (again["upserted"], again["unchanged"], again["archived"]) == (0, 3, 0)

    add_consent_event(warehouse_path, "h:8", "withdrawn")  # Flo withdraws
    after = summary_of(run(warehouse_path, sandbox))
    assert (after["upserted"], after["archived"]) == (0, 1)
    assert set(esp_members(sandbox)) == {"ann@example.com", "gus@example.com"}
    assert "flo@example.com" in esp_members(sandbox, status="archived")

    wh = DuckDBWarehouse(warehouse_path)
    receipts = wh.read("activation.sync_receipts")
    assert receipts.filter(pl.col("action") == "archive")["destination"].sort().to_list() == [
        "mailchimp", "sendgrid"]
    assert "@" not in "".join(receipts["error"].drop_nulls().to_list())
    assert "@" not in "".join(receipts["error"].drop_nulls().to_list())
    flo = sendgrid_contacts(["flo@example.com"])["flo@example.com"]
    assert flo["list_ids"] == []  # SendGrid: off the destination's list
    log = read_audit_log(wh)
    assert log.filter(pl.col("action") == "esp sync").height == 6 and verify_chain(log) is None


def test_dry_run_previews_counts_and_changes_nothing(warehouse_path, sandbox):
    assert run(warehouse_path, sandbox).success
    wh = DuckDBWarehouse(warehouse_path)
    state_before = wh.read("activation.sync_state").sort("subscriber_hash")
    summaries_before = wh.row_count("activation.sync_receipts")
    wh.close()
    add_consent_event(warehouse_path, "h:4", "granted")  # Cy joins

    preview = summary_of(run(warehouse_path, sandbox, dry_run=True))
    assert preview["dry_run"] is True and preview["to_upsert"] == 1 and preview["unchanged"] == 3
    assert "cy@" not in preview["sample"] and "add" in preview["sample"]
    assert "cy@example.com" not in esp_members(sandbox)
    wh = DuckDBWarehouse(warehouse_path)
    assert wh.read("activation.sync_state").sort("subscriber_hash").equals(state_before)
    assert wh.row_count("activation.sync_receipts") == summaries_before


def test_crashed_sync_resumes_without_sending_anyone_twice(warehouse_path, sandbox):
    # one member per batch and a budget of 3 requests (the member listing + 2 batches): the
    # third batch call crashes the sync
    result = dg.materialize(
        EVERYTHING, resources=resources(warehouse_path, sandbox, request_budget=3),
        run_config={"ops": {**FEATURES_CONFIG,
                            "activation__esp_sync": {"config": {"batch_size": 1}}}},
        raise_on_error=False,
    )
    assert not result.success
    assert len(esp_members(sandbox)) == 2
    resumed = summary_of(run(warehouse_path, sandbox))
    assert (resumed["upserted"], resumed["unchanged"]) == (1, 2)
    receipts = DuckDBWarehouse(warehouse_path).read("activation.sync_receipts").filter(
        pl.col("destination") == "mailchimp")
    assert receipts.height == 3 and receipts["subscriber_hash"].n_unique() == 3
    assert len(esp_members(sandbox)) == 3


def test_member_the_esp_refuses_for_good_is_recorded_and_not_resent(warehouse_path, sandbox):
    assert run(warehouse_path, sandbox).success
    client = MailchimpClient(sandbox["base_url"], sandbox["api_key"])
    client.delete_member_permanently(sandbox["list_id"], subscriber_hash("gus@example.com"))
    client.close()
    wh = DuckDBWarehouse(warehouse_path)
    wh.execute("update identity.golden_profiles set first_name = 'Gustav' where entity_id = 'e7'")
    wh.close()

    result = run(warehouse_path, sandbox)
    summary = summary_of(result)
    assert (summary["upserted"], summary["rejected"], summary["failed"]) == (0, 1, 0)
    failed_check = next(e for e in result.get_asset_check_evaluations()
                        if e.asset_check_key.name == "esp_sync_without_failures")
    assert failed_check.passed is False
    receipts = DuckDBWarehouse(warehouse_path).read("activation.sync_receipts")
    refusal = receipts.filter(pl.col("status") == "rejected").row(0, named=True)
    assert refusal["attempts"] == 1 and "gus@" not in refusal["error"]
    assert "permanently deleted" in refusal["error"]
    # refused for good: not sent again until Gus's row changes
    again = summary_of(run(warehouse_path, sandbox))
    assert (again["to_upsert"], again["rejected_unchanged"]) == (0, 1)


def test_transient_member_errors_are_retried_one_by_one(warehouse_path, vendors):
    from email_data_platform.sandbox.faults import FaultConfig
    from email_data_platform_tests.sandbox.sandbox_helpers import admin

    admin(vendors, "mailchimp", "faults", FaultConfig(seed=3, member_error_rate=0.5).to_dict())
    summary = summary_of(run(warehouse_path, vendors["mailchimp"]))
    assert (summary["upserted"], summary["failed"]) == (3, 0)
    receipts = DuckDBWarehouse(warehouse_path).read("activation.sync_receipts").filter(
        pl.col("destination") == "mailchimp")
    assert receipts["attempts"].max() > 1  # some were refused at first, then went through


def test_auditor_can_see_why_an_address_was_or_was_not_emailed(warehouse_path, sandbox):
    from email_data_platform.lib.privacy.trace import explain_activation, trace_address

    assert run(warehouse_path, sandbox).success
    wh = DuckDBWarehouse(warehouse_path)
    ann = trace_address(wh, " Ann@Example.com ")
    marketing = next(c for c in ann["person_consent"] if c["purpose"] == "email_marketing")
    assert marketing["status"] == "granted" and marketing["record_id"] == "h:1"
    proof = ann["audience"][0]["consent_event_id"]
    assert proof == marketing["event_id"] and ann["verdict"].endswith(f"event {proof}")
    assert ann["verdict"].startswith("pushed to the ESP")
    assert any(e["event_id"] == proof and e["channel"] == "web_form" and e["run_id"]
               for e in ann["consent_events"])
    assert "high_value" in {s["segment"] for s in ann["segments"]}
    assert [(r["action"], r["status"]) for r in ann["receipts"]] == [("upsert", "ok")] * 2
    assert ann == explain_activation(wh, "e1")
    di = trace_address(wh, "di@example.com")
    assert di["audience"] == [] and di["receipts"] == []
    assert di["verdict"].startswith("not emailed: the person withdrew")
    assert {e["record_id"] for e in di["consent_events"]} == {"h:5", "h:6"}


def test_members_the_esp_lost_are_sent_again(warehouse_path, sandbox):
    assert run(warehouse_path, sandbox).success
    client = MailchimpClient(sandbox["base_url"], sandbox["api_key"])
    client.archive_member(sandbox["list_id"], subscriber_hash("ann@example.com"))
    client.close()
    summary = summary_of(run(warehouse_path, sandbox))
    assert (summary["missing_at_esp_resent"], summary["upserted"]) == (1, 1)
    assert summary_of(run(warehouse_path, sandbox), "sendgrid")["upserted"] == 0
    assert set(esp_members(sandbox)) == {"ann@example.com", "flo@example.com", "gus@example.com"}
