import pytest

from email_data_platform.lib.observability.stage import (
    RulesError,
    evaluate,
    freshness_overdue,
    load_rules,
    row_count_anomaly,
)


def test_row_count_against_the_trailing_median():
    assert row_count_anomaly([], 5) is None
    assert row_count_anomaly([100, 105, 95], 98) is None
    assert "fell 80%" in row_count_anomaly([100, 105, 95], 20)
    assert "4.0x" in row_count_anomaly([100, 100, 100], 400)
    assert row_count_anomaly([100, 1, 100], 100) is None  # one odd run does not move it


def test_the_default_catches_a_30_percent_drop_but_not_25():
    rules = load_rules()["sources/crm_contacts"]
    history = [{"hubspot_source_total": 1000, "salesforce_source_total": 200}] * 3
    dropped = evaluate(rules, {"hubspot_source_total": 690, "salesforce_source_total": 200},
                       history)
    assert [a.rule for a in dropped] == ["row_count"]
    assert dropped[0].message.startswith("hubspot_source_total fell 31%")
    assert evaluate(rules, {"hubspot_source_total": 750, "salesforce_source_total": 200},
                    history) == []


def test_each_crm_is_judged_on_its_own_and_unreported_totals_are_skipped():
    rules = load_rules()["sources/crm_contacts"]
    history = [{"hubspot_source_total": 100, "salesforce_source_total": 1000}] * 3
    found = evaluate(rules, {"hubspot_source_total": 60, "salesforce_source_total": 1000},
                     history)
    assert [a.message.split()[0] for a in found] == ["hubspot_source_total"]
    assert evaluate(rules, {"hubspot_source_total": -1, "salesforce_source_total": 1000},
                    history) == []


def test_quarantine_share_error_rate_and_mismatch():
    rules = load_rules()
    assert evaluate(rules["profiles/clean_profiles"],
                    {"quarantined_rows": 40, "raw_rows": 100, "dagster/row_count": 60}, []
                    )[0].rule == "quarantine_share"
    assert evaluate(rules["profiles/clean_profiles"],
                    {"quarantined_rows": 5, "raw_rows": 100}, []) == []
    sync = rules["activation/esp_sync"]
    assert evaluate(sync, {"upserted": 90, "archived": 0, "failed": 10}, [])[0].rule == \
        "error_rate"
    assert evaluate(sync, {"upserted": 99, "archived": 0, "failed": 1}, []) == []
    assert evaluate(sync, {"upserted": 0, "archived": 0, "failed": 0}, []) == []
    recon = rules["observability/reconciliation"]
    assert evaluate(recon, {"mismatches": 2}, [])[0].rule == "mismatch"
    assert evaluate(recon, {"mismatches": 0}, []) == []


def test_freshness():
    rules = load_rules()["sources/crm_contacts"]
    assert freshness_overdue(rules, 30).rule == "freshness"
    assert freshness_overdue(rules, 2) is None
    assert freshness_overdue(rules, None) is None


def test_a_misspelt_rule_is_named(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("assets:\n  sources/crm_contacts:\n    row_cuont: {}\n")
    with pytest.raises(RulesError, match="sources/crm_contacts: unknown rule 'row_cuont'"):
        load_rules(path)
