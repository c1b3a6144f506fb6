"""The cleaners on the synthetic CRM export the sandbox serves (a few hundred contacts)."""

import pytest

from email_data_platform.lib.profiles import schemas
from email_data_platform.lib.profiles.stage import clean_contacts
from email_data_platform.sandbox.generator import DEFAULT_AS_OF
from email_data_platform_tests.lib.profiles.raw_frames import generated_contacts


@pytest.fixture(scope="module")
def generated():
    raw = generated_contacts(400, seed=3)
    # judged on the day the data set is dated, not today: the same rows pass in any year
    return raw, clean_contacts(raw, "run-1", today=DEFAULT_AS_OF.date())


def test_generated_contacts_are_accounted_for_and_valid(generated):
    raw, result = generated
    assert result.clean.height + result.quarantine.height == raw.height
    assert schemas.validate_table(schemas.CleanProfiles, result.clean, "record_id").passed
    # The generator corrupts a few percent of rows on purpose, not most of them.
    assert result.clean.height / raw.height > 0.95


def test_generated_fields_are_normalised(generated):
    _, result = generated
    clean = result.clean
    assert clean["country"].drop_nulls().is_in(["GB", "US", "DE", "FR", "IE", "NL", "ES"]).all()
    phones = clean["phone"].drop_nulls()
    assert phones.len() > 0.7 * clean.height
    assert phones.str.contains(r"^\+[1-9]\d{6,14}$").all()
    assert clean["date_of_birth"].null_count() < 0.3 * clean.height
    names = clean["first_name"].drop_nulls()
    assert (names == names.str.to_titlecase()).all()
    assert (clean["email"].drop_nulls() == clean["email"].drop_nulls().str.to_lowercase()).all()
