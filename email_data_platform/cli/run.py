"""`edp run`: simulators up, whole asset graph materialised into DuckDB, summary printed."""

import hashlib
import logging
import os
import shutil
import time
import uuid
from pathlib import Path

import dagster as dg
import polars as pl

from email_data_platform.cli.progress import RUN_TAG, RunProgress
from email_data_platform.cli.sandbox_process import sandbox_env, sandbox_process
from email_data_platform.cli.summary import RunSummary, format_summary, summarise

logger = logging.getLogger(__name__)

MAIN_JOB = "main_job"
STEP_PROCESSES_JOB = "main_job_step_processes"
DEFAULT_SEED = 42
# Step-by-step events belong in the UI's run log; the terminal gets RunProgress's lines and the
# summary (a failed step's traceback is in the UI, its message in the summary).
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
DEFAULT_DAGSTER_YAML = "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"


def prepare_data(home: Path, contacts: int, seed: int, seed_contacts: Path | None) -> Path:
    """Write (or reuse) the data set the simulators serve; returns its folder."""
    from email_data_platform.sandbox import generator

    if seed_contacts is not None:
        digest = hashlib.sha256(seed_contacts.read_bytes()).hexdigest()[:12]
        out = home / "data" / f"seed-{digest}-{seed}"
        if not (out / "manifest.json").exists():
            contacts_frame = generator.load_seed_contacts(seed_contacts)
            generator.write_dataset(generator.dataset_for_contacts(contacts_frame, seed), out)
        return out
    out = home / "data" / f"generated-{contacts}-{seed}"
    if not (out / "manifest.json").exists():
        generator.write_dataset(generator.generate_dataset(contacts, seed), out)
    return out


def truth_env(data_dir: Path) -> dict[str, str]:
    """Point identity's quality check at the ground truth, when the data set has one.

    Generated data has it; a user's seed contacts do not (their truth file is empty).
    """
    truth = data_dir / "truth.parquet"
    if truth.exists() and pl.scan_parquet(truth).select(pl.len()).collect().item() > 0:
        return {"EDP_TRUTH_PATH": str(truth.resolve())}
    return {}


def prepare_instance(home: Path) -> dg.DagsterInstance:
    """Runs land in a persistent instance so `make dev` shows `edp run`'s history too."""
    if not os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str((home / "dagster_home").resolve())
    dagster_home = Path(os.environ["DAGSTER_HOME"])
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists():
        if Path("dagster.yaml").exists():
            shutil.copy("dagster.yaml", config)
        else:
            config.write_text(DEFAULT_DAGSTER_YAML)
    return dg.DagsterInstance.get()


def _asset_keys(job: dg.JobDefinition, defs: dg.Definitions, selection: str | None
                ) -> tuple[list[dg.AssetKey] | None, list[dg.AssetKey]]:
    """(the keys `selection` picks, or None for the whole job; every key the run covers)."""
    keys = None
    if selection:
        asset_graph = defs.resolve_asset_graph()
        keys = sorted(dg.AssetSelection.from_string(selection).resolve(asset_graph))
        if not keys:
            raise SystemExit(f"selection {selection!r} matches no asset")
    all_keys = keys or sorted(job.asset_layer.asset_graph.get_all_asset_keys())
    print(f"materialising {len(all_keys)} assets (each line as it finishes; details in the UI)",
          flush=True)
    return keys, list(all_keys)


def materialise(
    selection: str | None, instance: dg.DagsterInstance
) -> tuple[dg.ExecuteInProcessResult, list[dg.AssetKey]]:
    """Run the main job (or the selected assets of it) in this process."""
    from email_data_platform.definitions import defs as load_defs

    defs = load_defs()
    job = defs.resolve_job_def(MAIN_JOB)
    keys, all_keys = _asset_keys(job, defs, selection)
    run_id = str(uuid.uuid4())
    with RunProgress(instance, run_id):
        result = job.execute_in_process(run_config=QUIET_RUN_CONFIG, instance=instance,
                                        asset_selection=keys, raise_on_error=False,
                                        run_id=run_id)
    return result, all_keys


def step_processes_job() -> dg.JobDefinition:
    """The main job with a process per step, rebuilt by name in each step's process."""
    from email_data_platform.definitions import defs as load_defs

    return load_defs().resolve_job_def(STEP_PROCESSES_JOB)


def materialise_in_step_processes(selection: str | None,
                                  instance: dg.DagsterInstance) -> RunSummary:
    """Run the main job with each step in its own process, one at a time; its summary."""
    from email_data_platform.definitions import defs as load_defs

    keys, all_keys = _asset_keys(step_processes_job(), load_defs(), selection)
    tag = str(uuid.uuid4())
    with RunProgress(instance, tag=tag):
        result = dg.execute_job(dg.reconstructable(step_processes_job), instance,
                                run_config=QUIET_RUN_CONFIG, tags={RUN_TAG: tag},
                                asset_selection=keys)
    with result:
        return summarise(result, all_keys, instance)


def run_command(
    warehouse: Path, contacts: int, seed_contacts: Path | None, selection: str | None,
    home: Path = Path(".edp"), step_processes: bool = False,
) -> int:
    home.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    data_dir = prepare_data(home, contacts, DEFAULT_SEED, seed_contacts)
    journal = home / "sandbox" / "journal.jsonl"
    journal.parent.mkdir(parents=True, exist_ok=True)
    with sandbox_process(data_dir, journal) as info:
        os.environ.update(sandbox_env(info))
        os.environ["EDP_WAREHOUSE_PATH"] = str(warehouse)
        os.environ["EDP_HOME"] = str(home)
        os.environ.setdefault("EDP_ALERT_WEBHOOK_URL", "")  # unset: alerts stay in the table
        for key, value in truth_env(data_dir).items():
            os.environ.setdefault(key, value)
        materialise_started = time.monotonic()
        with prepare_instance(home) as instance:
            if step_processes:
                summary = materialise_in_step_processes(selection, instance)
            else:
                result, keys = materialise(selection, instance)
                summary = summarise(result, keys, instance)
            materialise_seconds = time.monotonic() - materialise_started
    print(format_summary(summary))
    print(f"materialisation {materialise_seconds:.1f} s, total {time.monotonic() - started:.1f} s; "
          f"warehouse {warehouse}; journal {journal}")
    return 0 if summary.ok else 1
