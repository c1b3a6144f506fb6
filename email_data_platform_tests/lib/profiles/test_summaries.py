import polars as pl

from email_data_platform.lib.profiles.stage import clean_contacts, summaries
from email_data_platform_tests.lib.profiles.raw_frames import TODAY, contact, raw_contacts


def test_summaries_count_without_identifying_anyone():
    clean = clean_contacts(raw_contacts(), "run-1", today=TODAY).clean
    by_country = summaries.count_by(clean, ["source", "country"])
    assert by_country.rows() == [("hubspot", "GB", 6)]
    completeness = dict(summaries.profile_completeness(clean).iter_rows())
    assert completeness["email"] == round(5 / 6, 4) and completeness["last_name"] == 1.0
    text = str(by_country.to_dicts()) + str(completeness)
    assert "example.com" not in text and "Lee" not in text


def test_cleaning_note_counts():
    raw = pl.DataFrame([contact("1", phone="call me"), contact("2", phone="n/a", country="Mars")])
    notes = summaries.cleaning_note_counts(clean_contacts(raw, "r", today=TODAY).clean)
    assert dict(notes.iter_rows()) == {"country_unknown": 1, "phone_unparseable": 2}
