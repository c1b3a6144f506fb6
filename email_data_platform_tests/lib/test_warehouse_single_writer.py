"""DuckDB allows one writing process per file: a second one waits, then fails saying why."""

import subprocess
import sys
import time

import polars as pl
import pytest

from email_data_platform.lib.warehouse import DuckDBWarehouse, WarehouseBusyError

HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def hold(path, seconds: float) -> subprocess.Popen:
    """Another process (another run) with the file open for `seconds`."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seconds)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "holding"
    return process


@pytest.fixture
def path(tmp_path):
    target = tmp_path / "wh.duckdb"
    with DuckDBWarehouse(target) as wh:
        wh.replace("stage.t", pl.DataFrame({"k": [1]}))
    return target


def test_a_second_writer_fails_with_a_clear_message_and_the_file_intact(path):
    holder = hold(path, 30)
    try:
        wh = DuckDBWarehouse(path, lock_timeout_s=1)
        with pytest.raises(WarehouseBusyError, match="in use by another process"):
            wh.replace("stage.t", pl.DataFrame({"k": [2]}))
    finally:
        holder.kill()
        holder.wait()
    with DuckDBWarehouse(path) as wh:
        assert wh.read("stage.t")["k"].to_list() == [1]


def test_a_second_writer_waits_for_the_first_to_finish(path):
    holder = hold(path, 1.5)
    started = time.monotonic()
    with DuckDBWarehouse(path, lock_timeout_s=30) as wh:
        wh.replace("stage.t", pl.DataFrame({"k": [2]}))
        assert wh.read("stage.t")["k"].to_list() == [2]
    assert time.monotonic() - started >= 1.0
    holder.wait()
