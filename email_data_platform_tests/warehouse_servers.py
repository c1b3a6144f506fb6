"""Local stand-ins for the cloud warehouses, started by the tests that need them.

Snowflake: fakesnow's HTTP server (in this process, on a free port), reached by the real
snowflake connector through dagster-snowflake. BigQuery: the crucible emulator, a REST server
from its own virtualenv (it pins another DuckDB), found at $EDP_BIGQUERY_EMULATOR or
`.venv-bigquery-emulator/bin/crucible` (`make bigquery-emulator` creates it).
"""

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

from email_data_platform.lib.warehouse import BigQuerySettings, SnowflakeSettings
from email_data_platform_tests.ports import reserved_port

ROOT = Path(__file__).resolve().parents[1]
EMULATOR = ROOT / ".venv-bigquery-emulator" / "bin" / "crucible"


def _keep_timestamp_nulls() -> None:
    """fakesnow 0.11.22 serialises a NULL timestamp as epoch 0 (its struct array drops the null
    mask); real Snowflake returns NULL. Re-apply the mask so tests see what Snowflake sends."""
    import fakesnow.arrow
    import pyarrow as pa

    original = fakesnow.arrow.timestamp_to_sf_struct
    if getattr(original, "keeps_nulls", False):
        return

    def with_nulls(ts):
        if isinstance(ts, pa.ChunkedArray):
            ts = ts.combine_chunks()
        struct = original(ts)
        return pa.StructArray.from_arrays(struct.flatten(), fields=list(struct.type),
                                          mask=ts.is_null())

    with_nulls.keeps_nulls = True
    fakesnow.arrow.timestamp_to_sf_struct = with_nulls


@contextlib.contextmanager
def fakesnow_settings(database: str | None = None) -> Iterator[SnowflakeSettings]:
    """A fakesnow server and a database of its own: fakesnow keeps every server's data in one
    process-wide store, so a shared name would let one test see another's tables (an earlier
    test's tombstones, made with other keys, stop a later run)."""
    import fakesnow

    database = database or f"edp_{uuid.uuid4().hex[:12]}"

    _keep_timestamp_nulls()
    # fakesnow.server() imports its submodule fakesnow.server, which then shadows the function
    # on the package: keep the function from the first call for every later one
    start = fakesnow.__dict__.setdefault("_edp_start_server", fakesnow.server)
    with start() as kwargs:
        extra = {k: kwargs[k] for k in ("host", "port", "protocol", "session_parameters",
                                        "network_timeout")}
        yield SnowflakeSettings(account=kwargs["account"], user=kwargs["user"],
                                password=kwargs["password"], database=database,
                                connection_args=extra)


@contextlib.contextmanager
def bigquery_emulator_settings(project: str = "edp-test") -> Iterator[BigQuerySettings]:
    binary = Path(os.environ.get("EDP_BIGQUERY_EMULATOR", EMULATOR))
    if not binary.exists():
        raise RuntimeError(f"BigQuery emulator not found at {binary}: run `make bigquery-emulator`")
    process = None
    try:
        # The port stays reserved until the emulator answers on it (uvicorn binds with
        # SO_REUSEADDR), so no other process can take it in between.
        with reserved_port() as port:
            process = subprocess.Popen([str(binary), "serve", "--dialect", "bigquery", "--port",
                                        str(port)], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
            endpoint = f"http://127.0.0.1:{port}"
            _wait_until_up(endpoint, process)
        yield BigQuerySettings(project=project, api_endpoint=endpoint, load_format="CSV")
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)


def _wait_until_up(endpoint: str, process: subprocess.Popen, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"BigQuery emulator exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(endpoint, timeout=1)
            return
        time.sleep(0.2)
    raise RuntimeError(f"BigQuery emulator did not answer on {endpoint} in {timeout_s} s")
