"""`edp`: the command line users and tests share."""

import argparse
import importlib
import json
import logging
import sys
from pathlib import Path

# Command groups that live in their own module (`cli/<name>.py`), each exposing
# `register(commands)` to add its subparser and `dispatch(args) -> int` to run it. A new group
# is one line here, so stages add commands without editing each other's code.
GROUP_MODULES: dict[str, str] = {
    "alerts": "alerts",
    "privacy": "privacy",
    "connections": "connections",
    "webhooks": "webhooks",
    "audit": "audit",
    "consent": "consent",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edp", description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="materialise the asset graph against the simulators")
    run.add_argument("--warehouse", type=Path, default=Path(".edp/warehouse.duckdb"),
                     help="DuckDB warehouse file (kept between runs: runs are incremental)")
    run.add_argument("--seed-contacts", type=Path,
                     help="CSV or Parquet of your own contacts for the CRM simulator")
    run.add_argument("--contacts", type=int, default=10_000,
                     help="contacts in the generated data set (ignored with --seed-contacts)")
    run.add_argument("--select", dest="selection", help="asset selection, e.g. 'key:sources/*'")
    run.add_argument("--home", type=Path, default=Path(".edp"),
                     help="working folder: data sets, journals, Dagster run history")
    run.add_argument("--step-processes", action="store_true",
                     help="each step in its own process, one at a time: memory bounded by the "
                     "largest step (for large data sets; a few seconds more per step)")

    generate = commands.add_parser("generate", help="write the synthetic data set")
    generate.add_argument("--contacts", type=int, default=10_000, help="people to generate")
    generate.add_argument("--seed", type=int, default=42,
                          help="random seed: the same seed gives the same data set")
    generate.add_argument("--out", type=Path, required=True, help="folder to write into")

    sandbox = commands.add_parser("sandbox", help="the local vendor simulators")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    serve = sandbox_commands.add_parser("serve", help="serve the simulators in the foreground")
    serve.add_argument("--data", type=Path, help="data set folder (default: generate one)")
    serve.add_argument("--contacts", type=int, default=10_000,
                       help="contacts to generate when --data is not given")
    serve.add_argument("--seed", type=int, default=42, help="seed of the generated data set")
    serve.add_argument("--journal", type=Path, default=Path(".edp/sandbox/journal.jsonl"),
                       help="JSON-lines file recording every request the simulators answer")
    serve.add_argument("--state", type=Path, help="ESP accounts kept across restarts "
                       "(default: a state folder next to the journal)")
    serve.add_argument("--webhook-spool", type=Path, help="where the ESP webhook receiver run "
                       "beside the simulators spools events (default: <home>/webhooks/)")

    dev = commands.add_parser("dev", help="simulators plus the Dagster UI on port 3000")
    dev.add_argument("--port", type=int, default=3000, help="port of the Dagster UI")
    dev.add_argument("--contacts", type=int, default=10_000,
                     help="contacts in the generated data set the simulators serve")
    dev.add_argument("--warehouse", type=Path, default=Path(".edp/warehouse.duckdb"),
                     help="DuckDB warehouse file the runs write")
    dev.add_argument("--home", type=Path, default=Path(".edp"),
                     help="working folder: data sets, journals, Dagster run history")

    identity = commands.add_parser("identity", help="entity resolution tools")
    identity_commands = identity.add_subparsers(dest="identity_command", required=True)
    explain = identity_commands.add_parser("explain", help="why a record sits in its entity")
    explain.add_argument("record_id", help="a record id such as hubspot:123")
    explain.add_argument("--warehouse", type=Path, default=Path(".edp/warehouse.duckdb"),
                         help="DuckDB warehouse file to read")
    for module in GROUP_MODULES.values():
        _group(module).register(commands)
    return parser


def _group(module: str):
    return importlib.import_module(f"email_data_platform.cli.{module}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except (ValueError, LookupError, FileNotFoundError) as error:  # bad input: no traceback
        print(f"edp: {error}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Splink's EM notes (levels not observed in a small sample) are for model review, not runs.
    logging.getLogger("splink").setLevel(logging.ERROR)
    if args.command == "run":
        from email_data_platform.cli.run import run_command

        return run_command(args.warehouse, args.contacts, args.seed_contacts, args.selection,
                           args.home, args.step_processes)
    if args.command == "generate":
        from email_data_platform.sandbox.generator import generate_dataset, write_dataset

        paths = write_dataset(generate_dataset(args.contacts, args.seed), args.out)
        print(json.dumps({name: str(path) for name, path in paths.items()}))
        return 0
    if args.command == "sandbox":
        return _serve(args)
    if args.command == "dev":
        from email_data_platform.cli.dev import dev_command

        return dev_command(args.port, args.contacts, args.warehouse, args.home)
    if args.command == "identity":
        return _explain(args)
    if args.command in GROUP_MODULES:
        return _group(GROUP_MODULES[args.command]).dispatch(args)
    return 2


def _serve(args: argparse.Namespace) -> int:
    from email_data_platform.cli.run import DEFAULT_SEED, prepare_data
    from email_data_platform.sandbox.server import run_sandbox

    data_dir = args.data or prepare_data(Path(".edp"), args.contacts, args.seed or DEFAULT_SEED,
                                         None)
    args.journal.parent.mkdir(parents=True, exist_ok=True)

    def announce(info: dict) -> None:
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()

    run_sandbox(data_dir, args.journal, on_ready=announce,
                state_dir=args.state or args.journal.parent / "state",
                webhook_spool=args.webhook_spool
                or args.journal.parent.parent / "webhooks" / "spool")
    return 0


def _explain(args: argparse.Namespace) -> int:
    import polars as pl

    from email_data_platform.lib.identity.explain import explain_record
    from email_data_platform.lib.warehouse import DuckDBWarehouse

    warehouse = DuckDBWarehouse(args.warehouse)
    table = explain_record(warehouse, args.record_id)
    if table.height == 0:
        print(f"{args.record_id}: no scored pairs; it forms an entity on its own")
        return 0
    with pl.Config(tbl_rows=200, tbl_cols=30, fmt_str_lengths=40, tbl_width_chars=200,
                   tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        print(table)
    return 0
