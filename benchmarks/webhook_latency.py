"""From an unsubscribe at Mailchimp to the person's removal at SendGrid; prints one JSON line.

    nice -n 10 .venv/bin/python benchmarks/webhook_latency.py --home .edp

Needs a home where `edp run` has run (its warehouse is copied, never changed, and its ESP
accounts are copied too). The simulators and the webhook receiver run in their own process as
in `edp run`; a person on both destinations unsubscribes at Mailchimp (the simulator's
member-event), Mailchimp's webhook reaches the receiver, the sensor is evaluated the moment the
spool holds the event (the daemon ticks every 5 s; add up to that) and `esp_webhook_job` runs in
this process (the daemon would launch it as a run). Figures: seconds to the spooled event, to
the landed event, and to SendGrid no longer listing the person.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from email_data_platform.cli.sandbox_process import sandbox_env, sandbox_process  # noqa: E402
from email_data_platform.lib.connectors.sendgrid import SendGridClient  # noqa: E402
from email_data_platform.lib.warehouse import DuckDBWarehouse  # noqa: E402


def person_on_both(warehouse: Path) -> str:
    wh = DuckDBWarehouse(warehouse)
    try:
        both = wh.query("select email from activation.esp_payload group by email "
                        "having count(distinct destination) = 2 order by email limit 1")
    finally:
        wh.close()
    if not both.height:
        raise SystemExit("no person is on both destinations; run `edp run` first")
    return both["email"][0]


def wait_for(condition, timeout: float = 120.0, step: float = 0.05) -> float:
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > timeout:
            raise SystemExit("timed out")
        time.sleep(step)
    return time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, default=Path(".edp"))
    args = parser.parse_args()
    data_dirs = sorted((args.home / "data").glob("generated-*"))
    if not (args.home / "warehouse.duckdb").exists() or not data_dirs:
        raise SystemExit(f"{args.home} holds no edp run; run `edp run` first")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copy(args.home / "warehouse.duckdb", root / "warehouse.duckdb")
        shutil.copytree(args.home / "sandbox" / "state", root / "sandbox" / "state")
        email = person_on_both(root / "warehouse.duckdb")
        journal = root / "sandbox" / "journal.jsonl"
        with sandbox_process(data_dirs[0], journal) as info:
            os.environ.update(sandbox_env(info))
            os.environ.update({"EDP_WAREHOUSE_PATH": str(root / "warehouse.duckdb"),
                               "EDP_HOME": str(root), "DAGSTER_HOME": str(root / "dagster")})
            os.environ.setdefault("EDP_ALERT_WEBHOOK_URL", "")  # as edp run: alerts stay local
            (root / "dagster").mkdir()
            figures = measure(info, email, Path(info["webhooks"]["spool"]))
    print(json.dumps(figures))


def measure(info: dict, email: str, spool: Path) -> dict:
    from email_data_platform.definitions import defs as load_defs
    from email_data_platform.defs.activation.webhooks import esp_webhook_sensor

    definitions = load_defs()
    grid = SendGridClient(info["sendgrid"]["base_url"], info["sendgrid"]["api_key"])
    listed = grid.search_emails([email])[email]["list_ids"]
    chimp = info["mailchimp"]
    started = time.perf_counter()
    httpx.post(chimp["base_url"].removesuffix("/3.0") + "/_sandbox/member-event",
               auth=("user", chimp["api_key"]), json={"email": email, "type": "unsubscribe"})
    spooled = wait_for(lambda: bool(list(spool.glob("*.json"))))
    resources = {"webhook_spool": definitions.resources["webhook_spool"],
                 "warehouse": definitions.resources["warehouse"]}
    with dg.build_sensor_context(resources=resources,
                                 instance=dg.DagsterInstance.ephemeral()) as context:
        request = esp_webhook_sensor(context)
    landed = time.perf_counter()
    if not isinstance(request, dg.RunRequest):
        raise SystemExit(f"the sensor launched nothing: {request}")
    result = definitions.resolve_job_def("esp_webhook_job").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})
    removed = wait_for(lambda: not set(listed) & set(
        grid.search_emails([email]).get(email, {}).get("list_ids") or []), timeout=30)
    grid.close()
    return {"run_ok": result.success, "seconds_to_spooled": round(spooled - started, 2),
            "seconds_to_landed": round(landed - started, 2),
            "seconds_to_removed_at_sendgrid": round(removed - started, 2),
            "job_seconds": round(removed - landed, 2),
            "note": "plus up to 5 s for the daemon's sensor tick and the run launch"}


if __name__ == "__main__":
    main()
