"""`edp dev`: the simulators in the background and the Dagster UI in the foreground."""

import os
import subprocess
import sys
from pathlib import Path

from email_data_platform.cli.run import DEFAULT_SEED, prepare_data, prepare_instance, truth_env
from email_data_platform.cli.sandbox_process import sandbox_env, sandbox_process


def dev_command(port: int, contacts: int, warehouse: Path, home: Path = Path(".edp")) -> int:
    home.mkdir(parents=True, exist_ok=True)
    data_dir = prepare_data(home, contacts, DEFAULT_SEED, None)
    journal = home / "sandbox" / "journal.jsonl"
    journal.parent.mkdir(parents=True, exist_ok=True)
    prepare_instance(home).dispose()
    with sandbox_process(data_dir, journal) as info:
        env = {
            **os.environ,
            **sandbox_env(info),
            "EDP_WAREHOUSE_PATH": str(warehouse.resolve()),
            "EDP_HOME": str(home.resolve()),
            "EDP_ALERT_WEBHOOK_URL": os.environ.get("EDP_ALERT_WEBHOOK_URL", ""),
            **truth_env(data_dir),
        }
        cmd = [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml",
               "-h", "127.0.0.1", "-p", str(port)]
        print(f"Dagster UI on http://127.0.0.1:{port} (Ctrl-C stops it and the simulators)",
              flush=True)
        try:
            return subprocess.call(cmd, env=env)
        except KeyboardInterrupt:
            return 0
