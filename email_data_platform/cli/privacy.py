"""`edp privacy`: data subjects' rights from the command line.

- `edp privacy erase EMAIL | --record ID` records an erasure request (the next run carries it
  out); `--now` carries out pending requests at once (a run of `privacy/erasure_log`, which needs
  the ESP settings in the environment, as `edp run` has them).
- `edp privacy export EMAIL | --record ID [--out FILE]` writes everything held on the person.
- `edp privacy anonymise [--inactive-days N] [--dry-run]` runs the retention job now.

Output names people by pseudonym only; the address typed is never printed or logged.
"""

import argparse
import os
import sys
from pathlib import Path

ERASURE_LOG_KEY = ["privacy", "erasure_log"]


def register(commands) -> None:
    privacy = commands.add_parser("privacy", help="erasure, access export and retention")
    verbs = privacy.add_subparsers(dest="privacy_command", required=True)
    erase = verbs.add_parser("erase", help="request (and with --now carry out) an erasure")
    erase.add_argument("email", nargs="?", help="the person's email address")
    erase.add_argument("--record", help="a source record id instead, e.g. hubspot:123")
    erase.add_argument("--now", action="store_true", help="carry out pending requests now")
    export = verbs.add_parser("export", help="everything held on a person, as JSON (Art. 15)")
    export.add_argument("email", nargs="?", help="the person's email address")
    export.add_argument("--record", help="a source record id instead")
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")
    anonymise = verbs.add_parser("anonymise", help="run the retention job now")
    anonymise.add_argument("--inactive-days", type=int, default=730,
                           help="days without orders, ESP events or record updates (default 730)")
    anonymise.add_argument("--dry-run", action="store_true",
                           help="count who would be anonymised; change nothing")
    for parser in (erase, export, anonymise):
        parser.add_argument("--warehouse", type=Path, default=Path(".edp/warehouse.duckdb"),
                            help="the warehouse file (default: .edp/warehouse.duckdb)")
        parser.add_argument("--home", type=Path, default=Path(".edp"), help="working folder")


def dispatch(args: argparse.Namespace) -> int:
    os.environ["EDP_WAREHOUSE_PATH"] = str(args.warehouse)
    os.environ["EDP_HOME"] = str(args.home)
    if args.privacy_command == "erase":
        return _erase(args)
    if args.privacy_command == "export":
        return _export(args)
    return _anonymise(args)


def _resources(*keys: str):
    """The project's own bound resources (same keys and settings as a run), initialised."""
    import dagster as dg

    from email_data_platform.definitions import defs as load_defs

    bound = load_defs().resources or {}
    return dg.build_resources({key: bound[key] for key in keys})


def _erase(args: argparse.Namespace) -> int:
    from email_data_platform.lib.privacy.stage import request_erasure, subject_pseudonym

    if not (args.email or args.record or args.now):
        raise ValueError("name the person (EMAIL or --record ID), or pass --now")
    if args.email or args.record:
        with _resources("warehouse", "pseudonymisation", "pii_encryption") as res:
            keyring = res.pseudonymisation.keyring()
            request_id = request_erasure(res.warehouse.get(), res.pii_encryption.cipher(),
                                         keyring, email=args.email, record_id=args.record)
            pseudonym = subject_pseudonym(keyring, args.email, args.record)
        print(f"erasure request {request_id} recorded for {pseudonym}; "
              + ("carrying it out now" if args.now else
                 "the next run (or `edp privacy erase --now`) carries it out"))
    if args.now:
        return _run_selection(args.home, asset_key=ERASURE_LOG_KEY)
    return 0


def _export(args: argparse.Namespace) -> int:
    from email_data_platform.lib.privacy.stage import (
        audit_export,
        export_json,
        export_subject,
        subject_pseudonym,
    )

    with _resources("warehouse", "pseudonymisation") as res:
        wh, keyring = res.warehouse.get(), res.pseudonymisation.keyring()
        document = export_subject(wh, keyring, email=args.email, record_id=args.record)
        audit_export(wh, document, subject_pseudonym(keyring, args.email, args.record),
                     run_id="cli")
    text = export_json(document)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        os.chmod(args.out, 0o600)  # it is personal data
        rows = sum(len(t["rows"]) for t in document["tables"].values())
        print(f"wrote {rows} rows from {len(document['tables'])} tables to {args.out}")
    else:
        sys.stdout.write(text + "\n")
    return 0


def _anonymise(args: argparse.Namespace) -> int:
    config = {"ops": {"anonymise_inactive_people": {"config": {
        "inactive_days": args.inactive_days, "dry_run": args.dry_run}}}}
    return _run_selection(args.home, job_name="privacy_retention_job", run_config=config)


def _run_selection(home: Path, asset_key: list[str] | None = None,
                   job_name: str = "main_job", run_config: dict | None = None) -> int:
    """Run one asset (with its checks) or one job in this process, recorded in the instance."""
    import dagster as dg

    from email_data_platform.cli.run import QUIET_RUN_CONFIG, prepare_instance
    from email_data_platform.definitions import defs as load_defs

    os.environ.setdefault("EDP_ALERT_WEBHOOK_URL", "")  # as `edp run`: alerts stay in the table
    job = load_defs().resolve_job_def(job_name)
    selection = [dg.AssetKey(asset_key)] if asset_key else None
    try:
        with prepare_instance(home) as instance:
            result = job.execute_in_process(
                run_config={**QUIET_RUN_CONFIG, **(run_config or {})}, instance=instance,
                asset_selection=selection, raise_on_error=False)
    except dg.DagsterInvalidConfigError as error:
        raise ValueError("the run needs its settings in the environment (ESP base URLs and "
                         f"keys, as `edp run` sets them): {error}") from None
    failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
    status = "ok" if result.success and not failed else "FAILED"
    name = "/".join(asset_key) if asset_key else job_name
    checks = f"; failed checks: {', '.join(failed)}" if failed else ""
    print(f"{name}: {status} (run {result.run_id}){checks}")
    return 0 if status == "ok" else 1
