"""The activation stage's facade: what the activation assets and checks call.

Internals: `destinations` (destinations.yaml), `payload` (what each destination receives),
`sync` (plan and push, batch by batch), `esp_targets` (Mailchimp and SendGrid request shapes),
`sync_store` (state and receipts in the warehouse). Callers outside `lib/activation/` import
from here only.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from email_data_platform.lib.activation.destinations import (
    DEFAULT_DESTINATIONS_PATH,
    Destination,
    DestinationDefinitionError,
    load_destinations,
)
from email_data_platform.lib.activation.esp_targets import MailchimpTarget, SendGridTarget
from email_data_platform.lib.activation.payload import (
    EspPayloadModel,
    allow_list_violations,
    build_esp_payload,
)
from email_data_platform.lib.activation.sync import (
    MAILCHIMP_MAX_BATCH,
    MassArchiveError,
    SyncPlan,
    SyncSettings,
    execute_sync,
    forget_members_missing_at_esp,
    plan_sync,
)
from email_data_platform.lib.activation.sync_store import WarehouseSyncStore, append_rows
from email_data_platform.lib.activation.webhook_receiver import ReceiverSettings, build_receiver
from email_data_platform.lib.activation.webhooks import WebhookEvent, WebhookSpool
from email_data_platform.lib.connectors.mailchimp import subscriber_hash
from email_data_platform.lib.privacy.stage import AuditEntry, append_audit_entries

logger = logging.getLogger(__name__)

PAYLOAD = "activation.esp_payload"
SYNC_RUNS = "activation.esp_sync"
RECEIPTS = "activation.sync_receipts"
SAMPLE_SIZE = 5

__all__ = [
    "DEFAULT_DESTINATIONS_PATH", "MAILCHIMP_MAX_BATCH", "Destination",
    "DestinationDefinitionError", "EspPayloadModel", "SyncOutcome", "SyncSettings",
    "allow_list_violations", "build_payload", "destinations_for", "esp_targets",
    "load_destinations", "receipts_this_run", "sync_destination", "ReceiverSettings",
    "WebhookSpool", "build_receiver", "land_webhook_events",
]


@dataclass
class SyncOutcome:
    """What one destination's sync did (or, in a dry run, would do)."""

    destination: str
    counts: dict
    dry_run: bool
    refused: str | None = None  # the archive guard's reason when the sync was refused
    summary: pl.DataFrame = field(default_factory=pl.DataFrame)
    sample: list[dict] = field(default_factory=list)  # dry run: pseudonymised members


def destinations_for(path: str | Path = DEFAULT_DESTINATIONS_PATH,
                     segment_names: set[str] | None = None) -> list[Destination]:
    """The active destinations, validated (segment names checked when given)."""
    return load_destinations(path, segment_names)


def build_payload(warehouse, destinations: list[Destination]) -> pl.DataFrame:
    """Build and write activation.esp_payload from the audience tables; returns it."""
    payload = build_esp_payload(
        warehouse.read("audiences.marketable_audience"),
        warehouse.read("audiences.customer_features"), warehouse.read("audiences.segments"),
        destinations,
    )
    warehouse.write(PAYLOAD, payload)
    return payload


def esp_targets(destinations: list[Destination], mailchimp_client=None,
                mailchimp_list_id: str = "", sendgrid_client=None) -> list:
    """One sync target per active destination, over the vendor clients given."""
    targets = []
    for destination in destinations:
        if destination.vendor == "mailchimp":
            targets.append(MailchimpTarget(mailchimp_client, mailchimp_list_id, destination))
        else:
            targets.append(SendGridTarget(sendgrid_client, destination))
    return targets


def sync_destination(warehouse, target, run_id: str, settings: SyncSettings,
                     dry_run: bool = False, reconcile_with_esp: bool = True,
                     pseudonym: Callable[[str], str] | None = None) -> SyncOutcome:
    """Plan the diff between the destination's payload rows and its sync state, then push it
    (unless dry run: then counts and a pseudonymised sample only, nothing sent or written).

    With `reconcile_with_esp`, members the ESP no longer holds are forgotten first so they are
    sent again. A plan that would remove an implausible share of the list is refused (audited).
    """
    name = target.destination.name
    if hasattr(target, "prepare") and not dry_run:
        target.prepare()
    store = WarehouseSyncStore(warehouse, target.state_key, destination=name)
    state, forgotten = _reconciled_state(store.load_state(), target, reconcile_with_esp, dry_run)
    payload = warehouse.query(f"select * from {PAYLOAD} where destination = ?", [name])
    plan = plan_sync(payload, state)
    counts = {**plan.counts(), "missing_at_esp_resent": forgotten}
    logger.info("%s sync plan: %s (dry run: %s)", name, counts, dry_run)
    refused = _archive_guard_error(plan, settings)
    if dry_run:
        return SyncOutcome(name, counts, True, refused, sample=_sample(plan, pseudonym))
    if refused:
        append_audit_entries(warehouse, [AuditEntry("esp sync refused", SYNC_RUNS,
                                                    {"destination": name, **counts})],
                             run_id=run_id)
        return SyncOutcome(name, counts, False, refused)
    plan = _with_leaver_emails(warehouse, plan, target)
    summary = _push(warehouse, target, plan, store, settings, counts, run_id)
    return SyncOutcome(name, counts, False, summary=summary)


def _reconciled_state(state: pl.DataFrame, target, reconcile: bool, dry_run: bool):
    if not reconcile:
        return state, 0
    if isinstance(target, MailchimpTarget):
        present = target.present_members(state.filter(pl.col("status") == "active").height)
        return (state, 0) if present is None else forget_members_missing_at_esp(state, present)
    if not dry_run and target.list_is_empty():  # the list was reset: push everyone again
        return forget_members_missing_at_esp(state, [])
    return state, 0


def _with_leaver_emails(warehouse, plan: SyncPlan, target) -> SyncPlan:
    """SendGrid finds contacts by address: look leavers' addresses up in the warehouse (the
    state holds none). People erased meanwhile have none left, and need none (privacy erased
    them at every ESP)."""
    if not isinstance(target, SendGridTarget) or not plan.archives.height:
        return plan
    known = _profile_emails(warehouse)
    archives = plan.archives.join(known, on="subscriber_hash", how="left")
    return SyncPlan(plan.upserts, archives, plan.unchanged, plan.active_before,
                    plan.new_members, plan.rejected_unchanged)


def _profile_emails(warehouse) -> pl.DataFrame:
    frames = [warehouse.read(t, ["email"]) for t in ("identity.golden_profiles",
                                                   "profiles.clean_profiles")
              if warehouse.exists(t)]
    if not frames:
        return pl.DataFrame(schema={"subscriber_hash": pl.Utf8, "email": pl.Utf8})
    emails = pl.concat(frames).select(pl.col("email").str.strip_chars().str.to_lowercase())
    con = duckdb.connect()
    try:
        con.register("emails", emails.drop_nulls().unique().to_arrow())
        hashed = con.execute("select md5(email) as subscriber_hash, any_value(email) as email "
                             "from emails group by 1").to_arrow_table()
    finally:
        con.close()
    return pl.from_arrow(hashed)


def receipts_this_run(warehouse, run_id: str) -> pl.DataFrame:
    """Receipt counts per destination, action and status for one run."""
    schema = {"destination": pl.Utf8, "action": pl.Utf8, "status": pl.Utf8, "rows": pl.Int64}
    if not warehouse.exists(RECEIPTS):
        return pl.DataFrame(schema=schema)
    return warehouse.query(f"select destination, action, status, count(*) as rows from "
                           f"{RECEIPTS} where run_id = ? group by all order by all", [run_id])


def _push(warehouse, target, plan: SyncPlan, store: WarehouseSyncStore, settings: SyncSettings,
          counts: dict, run_id: str) -> pl.DataFrame:
    """Execute the plan, then record the run's summary row and an audit entry."""
    started_at = datetime.now(UTC)
    summary = execute_sync(target, plan, store.commit_batch, run_id, settings)
    requests = {"write_requests": target.requests["writes"],
                "job_polls": target.requests["polls"]}
    row = pl.DataFrame([{"run_id": run_id, "destination": target.destination.name,
                         "list_id": target.state_key, "started_at": started_at,
                         "finished_at": datetime.now(UTC), **counts, **summary.as_dict(),
                         **requests}])
    append_rows(warehouse, SYNC_RUNS, row)
    append_audit_entries(warehouse, [AuditEntry(
        "esp sync", SYNC_RUNS, {"destination": target.destination.name,
                                **summary.as_dict(), **requests})], run_id=run_id)
    return row


def _sample(plan: SyncPlan, pseudonym: Callable[[str], str] | None) -> list[dict]:
    """A few members the sync would touch, by pseudonym only (keyed HMAC, never an address)."""
    hide = pseudonym or (lambda value: f"member-{value[:8]}")
    upserts = plan.upserts.head(SAMPLE_SIZE).select(
        "subscriber_hash", "tags", new=pl.col("previous_tags").is_null())
    sample = [{"member": hide(r["subscriber_hash"]),
               "action": "add" if r["new"] else "update", "tags": ",".join(r["tags"] or [])}
              for r in upserts.iter_rows(named=True)]
    return sample + [{"member": hide(h), "action": "remove", "tags": ""}
                     for h in plan.archives.head(SAMPLE_SIZE)["subscriber_hash"].to_list()]


def _archive_guard_error(plan: SyncPlan, settings: SyncSettings) -> str | None:
    try:
        plan.check_archive_guard(settings)
    except MassArchiveError as error:
        return str(error)
    return None


def land_webhook_events(warehouse, events: list[WebhookEvent], run_id: str) -> int:
    """Land the webhook events the platform acts on (unsubscribe, complaint, hard bounce, open,
    click) as rows of sources.esp_events (source `mailchimp_webhook`/`sendgrid_webhook`), through
    the sources stage's landing, so erased people stay out and a replay lands nothing twice.
    Returns how many rows were landed."""
    # the sources stage's own landing and row shape: one definition of sources.esp_events
    from email_data_platform.lib.sources.landing import land
    from email_data_platform.lib.sources.records import esp_events_frame

    landed = 0
    for source in ("mailchimp_webhook", "sendgrid_webhook"):
        rows = [{"campaign_id": None, "email_id": subscriber_hash(e.email), "email": e.email,
                 "event_type": e.event_type, "occurred_at": e.occurred_at}
                for e in events if e.lands and e.source == source]
        if rows:
            frame = esp_events_frame(rows, run_id, datetime.now(UTC), source=source)
            landed += land(warehouse, "sources.esp_events", frame, "event_id")
    return landed
