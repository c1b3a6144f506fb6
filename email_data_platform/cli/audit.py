"""`edp audit verify` and `edp audit trace EMAIL`: the audit trail, for an auditor."""

import argparse
import json
import os
from pathlib import Path

from email_data_platform.cli.warehouse_option import add_warehouse_option, configured_warehouse


def register(commands) -> None:
    audit = commands.add_parser("audit", help="verify the audit log; trace an address")
    sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = sub.add_parser("verify", help="check the audit chain and its anchor; exit 1 and "
                            "name the first broken entry if anything was changed")
    trace = sub.add_parser("trace", help="why this address was, or was not, emailed")
    trace.add_argument("email", help="the address to trace")
    for parser in (verify, trace):
        add_warehouse_option(parser)
        parser.add_argument("--home", type=Path, default=Path(".edp"),
                            help="working folder holding the Dagster home and local keys")


def dispatch(args: argparse.Namespace) -> int:
    os.environ.setdefault("EDP_HOME", str(args.home))
    if args.audit_command == "verify":
        return _verify(args)
    return _trace(args)


def _verify(args: argparse.Namespace) -> int:
    from email_data_platform.defs.privacy.anchors import find_anchor
    from email_data_platform.lib.privacy.stage import (
        read_audit_log,
        verify_audit_log,
        warehouse_id,
    )

    with configured_warehouse(args.warehouse) as warehouse:
        log = read_audit_log(warehouse)
    with _instance(args.home) as instance:
        verdict = verify_audit_log(log, find_anchor(instance, warehouse_id(log)))
    print(("OK: " if verdict.passed else "FAILED: ") + verdict.describe())
    return 0 if verdict.passed else 1


def _instance(home: Path):
    import dagster as dg

    dagster_home = Path(os.environ.get("DAGSTER_HOME") or home / "dagster_home").resolve()
    if not (dagster_home / "dagster.yaml").exists():
        return dg.DagsterInstance.ephemeral()  # no runs recorded here: no anchor to find
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    return dg.DagsterInstance.get()


def _trace(args: argparse.Namespace) -> int:
    from email_data_platform.lib.privacy.trace import trace_address

    with configured_warehouse(args.warehouse) as warehouse:
        trace = trace_address(warehouse, args.email)
    print(json.dumps(trace, indent=2, default=str))
    return 0
