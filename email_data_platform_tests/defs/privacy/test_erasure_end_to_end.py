"""Erasure through the whole graph: generated data, the vendor simulators, three runs.

Run 1 builds everything and pushes the audience to Mailchimp; a pushed person is also put in
SendGrid. `edp privacy erase` files a request; run 2 carries it out; before run 3 the source
cursors are dropped, so every source is pulled again in full: the erased person must stay gone.
"""

import json
import os

import dagster as dg
import polars as pl
import pytest

from email_data_platform.cli import main
from email_data_platform.cli.run import materialise
from email_data_platform.cli.sandbox_process import sandbox_env
from email_data_platform.cli.summary import summarise
from email_data_platform.lib.connectors.mailchimp import MailchimpClient, subscriber_hash
from email_data_platform.lib.connectors.sendgrid import SendGridClient
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform.sandbox.generator import generate_dataset, write_dataset
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.lib.privacy.rights_data import all_text

CONTACTS = 300


def full_run(instance) -> list[str]:
    result, keys = materialise(None, instance)
    summary = summarise(result, keys, instance)
    return [line.asset for line in summary.lines if line.status != "ok"] + \
        summary.blocking_failures


def pick_subject(path) -> tuple[str, list[str]]:
    """A person Mailchimp received, and their record ids."""
    wh = DuckDBWarehouse(path)
    try:
        pushed = wh.read("audiences.marketable_audience").sort("entity_id")
        entity, email = pushed.row(0, named=True)["entity_id"], pushed["email"][0]
        records = wh.query("select record_id from identity.entities where entity_id = ?",
                           [entity])["record_id"].to_list()
    finally:
        wh.close()
    return email, records


def traces(path, email: str, records: list[str]) -> list[str]:
    wh = DuckDBWarehouse(path)
    try:
        text = all_text(wh)
    finally:
        wh.close()
    return [m for m in [email.lower()] + [json.dumps(r) for r in records] if m in text]


@pytest.mark.slow
def test_an_erased_person_is_gone_everywhere_and_stays_gone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # local key files under ./.edp
    write_dataset(generate_dataset(CONTACTS, seed=11), tmp_path / "data")
    path = tmp_path / "warehouse.duckdb"
    with running_sandbox(tmp_path / "data", tmp_path / "journal.jsonl") as info:
        env = sandbox_env(info) | {"EDP_HOME": str(tmp_path / ".edp"),
                                   "EDP_WAREHOUSE_PATH": str(path),
                                   "DAGSTER_HOME": str(tmp_path / "dagster_home"),
                                   "EDP_ALERT_WEBHOOK_URL": ""}  # alerts stay in the table
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        chimp = MailchimpClient(info["mailchimp"]["base_url"], info["mailchimp"]["api_key"])
        grid = SendGridClient(info["sendgrid"]["base_url"], info["sendgrid"]["api_key"])
        list_id = info["mailchimp"]["list_id"]
        with dg.DagsterInstance.ephemeral() as instance:
            assert full_run(instance) == []
            email, records = pick_subject(path)
            assert chimp.get_member(list_id, subscriber_hash(email)) is not None
            grid.wait_for_job(grid.upsert_contacts([{"email": email}]))
            assert traces(path, email, records)

            assert main(["privacy", "erase", email, "--warehouse", str(path),
                         "--home", os.environ["EDP_HOME"]]) == 0
            assert full_run(instance) == []  # erased_subjects_absent is blocking
            assert traces(path, email, records) == []
            assert chimp.get_member(list_id, subscriber_hash(email)) is None
            assert grid.search_emails([email]) == {}

            wh = DuckDBWarehouse(path)
            wh.execute("drop table sources.cursors")
            wh.close()
            assert full_run(instance) == []
            assert traces(path, email, records) == []
            assert chimp.get_member(list_id, subscriber_hash(email)) is None
        chimp.close()
        grid.close()
    wh = DuckDBWarehouse(path)
    log = wh.read("privacy.erasure_log")
    assert log.height == 1 and log["status"].to_list() == ["done"]
    assert json.loads(log["rows_per_table"][0])["sources.crm_contacts"] == len(records)
    assert wh.read("sources.crm_contacts").height == CONTACTS - len(records)
    assert wh.read("privacy.erasure_requests").filter(
        pl.col("subject_encrypted").is_not_null()).height == 0
    wh.close()
