"""Correctness at scale (no timing: figures belong to benchmarks/clean_profiles.py)."""

import pytest

from email_data_platform.lib.profiles import schemas
from email_data_platform.lib.profiles.phones import library_share
from email_data_platform.lib.profiles.stage import clean_contacts
from email_data_platform_tests.lib.profiles.raw_frames import generated_contacts


@pytest.mark.slow
def test_two_hundred_thousand_hostile_contacts_are_accounted_for_and_valid():
    raw = generated_contacts(200_000, seed=11, hostile_share=0.002)
    result = clean_contacts(raw, "scale")
    assert result.clean.height + result.quarantine.height == raw.height
    assert schemas.validate_table(schemas.CleanProfiles, result.clean, "record_id").passed
    assert schemas.validate_table(schemas.Quarantine, result.quarantine, "record_key").passed
    assert result.quarantine.height < 0.03 * raw.height
    assert library_share(result.clean.select("phone", "country")) == 0.0
