"""`edp audit verify`: exit 0 on an intact, anchored log; exit 1 naming the first broken entry
after any edit, deletion, reordering or cut; switching warehouses under one home passes."""

import dagster as dg
import pytest

from email_data_platform.cli import main
from email_data_platform.defs.privacy import assets, checks
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform_tests.defs.privacy.upstream import seed_upstream

PRIVACY = [assets.consent_events, assets.consent_ledger, assets.audit_log,
           checks.audit_chain_intact]


@pytest.fixture
def home(tmp_path, monkeypatch):
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    monkeypatch.setenv("EDP_HOME", str(tmp_path))
    return tmp_path


def run_privacy(home, name: str) -> str:
    path = home / name
    if not path.exists():
        wh = DuckDBWarehouse(path)
        seed_upstream(wh)
        wh.close()
    with dg.DagsterInstance.get() as instance:
        assert dg.materialize(PRIVACY, instance=instance,
                              resources={"warehouse": WarehouseResource(path=str(path))}).success
    return str(path)


def verify(home, warehouse, capsys) -> tuple[int, str]:
    code = main(["audit", "verify", "--warehouse", warehouse, "--home", str(home)])
    return code, capsys.readouterr().out


def tamper(path, sql):
    wh = DuckDBWarehouse(path)
    wh.execute(sql)
    wh.close()


def test_verify_passes_across_warehouse_switches(home, capsys):
    first = run_privacy(home, "wh.duckdb")
    other = run_privacy(home, "other.duckdb")
    run_privacy(home, "wh.duckdb")
    for warehouse in (first, other):
        code, out = verify(home, warehouse, capsys)
        assert code == 0 and out.startswith("OK: chain intact")
        assert "the anchored entry is present and unchanged" in out


@pytest.mark.parametrize(("sql", "named"), [
    ("update privacy.audit_log set details = '{}' where seq = 2", "seq 2 (content does not"),
    ("delete from privacy.audit_log where seq = 2", "seq 3 (expected seq 2"),
    ("update privacy.audit_log set seq = case seq when 2 then 3 when 3 then 2 else seq end",
     "seq 2 (prev_hash"),
    ("delete from privacy.audit_log where seq = (select max(seq) from privacy.audit_log)",
     "anchored entry was cut"),
], ids=["edited", "deleted", "reordered", "truncated"])
def test_verify_fails_and_names_the_entry(home, capsys, sql, named):
    warehouse = run_privacy(home, "wh.duckdb")
    tamper(warehouse, sql)
    code, out = verify(home, warehouse, capsys)
    assert code == 1 and out.startswith("FAILED: ") and named in out


def test_a_lost_anchor_fails_verification(home, capsys, tmp_path, monkeypatch):
    warehouse = run_privacy(home, "wh.duckdb")
    empty_home = tmp_path / "elsewhere" / "dagster_home"
    empty_home.mkdir(parents=True)
    (empty_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(empty_home))
    code, out = verify(home, warehouse, capsys)
    assert code == 1 and "no anchor for this warehouse was found" in out
