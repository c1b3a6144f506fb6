"""DuckDB allows one writing process per file: a second one waits, then fails saying why."""

import subprocess
import sys
import threading

import polars as pl
import pytest

from email_data_platform.cli.sandbox_process import read_ready_line
from email_data_platform.lib.warehouse import DuckDBWarehouse, WarehouseBusyError

HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print('"holding"', flush=True)
sys.stdin.readline()  # until the test lets go: no race against a timer
con.close()
"""


def hold(path) -> subprocess.Popen:
    """Another process (another run) with the file open until `release`."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert read_ready_line(process, timeout=60) == "holding"
    return process


def release(process: subprocess.Popen) -> None:
    process.stdin.write("\n")
    process.stdin.flush()
    assert process.wait(timeout=60) == 0


@pytest.fixture
def path(tmp_path):
    target = tmp_path / "wh.duckdb"
    with DuckDBWarehouse(target) as wh:
        wh.replace("stage.t", pl.DataFrame({"k": [1]}))
    return target


def test_a_second_writer_fails_with_a_clear_message_and_the_file_intact(path):
    holder = hold(path)
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
    holder = hold(path)
    events: list[str] = []

    def write() -> None:
        try:
            with DuckDBWarehouse(path, lock_timeout_s=120) as wh:
                wh.replace("stage.t", pl.DataFrame({"k": [2]}))
            events.append("written")
        except Exception as error:  # reported by the assertions below
            events.append(repr(error))

    writer = threading.Thread(target=write)
    writer.start()
    writer.join(timeout=1.0)  # the file is held: the writer must still be waiting
    try:
        assert writer.is_alive() and events == []
        events.append("released")
    finally:
        release(holder)
        writer.join(timeout=120)
    assert events == ["released", "written"]
    with DuckDBWarehouse(path) as wh:
        assert wh.read("stage.t")["k"].to_list() == [2]
