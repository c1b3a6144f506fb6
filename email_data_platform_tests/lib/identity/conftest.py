"""Shared identity fixtures: a small synthetic population and a model trained on it once."""

import pytest

from email_data_platform.lib.identity.training import train_model
from email_data_platform_tests.lib.identity.people import make_clean_profiles


@pytest.fixture(scope="session")
def population():
    """(clean_profiles, truth) for 400 synthetic people, ~700 records."""
    return make_clean_profiles(persons=400, seed=11)


@pytest.fixture(scope="session")
def trained(population):
    profiles, _ = population
    return train_model(profiles)
