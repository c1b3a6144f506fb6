"""`edp privacy erase | export | anonymise` against a small warehouse and the ESP simulators."""

import json

import pytest

from email_data_platform.cli import main
from email_data_platform.cli.sandbox_process import sandbox_env
from email_data_platform.lib.privacy.audit import read_audit_log
from email_data_platform.lib.privacy.erasure import ERASURE_LOG, REQUESTS
from email_data_platform.lib.privacy.keys import keyring_from_environment
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.lib.privacy.rights_data import (
    SUBJECT_EMAIL,
    all_text,
    seed_rights_warehouse,
)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A working folder; the variables the CLI sets are restored afterwards."""
    monkeypatch.chdir(tmp_path)  # the local keyfiles live under .edp here
    for name, value in {"EDP_HOME": str(tmp_path / ".edp"),
                        "EDP_WAREHOUSE_PATH": str(tmp_path / "wh.duckdb"),
                        "DAGSTER_HOME": str(tmp_path / "dagster_home")}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("EDP_PSEUDONYM_KEYS", raising=False)
    wh = DuckDBWarehouse(tmp_path / "wh.duckdb")
    seed_rights_warehouse(wh, keyring_from_environment())
    wh.close()
    return tmp_path


def edp(home, *args):
    return main(["privacy", *args, "--warehouse", str(home / "wh.duckdb"),
                 "--home", str(home / ".edp")])


def test_export_writes_the_subjects_rows_and_audits_it(home, capsys):
    assert edp(home, "export", SUBJECT_EMAIL, "--out", str(home / "ann.json")) == 0
    document = json.loads((home / "ann.json").read_text())
    assert len(document["tables"]["sources.crm_contacts"]["rows"]) == 2
    out = capsys.readouterr()
    assert "ann@" not in (out.out + out.err).lower()
    wh = DuckDBWarehouse(home / "wh.duckdb")
    assert read_audit_log(wh)["action"].to_list() == ["audit chain started",
                                                     "subject data exported"]
    wh.close()


def test_erase_records_a_request_and_prints_no_address(home, capsys):
    assert edp(home, "erase", SUBJECT_EMAIL) == 0
    out = capsys.readouterr()
    assert "ann@" not in (out.out + out.err).lower() and "recorded for k1:" in out.out
    wh = DuckDBWarehouse(home / "wh.duckdb")
    assert wh.read(REQUESTS)["status"].to_list() == ["pending"]
    assert SUBJECT_EMAIL in all_text(wh, skip=(REQUESTS,))  # nothing erased yet
    wh.close()


def test_erase_now_carries_out_pending_requests_at_the_esps(home, capsys, monkeypatch):
    assert edp(home, "erase", "--record", "h:2") == 0
    with running_sandbox(home / "no_data", home / "journal.jsonl") as info:
        for name, value in sandbox_env(info).items():
            monkeypatch.setenv(name, value)
        assert edp(home, "erase", "--now") == 0
    assert "privacy/erasure_log: ok" in capsys.readouterr().out
    wh = DuckDBWarehouse(home / "wh.duckdb")
    assert SUBJECT_EMAIL not in all_text(wh)
    assert wh.read(ERASURE_LOG).height == 1
    wh.close()


def test_erase_needs_a_subject_or_now(home, capsys):
    assert edp(home, "erase") == 2
    assert "name the person" in capsys.readouterr().err
