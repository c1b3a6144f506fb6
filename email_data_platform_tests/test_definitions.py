"""The Definitions load, and what they define matches the reviewed snapshot.

A changed asset graph is a deliberate act: re-record with
`EDP_UPDATE_SNAPSHOT=1 pytest email_data_platform_tests/test_definitions.py` and review the diff.
"""

import json
import os
from pathlib import Path

import dagster as dg
import pytest

from email_data_platform.definitions import defs as load_defs
from email_data_platform.defs.pools import VENDOR_POOLS, pool_for

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"
STAGES = {"sources", "profiles", "identity", "privacy", "audiences", "activation", "observability"}


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return load_defs()


def describe(definitions: dg.Definitions) -> dict:
    repo = definitions.get_repository_def()
    graph = definitions.resolve_asset_graph()
    return {
        "assets": sorted(key.to_user_string() for key in graph.get_all_asset_keys()),
        "checks": sorted(
            f"{key.asset_key.to_user_string()}:{key.name}" for key in graph.asset_check_keys
        ),
        "sensors": sorted(sensor.name for sensor in repo.sensor_defs),
        "schedules": sorted(schedule.name for schedule in repo.schedule_defs),
        "jobs": sorted(job.name for job in repo.get_all_jobs() if not job.name.startswith("__")),
        "resources": sorted(definitions.resources or {}),
        "pools": dict(sorted(_step_pools(definitions).items())),
    }


def _steps(definitions: dg.Definitions) -> dict[str, dg.OpDefinition]:
    """Every op of every job (asset ops included), by name."""
    repo = definitions.get_repository_def()
    return {op.name: op for job in repo.get_all_jobs() for op in job.graph.iterate_op_defs()}


def _step_pools(definitions: dg.Definitions) -> dict[str, str]:
    return {name: op.pool for name, op in _steps(definitions).items() if op.pool}


def test_definitions_match_snapshot(definitions):
    current = describe(definitions)
    if os.environ.get("EDP_UPDATE_SNAPSHOT"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=2) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())


def test_every_step_calling_a_vendor_takes_its_vendors_pool(definitions):
    """So concurrent runs stay within each vendor's API budget (dagster.prod.yaml's pools)."""
    vendors = set(VENDOR_POOLS)
    calling = {name: op.required_resource_keys & vendors
               for name, op in _steps(definitions).items() if op.required_resource_keys & vendors}
    assert {"sources__crm_contacts", "sources__crm_orders", "sources__esp_events",
            "sources__consent_raw", "activation__esp_sync", "anonymise_inactive_people",
            "privacy__erasure_log", "observability__reconciliation"} <= set(calling)
    pools = _step_pools(definitions)
    for name, used in calling.items():
        assert pools.get(name) == pool_for(*used), f"{name} calls {sorted(used)}"
    assert pools["sources__crm_contacts"] == "crm" and pools["sources__esp_events"] == "esp"
    assert set(pools.values()) == set(VENDOR_POOLS.values())  # no pool without a vendor step


def test_every_asset_is_documented_owned_and_tagged(definitions):
    graph = definitions.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        assert key.path[0] in STAGES, f"{name}: key must start with its stage"
        assert node.description and len(node.description) > 40, f"{name}: needs a docstring"
        assert node.owners, f"{name}: needs owners"
        assert node.kinds, f"{name}: needs kinds"
        assert node.tags.get("stage") == key.path[0], f"{name}: stage tag"
        assert node.tags.get("pii") in {"true", "false"}, f"{name}: pii tag"


def test_main_job_covers_every_asset(definitions):
    job = definitions.resolve_job_def("main_job")
    assert job.asset_layer.asset_graph.get_all_asset_keys() == (
        definitions.resolve_asset_graph().get_all_asset_keys()
    )


@pytest.mark.slow
def test_dg_check_defs_passes():
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    dg_cli = Path(sys.executable).parent / "dg"
    result = subprocess.run([str(dg_cli), "check", "defs"], cwd=root, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "All definitions loaded successfully" in result.stdout + result.stderr
