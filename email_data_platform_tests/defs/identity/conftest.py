"""A warehouse seeded with synthetic clean profiles, and the identity resources bound to it."""

import pytest

from email_data_platform.defs.identity.resources import IdentityResource
from email_data_platform.defs.warehouse import ArtifactsResource, WarehouseResource
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform_tests.lib.identity.people import make_clean_profiles


@pytest.fixture
def identity_env(tmp_path):
    """(resources, warehouse path, profiles, truth) with profiles.clean_profiles written."""
    profiles, truth = make_clean_profiles(persons=300, seed=5)
    warehouse_path = tmp_path / "warehouse.duckdb"
    warehouse = DuckDBWarehouse(warehouse_path)
    warehouse.write("profiles.clean_profiles", profiles)
    warehouse.close()
    truth_path = tmp_path / "truth.parquet"
    truth.write_parquet(truth_path)
    resources = {
        "warehouse": WarehouseResource(path=str(warehouse_path)),
        "artifacts": ArtifactsResource(root=str(tmp_path / "edp")),
        "identity": IdentityResource(truth_path=str(truth_path)),
    }
    return resources, warehouse_path, profiles, truth
