"""The erasure asset and its blocking check against the Mailchimp and SendGrid simulators."""

import json

import dagster as dg
import polars as pl
import pytest

from email_data_platform.defs.connections import MailchimpResource, SendGridResource
from email_data_platform.defs.privacy import retention, rights, rights_checks
from email_data_platform.defs.privacy.resources import PseudonymisationResource
from email_data_platform.defs.privacy.rights_resources import PiiEncryptionResource
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.connectors.mailchimp import MailchimpClient
from email_data_platform.lib.connectors.sendgrid import SendGridClient
from email_data_platform.lib.privacy.erasure import ERASURE_LOG, REQUESTS, request_erasure
from email_data_platform.lib.privacy.keys import cipher_from_environment
from email_data_platform.lib.privacy.subjects import subscriber_hash
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.lib.privacy.rights_data import (
    ELIGIBLE,
    KEY_SPEC,
    SUBJECT_EMAIL,
    all_text,
    keyring,
    seed_retention_warehouse,
    seed_rights_warehouse,
)

OTHER = "gus@example.com"


@pytest.fixture
def esp(tmp_path):
    with running_sandbox(tmp_path / "no_data", tmp_path / "journal.jsonl") as info:
        chimp = MailchimpClient(info["mailchimp"]["base_url"], info["mailchimp"]["api_key"])
        grid = SendGridClient(info["sendgrid"]["base_url"], info["sendgrid"]["api_key"])
        members = [{"email_address": e, "status": "subscribed"} for e in (SUBJECT_EMAIL, OTHER)]
        chimp.batch_upsert_members(info["mailchimp"]["list_id"], members)
        grid.wait_for_job(grid.upsert_contacts([{"email": SUBJECT_EMAIL}, {"email": OTHER}]))
        yield info, chimp, grid
        chimp.close()
        grid.close()


@pytest.fixture
def warehouse_path(tmp_path):
    wh = DuckDBWarehouse(tmp_path / "wh.duckdb")
    seed_rights_warehouse(wh, keyring())
    request_erasure(wh, cipher_from_environment(tmp_path), keyring(), email=SUBJECT_EMAIL)
    wh.close()
    return str(tmp_path / "wh.duckdb")


def run(tmp_path, path, info, mailchimp_key=None):
    chimp, grid = info["mailchimp"], info["sendgrid"]
    return dg.materialize(
        [rights.erasure_log, rights_checks.erased_subjects_absent],
        resources={
            "warehouse": WarehouseResource(path=path),
            "pseudonymisation": PseudonymisationResource(key_spec=KEY_SPEC, active_key_id="k1"),
            "pii_encryption": PiiEncryptionResource(home=str(tmp_path)),
            "mailchimp": MailchimpResource(base_url=chimp["base_url"],
                                           api_key=mailchimp_key or chimp["api_key"],
                                           list_id=chimp["list_id"], max_attempts=1),
            "sendgrid": SendGridResource(base_url=grid["base_url"], api_key=grid["api_key"]),
        },
        raise_on_error=False,
    )


def check_passed(result) -> bool:
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation.passed


def test_erasure_reaches_every_table_and_both_esps(tmp_path, warehouse_path, esp):
    info, chimp, grid = esp
    result = run(tmp_path, warehouse_path, info)
    assert result.success and check_passed(result)
    list_id = info["mailchimp"]["list_id"]
    assert chimp.get_member(list_id, subscriber_hash(SUBJECT_EMAIL)) is None
    assert chimp.get_member(list_id, subscriber_hash(OTHER)) is not None
    assert set(grid.search_emails([SUBJECT_EMAIL, OTHER])) == {OTHER}
    # Mailchimp refuses to take her back even if something tried to push her again
    answer = chimp.batch_upsert_members(list_id, [{"email_address": SUBJECT_EMAIL,
                                                    "status": "subscribed"}])
    assert answer["error_count"] == 1
    wh = DuckDBWarehouse(warehouse_path)
    assert SUBJECT_EMAIL not in all_text(wh) and OTHER in all_text(wh)
    (log,) = wh.read(ERASURE_LOG).to_dicts()
    esp_results = json.loads(log["esp_results"])
    assert esp_results["mailchimp"]["deleted"] == 1 and esp_results["sendgrid"]["deleted"] == 1
    wh.close()


def test_a_failing_esp_keeps_the_request_open_until_it_succeeds(tmp_path, warehouse_path, esp):
    info, chimp, _ = esp
    first = run(tmp_path, warehouse_path, info, mailchimp_key="wrong-key-us1")
    assert first.success and check_passed(first)  # the warehouse part is done regardless
    wh = DuckDBWarehouse(warehouse_path)
    assert wh.read(REQUESTS)["status"].to_list() == ["esp_retry"]
    assert wh.read(ERASURE_LOG)["esp_results"].str.contains("wrong").sum() == 0
    wh.close()
    list_id = info["mailchimp"]["list_id"]
    assert chimp.get_member(list_id, subscriber_hash(SUBJECT_EMAIL)) is not None
    second = run(tmp_path, warehouse_path, info)
    assert second.success
    assert chimp.get_member(list_id, subscriber_hash(SUBJECT_EMAIL)) is None
    wh = DuckDBWarehouse(warehouse_path)
    assert wh.read(REQUESTS)["status"].to_list() == ["done"]
    assert wh.read(REQUESTS)["subject_encrypted"].to_list() == [None]
    wh.close()


def test_the_check_fails_when_an_erased_person_is_back(tmp_path, warehouse_path, esp):
    info, _, _ = esp
    run(tmp_path, warehouse_path, info)
    wh = DuckDBWarehouse(warehouse_path)
    wh.write("audiences.some_new_table", pl.DataFrame({"email": ["ANN@example.com"]}))
    wh.close()
    result = rights_checks.erased_subjects_absent(
        warehouse=WarehouseResource(path=warehouse_path),
        pseudonymisation=PseudonymisationResource(key_spec=KEY_SPEC, active_key_id="k1"))
    assert not result.passed
    assert result.metadata["tables"].value == {"audiences.some_new_table": 1}


def test_no_address_or_secret_reaches_logs_or_metadata(tmp_path, warehouse_path, esp, caplog):
    info, _, _ = esp
    caplog.set_level("DEBUG")
    result = run(tmp_path, warehouse_path, info)
    assert result.success
    text = (" ".join(str(event) for event in result.all_events) + caplog.text).lower()
    for secret in ("ann@example.com", "ann@", KEY_SPEC.partition("=")[2],
                   info["mailchimp"]["api_key"], info["sendgrid"]["api_key"]):
        assert secret.lower() not in text, secret


def test_retention_job_anonymises_the_eligible_and_archives_them_at_the_esps(tmp_path, esp):
    info, chimp, grid = esp
    list_id = info["mailchimp"]["list_id"]
    chimp.batch_upsert_members(list_id, [{"email_address": "cy@example.com",
                                          "status": "subscribed"}])
    grid.wait_for_job(grid.upsert_contacts([{"email": "cy@example.com"}]))
    path = str(tmp_path / "retention.duckdb")
    wh = DuckDBWarehouse(path)
    seed_retention_warehouse(wh, keyring())
    wh.close()
    chimp_settings, grid_settings = info["mailchimp"], info["sendgrid"]
    result = retention.privacy_retention_job.execute_in_process(
        run_config={"ops": {"anonymise_inactive_people": {"config": {
            "inactive_days": 365, "as_of": "2026-11-28T00:00:00+00:00"}}}},
        resources={
            "warehouse": WarehouseResource(path=path),
            "pseudonymisation": PseudonymisationResource(key_spec=KEY_SPEC, active_key_id="k1"),
            "mailchimp": MailchimpResource(base_url=chimp_settings["base_url"],
                                           api_key=chimp_settings["api_key"], list_id=list_id),
            "sendgrid": SendGridResource(base_url=grid_settings["base_url"],
                                         api_key=grid_settings["api_key"]),
        })
    assert result.success
    assert result.output_for_node("anonymise_inactive_people")["people"] == len(ELIGIBLE)
    assert chimp.get_member(list_id, subscriber_hash("cy@example.com"))["status"] == "archived"
    assert chimp.get_member(list_id, subscriber_hash(OTHER))["status"] == "subscribed"
    assert set(grid.search_emails(["cy@example.com", OTHER])) == {OTHER}
    wh = DuckDBWarehouse(path)
    golden = wh.read("identity.golden_profiles")
    assert sorted(golden.filter(pl.col("email").is_null())["entity_id"]) == ELIGIBLE
    wh.close()
