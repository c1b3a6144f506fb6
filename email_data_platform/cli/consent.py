"""`edp consent import FILE`: consent receipts from a consent-management platform's export."""

import argparse
import json
import os
import uuid
from pathlib import Path

from email_data_platform.cli.warehouse_option import add_warehouse_option, configured_warehouse


def register(commands) -> None:
    consent = commands.add_parser("consent", help="consent receipts")
    sub = consent.add_subparsers(dest="consent_command", required=True)
    load = sub.add_parser("import", help="load a consent-management platform's receipts "
                          "(OneTrust data-subject JSON, JSON lines or CSV) into "
                          "privacy.consent_events; withdrawals always, grants only if provable")
    load.add_argument("file", type=Path, help="the export file (.json, .jsonl or .csv)")
    load.add_argument("--source", default="consent_import",
                      help="the system the receipts came from, kept with each event")
    add_warehouse_option(load)
    load.add_argument("--home", type=Path, default=Path(".edp"),
                      help="working folder holding the local keys")


def dispatch(args: argparse.Namespace) -> int:
    from email_data_platform.lib.privacy.stage import import_receipts
    os.environ.setdefault("EDP_HOME", str(args.home))
    if not args.file.exists():
        raise FileNotFoundError(f"no receipts file at {args.file}")
    with configured_warehouse(args.warehouse, must_exist=False) as warehouse:
        counts = import_receipts(warehouse, args.file,
                                 run_id=f"edp-consent-import-{uuid.uuid4().hex[:12]}",
                                 source=args.source)
    print(json.dumps(counts, indent=2, default=str))
    return 0
