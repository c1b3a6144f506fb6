"""`edp consent import`: a consent-management platform's receipts into privacy.consent_events."""

import json

import polars as pl

from email_data_platform.cli import main
from email_data_platform.lib.warehouse import DuckDBWarehouse

ONETRUST = {"content": [
    {"Identifier": " Ann@Example.com", "Purposes": [
        {"Name": "Email Marketing", "Status": "ACTIVE", "Version": 3, "ReceiptId": "r-1",
         "LastTransactionCreationDate": "2026-05-01T10:00:00Z"},
        {"Name": "Analytics", "Status": "WITHDRAWN",
         "LastTransactionCreationDate": "2026-05-02T10:00:00Z"}]},
    {"Identifier": "hubspot:5", "Purposes": [
        {"Name": "Email Marketing", "Status": "OPT_OUT", "LastTransactionCreationDate": "junk"},
        {"Name": "Personalisation", "Status": "ACTIVE",  # a grant with no policy version
         "LastTransactionCreationDate": "2026-06-01T10:00:00Z"}]},
]}


def test_receipts_import_withdrawals_always_and_provable_grants_once(tmp_path, capsys,
                                                                     monkeypatch):
    monkeypatch.setenv("EDP_HOME", str(tmp_path))
    receipts = tmp_path / "receipts.json"
    receipts.write_text(json.dumps(ONETRUST))
    warehouse = tmp_path / "wh.duckdb"
    args = ["consent", "import", str(receipts), "--warehouse", str(warehouse),
            "--source", "onetrust", "--home", str(tmp_path)]
    assert main(args) == 0
    counts = json.loads(capsys.readouterr().out)
    assert (counts["receipt_rows"], counts["new_events"], counts["withdrawals"]) == (4, 3, 2)
    assert [r["rule"] for r in counts["rejected"]] == ["policy_version_missing"]
    events = DuckDBWarehouse(warehouse).read("privacy.consent_events").sort("purpose")
    assert events.select("purpose", "status", "record_id", "email_key").rows() == [
        ("analytics", "withdrawn", None, "ann@example.com"),
        ("email_marketing", "granted", None, "ann@example.com"),
        ("email_marketing", "withdrawn", "hubspot:5", None),
    ]
    grant = events.filter(pl.col("status") == "granted").row(0, named=True)
    assert (grant["proof_reference"], grant["policy_version"], grant["channel"],
            grant["source_system"], grant["legal_basis"]) == ("r-1", "3", "import", "onetrust",
                                                              "consent")
    assert main(args) == 0  # the same file again adds nothing
    assert json.loads(capsys.readouterr().out)["new_events"] == 0
    log = DuckDBWarehouse(warehouse).read("privacy.audit_log")
    assert log["action"].to_list().count("consent receipts imported") == 2


def test_csv_receipts_are_read_too(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EDP_HOME", str(tmp_path))
    receipts = tmp_path / "receipts.csv"
    receipts.write_text("identifier,purpose,status,date,policy_version\n"
                        "bob@example.com,email-marketing,opted_out,2026-07-01T00:00:00Z,\n")
    assert main(["consent", "import", str(receipts), "--warehouse",
                 str(tmp_path / "wh.duckdb"), "--home", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["withdrawals"] == 1
