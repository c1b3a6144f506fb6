"""`edp alerts`: see the alerts and holds, and release a hold once someone has looked.

    edp alerts list [--all]
    edp alerts ack HOLD_ID --by NAME --reason TEXT

An acknowledgement is written to the hash-chained audit log (privacy.audit_log) with the
person's name as actor and their reason, so an auditor can see who let the ESP sync resume.
"""

import argparse
import uuid

from email_data_platform.cli.warehouse_option import add_warehouse_option, configured_warehouse


def register(commands) -> None:
    alerts = commands.add_parser("alerts", help="alerts raised and the holds on the ESP sync")
    sub = alerts.add_subparsers(dest="alerts_command", required=True)
    listing = sub.add_parser("list", help="open holds and recent alerts with delivery state")
    listing.add_argument("--all", action="store_true",
                         help="also list acknowledged holds (with who released them and why)")
    listing.add_argument("--limit", type=int, default=20, help="alerts shown, newest first")
    ack = sub.add_parser("ack", help="acknowledge a hold: the ESP sync may push again")
    ack.add_argument("hold_id", help="the hold's id, as `edp alerts list` shows it")
    ack.add_argument("--by", required=True, help="who acknowledges (recorded in the audit log)")
    ack.add_argument("--reason", required=True,
                     help="why the anomaly is understood or accepted (recorded in the audit log)")
    for parser in (listing, ack):
        add_warehouse_option(parser)


def dispatch(args: argparse.Namespace) -> int:
    with configured_warehouse(args.warehouse,
                              hint=" (run `edp run` first, or pass --warehouse)") as warehouse:
        if args.alerts_command == "list":
            return _list(warehouse, args.all, args.limit)
        return _ack(warehouse, args.hold_id, args.by, args.reason)


def _list(warehouse, include_released: bool, limit: int) -> int:
    import polars as pl

    from email_data_platform.lib.observability import stage as observability

    holds = observability.all_holds(warehouse) if include_released else \
        observability.open_holds(warehouse)
    alerts = observability.read_alerts(warehouse, limit)
    with pl.Config(tbl_rows=200, tbl_cols=20, fmt_str_lengths=80, tbl_width_chars=200,
                   tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        title = "holds" if include_released else "open holds (the ESP sync is held while any)"
        print(f"{title}: {holds.height}")
        if holds.height:
            print(holds.select("hold_id", "opened_at", "rule", "asset", "message",
                               *(["acknowledged_by", "ack_reason"] if include_released else [])))
        print(f"recent alerts: {alerts.height}")
        if alerts.height:
            print(alerts.select("alert_id", "raised_at", "kind", "asset", "message", "hold_id",
                                "delivery", "attempts"))
    return 0


def _ack(warehouse, hold_id: str, by: str, reason: str) -> int:
    from email_data_platform.lib.observability import stage as observability
    from email_data_platform.lib.privacy.stage import AuditEntry, append_audit_entries

    hold = observability.acknowledge_hold(warehouse, hold_id, by, reason)
    details = {key: hold[key] for key in ("hold_id", "rule", "asset", "message", "ack_reason")}
    append_audit_entries(warehouse, [AuditEntry("hold acknowledged", "observability.holds",
                                                details, actor=by)],
                         run_id=f"cli-{uuid.uuid4().hex[:12]}")
    remaining = observability.open_holds(warehouse).height
    print(f"hold {hold_id} acknowledged by {by}; "
          + ("the ESP sync may push again" if remaining == 0 else
             f"{remaining} other hold(s) still hold the ESP sync"))
    return 0
