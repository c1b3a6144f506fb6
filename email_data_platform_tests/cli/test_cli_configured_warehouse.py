"""`edp consent import`, `edp audit verify` and `edp alerts` work on the configured warehouse
(EDP_WAREHOUSE, the resource the code location binds), here fakesnow's Snowflake server;
`--warehouse PATH` still opens that DuckDB file."""

import json

import pytest

from email_data_platform.cli import main
from email_data_platform.cli.warehouse_option import configured_warehouse, duckdb_path
from email_data_platform.lib.warehouse import DuckDBWarehouse, open_warehouse
from email_data_platform_tests.lib.privacy.test_receipts import ONETRUST
from email_data_platform_tests.warehouse_servers import fakesnow_settings


@pytest.fixture(scope="module")
def snowflake():
    with fakesnow_settings("edp_cli") as settings:
        yield settings


@pytest.fixture
def snowflake_env(snowflake, tmp_path, monkeypatch):
    args = snowflake.connection_args
    env = {"EDP_WAREHOUSE": "snowflake", "SNOWFLAKE_ACCOUNT": snowflake.account,
           "SNOWFLAKE_USER": snowflake.user, "SNOWFLAKE_PASSWORD": snowflake.password,
           "SNOWFLAKE_DATABASE": snowflake.database, "SNOWFLAKE_HOST": args["host"],
           "SNOWFLAKE_PORT": str(args["port"]), "SNOWFLAKE_PROTOCOL": args["protocol"],
           "EDP_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "no_dagster_home")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("EDP_WAREHOUSE_PATH", raising=False)
    return env


def test_commands_use_the_configured_snowflake_warehouse(snowflake, snowflake_env, tmp_path,
                                                         capsys):
    receipts = tmp_path / "receipts.json"
    receipts.write_text(json.dumps(ONETRUST))
    home = ["--home", str(tmp_path)]
    assert main(["consent", "import", str(receipts), "--source", "onetrust", *home]) == 0
    assert json.loads(capsys.readouterr().out)["new_events"] == 3
    wh = open_warehouse("snowflake", snowflake=snowflake)
    try:
        assert wh.row_count("privacy.consent_events") == 3
        assert "consent receipts imported" in wh.read("privacy.audit_log")["action"].to_list()
    finally:
        wh.close()
    assert main(["audit", "verify", *home]) == 0
    assert capsys.readouterr().out.startswith("OK: chain intact")
    assert main(["alerts", "list"]) == 0
    assert "open holds (the ESP sync is held while any): 0" in capsys.readouterr().out
    assert not (tmp_path / "wh.duckdb").exists()


def test_warehouse_path_still_opens_that_duckdb_file(snowflake_env, tmp_path, capsys):
    receipts = tmp_path / "receipts.json"
    receipts.write_text(json.dumps(ONETRUST))
    path = tmp_path / "wh.duckdb"
    assert main(["consent", "import", str(receipts), "--warehouse", str(path),
                 "--home", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["new_events"] == 3
    with DuckDBWarehouse(path) as wh:
        assert wh.row_count("privacy.consent_events") == 3


def test_which_warehouse_a_command_opens(tmp_path):
    assert duckdb_path(None, {}).as_posix() == ".edp/warehouse.duckdb"
    assert duckdb_path(None, {"EDP_WAREHOUSE_PATH": "/x.duckdb"}).as_posix() == "/x.duckdb"
    assert duckdb_path(None, {"EDP_WAREHOUSE": "bigquery"}) is None
    assert duckdb_path(tmp_path / "a.duckdb", {"EDP_WAREHOUSE": "snowflake"}) == (
        tmp_path / "a.duckdb")
    with pytest.raises(ValueError, match="EDP_WAREHOUSE must be one of"), \
            configured_warehouse(None, {"EDP_WAREHOUSE": "oracle"}):
        pass
    with pytest.raises(FileNotFoundError, match="no warehouse at"), \
            configured_warehouse(tmp_path / "missing.duckdb", {}):
        pass
