import json

import polars as pl

from email_data_platform.lib.profiles import schemas
from email_data_platform.lib.profiles.stage import clean_contacts
from email_data_platform_tests.lib.profiles.raw_frames import TODAY, contact, raw_contacts


def _rules(result) -> dict[str, str]:
    return dict(result.quarantine.select("record_key", "rule").iter_rows())


def test_every_raw_row_is_clean_or_quarantined_once():
    raw = raw_contacts()
    result = clean_contacts(raw, "run-1", today=TODAY)
    assert result.clean.height + result.quarantine.height == raw.height
    assert result.clean["record_id"].is_unique().all()
    assert set(result.quarantine["run_id"]) == {"run-1"}
    assert set(result.quarantine["table_name"]) == {"crm_contacts"}


def test_each_rule_names_its_record():
    rules = _rules(clean_contacts(raw_contacts(), "run-1", today=TODAY))
    assert rules == {
        "hubspot:3": "superseded_version",
        "hubspot:archived": "archived_in_source",
        "hubspot:script": "markup_in_field",
        "hubspot:long": "field_too_long",
    }


def test_a_bad_optional_value_is_nulled_and_recorded_and_the_contact_stays():
    result = clean_contacts(raw_contacts(), "run-1", today=TODAY)
    kept = result.clean.filter(pl.col("record_id").str.contains("_dob|bad_email"))
    assert sorted(kept["record_id"]) == ["hubspot:bad_email", "hubspot:future_dob",
                                         "hubspot:old_dob"]
    dobs = kept.filter(pl.col("record_id") != "hubspot:bad_email")["date_of_birth"]
    assert dobs.null_count() == 2
    bad_email = kept.filter(pl.col("record_id") == "hubspot:bad_email").row(0, named=True)
    assert bad_email["email"] is None and bad_email["email_key"] is None
    assert bad_email["phone"] == "+442079460958"  # the rest of the record is untouched
    issues = result.field_issues.select("record_key", "field", "rule", "raw_value").rows()
    assert sorted(issues) == [
        ("hubspot:bad_email", "email", "email_invalid", "not-an-email"),
        ("hubspot:future_dob", "date_of_birth", "date_of_birth_in_future", "2090-01-01"),
        ("hubspot:old_dob", "date_of_birth", "date_of_birth_before_1900", "1899-12-31"),
    ]
    assert set(result.field_issues["run_id"]) == {"run-1"}
    assert result.field_issues["reason"].str.len_chars().min() > 10
    assert schemas.validate_table(schemas.CleanProfiles, result.clean, "record_id").passed


def test_each_optional_field_rule_nulls_only_its_field():
    raw = pl.DataFrame([
        contact("1", phone="call me", postal_code="ZZZZZZZZZ", city="<b>Leeds</b>",
                company="<img src=x>"),
        contact("2", country="Atlantis"),
    ])
    result = clean_contacts(raw, "run-1", today=TODAY)
    row = result.clean.row(0, named=True)
    assert [row[c] for c in ("phone", "postal_code", "city", "company")] == [None] * 4
    assert row["email"] == "ann1@example.com" and row["first_name"] == "Ann"
    assert row["country"] == "GB" and str(row["date_of_birth"]) == "1985-03-07"
    assert result.clean["country"].to_list() == ["GB", None]
    assert sorted(result.field_issues["field"]) == ["city", "company", "country", "phone",
                                                    "postal_code"]
    assert result.quarantine.height == 0


def test_only_a_contact_with_no_usable_identifier_is_quarantined_whole():
    raw = pl.DataFrame([
        contact("email_only", phone=None, date_of_birth=None, postal_code=None),
        contact("phone_only", email=None, first_name=None, date_of_birth=None),
        contact("names_dob", email=None, phone=None, postal_code=None),
        contact("names_postcode", email=None, phone=None, date_of_birth="1890-01-01"),
        contact("nothing", email="broken@", phone="n/a", date_of_birth="2099-01-01",
                postal_code=None),
        contact("surname_dob", email=None, phone=None, first_name=None, postal_code=None),
        contact("names_only", email=None, phone=None, date_of_birth=None, postal_code=None),
        contact("dob_postcode", email=None, phone=None, first_name=None, last_name=None),
    ])
    result = clean_contacts(raw, "run-1", today=TODAY)
    assert sorted(result.clean["record_id"]) == [
        "hubspot:email_only", "hubspot:names_dob", "hubspot:names_postcode",
        "hubspot:phone_only", "hubspot:surname_dob"]
    assert _rules(result) == {"hubspot:nothing": "no_usable_identifier",
                              "hubspot:names_only": "no_usable_identifier",
                              "hubspot:dob_postcode": "no_usable_identifier"}
    assert result.clean.height + result.quarantine.height == raw.height


def test_latest_version_of_a_record_wins():
    clean = clean_contacts(raw_contacts(), "run-1", today=TODAY).clean
    assert clean.filter(pl.col("record_id") == "hubspot:3")["first_name"].item() == "New"


def test_clean_profile_is_normalised_and_passes_its_model():
    clean = clean_contacts(raw_contacts(), "run-1", today=TODAY).clean
    mary = clean.filter(pl.col("record_id") == "hubspot:2").row(0, named=True)
    assert (mary["first_name"], mary["last_name"]) == ("Mary", "Jane")  # split: one field held both
    assert mary["email"] == "mary.j+news@googlemail.com"
    assert mary["email_key"] == "maryj@gmail.com"
    assert mary["phone"] == "+442079460959"
    assert mary["country"] == "GB"
    assert str(mary["date_of_birth"]) == "1985-03-07"
    assert schemas.validate_table(schemas.CleanProfiles, clean, "record_id").passed


def test_quarantine_keeps_the_raw_record_and_lists_every_failed_rule():
    raw = pl.DataFrame([contact("x", email="nope", phone=None, date_of_birth=None,
                                postal_code=None, last_name="<i>Lee</i>")])
    row = clean_contacts(raw, "run-1", today=TODAY).quarantine.row(0, named=True)
    assert row["rule"] == "markup_in_field"  # first failing rule by precedence
    assert "no_usable_identifier" in row["reason"]
    assert json.loads(row["raw_record"])["email"] == "nope"


def test_missing_columns_and_wrong_types_do_not_crash():
    raw = pl.DataFrame(
        {
            "record_id": ["hubspot:1", "hubspot:2"],
            "source": ["hubspot"] * 2,
            "phone": [2079460958, None],
            "archived": [None, None],
        }
    )
    result = clean_contacts(raw, "run-1", today=TODAY)
    assert result.clean["phone"].to_list() == ["+442079460958"]
    assert _rules(result) == {"hubspot:2": "no_usable_identifier"}
    assert schemas.validate_table(schemas.CleanProfiles, result.clean, "record_id").passed


def test_rows_without_a_key_are_quarantined_not_dropped():
    raw = pl.DataFrame([contact("1"), contact("2", record_id=None), contact("3", source=" ")])
    result = clean_contacts(raw, "run-1", today=TODAY)
    assert result.clean["record_id"].to_list() == ["hubspot:1"]
    assert result.quarantine["rule"].to_list() == ["missing_required_field"] * 2
    assert result.quarantine["record_key"].to_list() == ["(missing)", "hubspot:3"]


def test_blanked_fields_are_noted_on_kept_rows():
    raw = pl.DataFrame([contact("1", phone="n/a", country="Atlantis")])
    row = clean_contacts(raw, "run-1", today=TODAY).clean.row(0, named=True)
    assert row["phone"] is None and row["country"] is None
    assert row["cleaning_notes"] == "phone_unparseable; country_unknown"


def test_empty_input_gives_empty_tables_with_the_contract_columns():
    result = clean_contacts(raw_contacts().head(0), "run-1", today=TODAY)
    assert result.clean.height == 0 and result.quarantine.height == 0
    assert {"record_id", "email_key", "phone", "date_of_birth"} <= set(result.clean.columns)


def test_placeholder_email_means_no_email_not_a_bad_one():
    raw = pl.DataFrame([contact("1", email="N/A"), contact("2", email="unknown")])
    result = clean_contacts(raw, "run-1", today=TODAY)
    assert result.quarantine.height == 0
    assert result.clean["email"].to_list() == [None, None]
    assert result.clean["cleaning_notes"].to_list() == ["email_placeholder"] * 2


def test_a_source_with_hidden_characters_is_quarantined_not_rewritten():
    raw = pl.DataFrame([contact("1"), contact("2", source="hubspot\u200b")])
    result = clean_contacts(raw, "run-1", today=TODAY)
    assert result.clean["record_id"].to_list() == ["hubspot:1"]
    assert result.quarantine.select("record_key", "rule").rows() == [("hubspot:2", "malformed_key")]


def test_placeholder_birth_date_means_no_date_but_an_impossible_one_is_a_field_issue():
    raw = pl.DataFrame(
        [
            contact("1", date_of_birth="0000-00-00"),
            contact("2", date_of_birth="N/A"),
            contact("3", date_of_birth="31/31/1999"),
        ]
    )
    result = clean_contacts(raw, "run-1", today=TODAY)
    assert result.clean["date_of_birth"].to_list() == [None, None, None]
    assert result.clean["cleaning_notes"].to_list() == [
        "date_of_birth_placeholder", "date_of_birth_placeholder", "date_of_birth_unparseable"
    ]
    assert result.quarantine.height == 0
    assert result.field_issues.select("record_key", "rule", "raw_value").rows() == [
        ("hubspot:3", "date_of_birth_unparseable", "31/31/1999")
    ]


def test_huge_fields_are_cut_in_the_quarantine_with_a_marker():
    raw = pl.DataFrame([contact("long", company="y" * 50_000)])
    row = clean_contacts(raw, "run-1", today=TODAY).quarantine.row(0, named=True)
    company = json.loads(row["raw_record"])["company"]
    assert row["rule"] == "field_too_long"
    assert company.startswith("y" * 4096) and company.endswith("[truncated from 50000 characters]")
    assert len(company) < 4200
