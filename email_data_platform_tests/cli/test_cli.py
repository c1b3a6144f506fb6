"""The `edp` command as a user runs it: real processes, real simulators."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import polars as pl
import pytest

from email_data_platform.cli.sandbox_process import read_ready_line, sandbox_env
from email_data_platform.sandbox.generator import generate_dataset

ROOT = Path(__file__).resolve().parents[2]


def edp(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "email_data_platform.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def test_generate_is_deterministic(tmp_path):
    for out in ("a", "b"):
        result = edp("generate", "--contacts", "200", "--seed", "3", "--out", out, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    for name in ("contacts", "truth", "orders", "engagement", "consent"):
        first = (tmp_path / "a" / f"{name}.parquet").read_bytes()
        assert first == (tmp_path / "b" / f"{name}.parquet").read_bytes(), name
    assert pl.read_parquet(tmp_path / "a" / "contacts.parquet").height == 200


def test_sandbox_serve_announces_every_vendor_then_serves(tmp_path):
    edp("generate", "--contacts", "50", "--out", "data", cwd=tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "email_data_platform.cli", "sandbox", "serve", "--data", "data",
         "--journal", "journal.jsonl"],
        cwd=tmp_path, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        info = read_ready_line(proc, timeout=60)
        assert {"hubspot", "mailchimp", "consent"} <= set(info)
        env = sandbox_env(info)
        assert env["HUBSPOT_BASE_URL"].startswith("http://127.0.0.1:")
        response = httpx.get(f"{env['HUBSPOT_BASE_URL']}/crm/v3/objects/contacts?limit=10",
                             headers={"Authorization": f"Bearer {env['HUBSPOT_ACCESS_TOKEN']}"})
        assert response.status_code == 200
        assert len(response.json()["results"]) == 10
        unauthorised = httpx.get(f"{env['HUBSPOT_BASE_URL']}/crm/v3/objects/contacts")
        assert unauthorised.status_code == 401
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    journal = [json.loads(line) for line in (tmp_path / "journal.jsonl").read_text().splitlines()]
    assert {entry["status"] for entry in journal if entry["vendor"] == "hubspot"} == {200, 401}


@pytest.mark.slow
def test_run_with_seed_contacts_materialises_and_summarises(tmp_path):
    contacts = generate_dataset(300, seed=11).contacts
    seed = contacts.select("id", "first_name", "last_name", "email", "phone", "date_of_birth",
                           "city", "postal_code").with_columns(favourite_colour=pl.lit("teal"))
    seed.write_csv(tmp_path / "crm.csv")
    result = edp("run", "--seed-contacts", "crm.csv", "--home", "edp", "--warehouse",
                 "wh.duckdb", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "run OK" in result.stdout
    assert "sources/crm_contacts" in result.stdout and "activation/esp_sync" in result.stdout
    import duckdb

    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        raw_ids = {row[0] for row in con.execute("select object_id from sources.crm_contacts")
                   .fetchall()}
    assert raw_ids == set(seed["id"].to_list())
    record_id = f"hubspot:{sorted(raw_ids)[0]}"
    explained = edp("identity", "explain", record_id, "--warehouse", "wh.duckdb", cwd=tmp_path)
    assert explained.returncode == 0, explained.stderr[-2000:]
    assert record_id in explained.stdout
    unknown = edp("identity", "explain", "hubspot:0", "--warehouse", "wh.duckdb", cwd=tmp_path)
    assert unknown.returncode == 2 and "hubspot:0" in unknown.stderr
    assert "Traceback" not in unknown.stderr


@pytest.mark.slow
def test_run_selection_only_materialises_selected_assets(tmp_path):
    result = edp("run", "--contacts", "200", "--home", "edp", "--warehouse", "wh.duckdb",
                 "--select", "key:sources/crm_contacts", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith(("sources/",
                                                                            "profiles/"))]
    assert [line.split()[0] for line in lines] == ["sources/crm_contacts"]


def test_run_reports_a_bad_seed_file_clearly(tmp_path):
    pl.DataFrame({"id": ["1"], "email": ["a@b.co"]}).write_csv(tmp_path / "bad.csv")
    result = edp("run", "--seed-contacts", "bad.csv", "--home", "edp", cwd=tmp_path)
    assert result.returncode == 2
    assert "first_name" in result.stderr and "bad.csv" in result.stderr
    assert "Traceback" not in result.stderr
