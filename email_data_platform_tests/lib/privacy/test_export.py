"""The access export (GDPR Art. 15): all of the subject's rows, nothing of anyone else."""

import json

from email_data_platform.lib.privacy.audit import read_audit_log
from email_data_platform.lib.privacy.export import (
    WITHHELD,
    audit_export,
    export_json,
    export_subject,
)
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform_tests.lib.privacy.rights_data import (
    SUBJECT_EMAIL,
    keyring,
    seed_rights_warehouse,
)

OTHERS = ["bob", "cy@", "di@", "ed@", "flo", "gus", '"h:3"', '"h:4"', '"h:9"', '"e2"', '"e7"']


def exported(tmp_path, **subject):
    wh = DuckDBWarehouse(tmp_path / "wh.duckdb")
    seed_rights_warehouse(wh, keyring())
    return wh, export_subject(wh, keyring(), **subject)


def test_export_holds_the_subjects_rows_from_every_table(tmp_path):
    wh, document = exported(tmp_path, email=" ANN@example.com")
    tables = document["tables"]
    assert len(tables["sources.crm_contacts"]["rows"]) == 2
    assert len(tables["sources.esp_events"]["rows"]) == 2  # ANN@ and ann+news@
    assert len(tables["profiles.quarantine"]["rows"]) == 1
    assert len(tables["audiences.analytics_features"]["rows"]) == 1
    assert tables["identity.golden_profiles"]["rows"][0]["first_name"] == "Ann"
    assert tables["identity.entities"]["source_table"] == "identity.entities"
    assert document["segments"] == ["high_value"]
    assert len(document["esp_receipts"]) == 1
    assert {"privacy.consent_ledger", "profiles.clean_consent_events"} <= set(
        document["consent_history"])
    assert document["subject"]["record_ids"] == ["h:1", "h:2"]
    wh.close()


def test_export_holds_nothing_of_anyone_else(tmp_path):
    wh, document = exported(tmp_path, email=SUBJECT_EMAIL)
    text = export_json(document).lower()
    for other in OTHERS:
        assert other not in text, other
    (pair,) = document["tables"]["identity.match_pairs"]["rows"]
    assert pair["record_id_l"] == "h:1" and pair["record_id_r"] == WITHHELD
    wh.close()


def test_export_by_record_id_finds_the_same_person(tmp_path):
    wh, by_email = exported(tmp_path, email=SUBJECT_EMAIL)
    by_record = export_subject(wh, keyring(), record_id="h:2")
    assert by_record["tables"].keys() == by_email["tables"].keys()
    wh.close()


def test_an_export_is_audited_by_pseudonym(tmp_path):
    wh, document = exported(tmp_path, email=SUBJECT_EMAIL)
    audit_export(wh, document, keyring().pseudonym("ann@example.com"), run_id="cli")
    started, entry = read_audit_log(wh).to_dicts()
    assert started["action"] == "audit chain started"
    assert entry["action"] == "subject data exported" and entry["subject"].startswith("k1:")
    assert json.loads(entry["details"])["rows"] > 10
    wh.close()
