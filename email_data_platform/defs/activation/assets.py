"""Activation stage: the minimised ESP payload and the diff-based, resumable sync to every
destination declared in destinations.yaml (Mailchimp and SendGrid by default)."""

import dagster as dg
import polars as pl

from email_data_platform.defs.connections import MailchimpResource, SendGridResource
from email_data_platform.defs.metadata import OWNERS, counts_by, table_metadata
from email_data_platform.defs.observability.holds import refuse_sync_while_held
from email_data_platform.defs.pools import pool_for
from email_data_platform.defs.privacy.resources import PseudonymisationResource
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.activation.stage import (
    DEFAULT_DESTINATIONS_PATH,
    SyncSettings,
    build_payload,
    destinations_for,
    esp_targets,
    receipts_this_run,
    sync_destination,
)
from email_data_platform.lib.audiences.stage import declared_segment_names
from email_data_platform.lib.markdown import frame_to_markdown

ESP_SYNC = dg.AssetKey(["activation", "esp_sync"])
SYNC_RECEIPTS = dg.AssetKey(["activation", "sync_receipts"])
# Read when the code location loads, so a broken destinations file fails there, named.
DESTINATIONS = destinations_for(DEFAULT_DESTINATIONS_PATH, declared_segment_names())


class EspSyncConfig(dg.Config):
    dry_run: bool = False
    """Preview what would be sent and removed (counts and a pseudonymised sample); nothing is
    sent, no state, receipt or table changes."""
    batch_size: int = 30_000
    """Members per write request, capped by each ESP's maximum (Mailchimp 500, SendGrid 30,000)."""
    max_attempts: int = 3
    """Attempts per member the ESP refuses with a transient error before it is recorded failed."""
    max_archive_fraction: float = 0.5
    """Refuse to remove more than this share of a list in one sync (guards broken upstreams)."""
    commit_every: int = 25_000
    """Members whose receipts and state are committed together; a killed sync re-sends at most
    this many (still pending) on its next run."""
    reconcile_with_esp: bool = True
    """Check the ESP still holds our members first (Mailchimp: list them, one request per 1,000;
    SendGrid: the list's count) and re-send those it lost; off = trust the sync state alone."""


@dg.asset(
    key=["activation", "esp_payload"],
    group_name="activation",
    deps=[
        dg.AssetKey(["audiences", "marketable_audience"]),
        dg.AssetKey(["audiences", "customer_features"]), dg.AssetKey(["audiences", "segments"]),
    ],
    owners=OWNERS,
    kinds={"duckdb", "polars", "mailchimp", "sendgrid"},
    tags={"stage": "activation", "pii": "true"},
)
def esp_payload(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Exactly what each email provider receives for each marketable person, and nothing more:
    one row per destination and address with the fields destinations.yaml maps (Mailchimp merge
    fields and tags; SendGrid fields), personal ones empty without a personalisation grant.
    Each row keeps the consent event that allows it (never sent). Phone, address, birth date and
    internal scores never leave the warehouse.
    """
    payload = build_payload(warehouse.get(), DESTINATIONS)
    return dg.MaterializeResult(metadata=table_metadata(
        payload, counts_by(payload.with_columns(tags_per_member=pl.col("tags").list.len()),
                           "destination", "tags_per_member"),
        destinations=", ".join(d.name for d in DESTINATIONS),
        **{"dagster/column_lineage": _payload_lineage()},
    ))


@dg.multi_asset(
    name="activation__esp_sync",
    pool=pool_for("mailchimp", "sendgrid"),
    specs=[
        dg.AssetSpec(
            ESP_SYNC, deps=[esp_payload], group_name="activation", owners=OWNERS,
            kinds={"duckdb", "polars", "mailchimp", "sendgrid"},
            tags={"stage": "activation", "pii": "false"},
            description="One summary row per destination per sync: how many people were added "
            "or updated, removed (left the audience), left unchanged, refused or failed, and the "
            "write requests and job polls it took.",
        ),
        dg.AssetSpec(
            SYNC_RECEIPTS, deps=[esp_payload], group_name="activation", owners=OWNERS,
            kinds={"duckdb", "polars", "mailchimp", "sendgrid"},
            tags={"stage": "activation", "pii": "false"},
            description="A receipt per member per sync and destination: upserted or removed, ok, "
            "failed (retried next run) or rejected (not re-sent until the row changes), with the "
            "provider's reason, keyed by subscriber hash, never by email.",
        ),
    ],
)
def esp_sync(
    context: dg.AssetExecutionContext, config: EspSyncConfig, warehouse: WarehouseResource,
    mailchimp: MailchimpResource, sendgrid: SendGridResource,
    pseudonymisation: PseudonymisationResource,
):
    """Push the payload to every destination: only new or changed members, in batches at each
    API's maximum; members who left are archived or taken off the list. Progress is committed
    after every batch, so a crashed sync resumes without sending anyone twice. Dry run previews
    counts and a pseudonymised sample only."""
    wh = warehouse.get()
    settings = SyncSettings(batch_size=config.batch_size, max_attempts=config.max_attempts,
                            max_archive_fraction=config.max_archive_fraction,
                            commit_every=config.commit_every)
    if not config.dry_run:
        refuse_sync_while_held(wh)  # an unacknowledged anomaly hold stops every push
    keyring = pseudonymisation.keyring()
    clients = {"mailchimp": mailchimp.client(), "sendgrid": sendgrid.client()}
    try:
        outcomes = [sync_destination(wh, target, context.run_id, settings, config.dry_run,
                                     config.reconcile_with_esp, keyring.pseudonym)
                    for target in esp_targets(DESTINATIONS, clients["mailchimp"],
                                              mailchimp.list_id, clients["sendgrid"])]
    finally:
        for client in clients.values():
            client.close()
    refused = [o for o in outcomes if o.refused and not o.dry_run]
    if refused:
        raise dg.Failure(description="; ".join(f"{o.destination}: {o.refused}" for o in refused),
                         metadata={o.destination: str(o.counts) for o in refused})
    yield from _sync_results(wh, context.run_id, outcomes, config.dry_run)


def _sync_results(wh, run_id: str, outcomes: list, dry_run: bool):
    """The two assets' materialisations: counts (and a sample in a dry run), this run's receipts."""
    counts = {f"{o.destination}/{k}": v for o in outcomes for k, v in o.counts.items()}
    if dry_run:
        sample = pl.DataFrame([{"destination": o.destination, **m}
                               for o in outcomes for m in o.sample],
                              schema={"destination": pl.Utf8, "member": pl.Utf8,
                                      "action": pl.Utf8, "tags": pl.Utf8})
        yield dg.MaterializeResult(asset_key=ESP_SYNC, metadata={
            **counts, "dry_run": True, "dagster/row_count": _rows(wh, "activation.esp_sync"),
            "archive_guard": "; ".join(f"{o.destination}: {o.refused}" for o in outcomes
                                       if o.refused) or "ok",
            "sample": dg.MetadataValue.md(frame_to_markdown(sample) if sample.height
                                          else "_nothing to send_")})
        yield dg.MaterializeResult(asset_key=SYNC_RECEIPTS, metadata={
            "dry_run": True, "dagster/row_count": _rows(wh, "activation.sync_receipts")})
        return
    summary = pl.concat([o.summary for o in outcomes], how="diagonal_relaxed")
    counts |= {f"{row['destination']}/{k}": v for row in summary.iter_rows(named=True)
               for k, v in row.items() if isinstance(v, int)}
    totals = {c: int(summary[c].sum()) for c in ("upserted", "archived", "failed", "rejected",
                                                 "unchanged", "write_requests", "job_polls")}
    yield dg.MaterializeResult(asset_key=ESP_SYNC, metadata=table_metadata(
        summary, **totals, **counts, dry_run=False))
    this_run = receipts_this_run(wh, run_id)
    yield dg.MaterializeResult(asset_key=SYNC_RECEIPTS, metadata={
        "dagster/row_count": _rows(wh, "activation.sync_receipts"),
        "receipts_this_run": int(this_run["rows"].sum()) if this_run.height else 0,
        "preview": dg.MetadataValue.md(
            frame_to_markdown(this_run) if this_run.height else "_no receipts this run_"),
    })


def _rows(wh, table: str) -> int:
    return wh.row_count(table) if wh.exists(table) else 0


def _payload_lineage() -> dg.TableColumnLineage:
    audience = dg.AssetKey(["audiences", "marketable_audience"])
    features = dg.AssetKey(["audiences", "customer_features"])
    segments = dg.AssetKey(["audiences", "segments"])
    return dg.TableColumnLineage(deps_by_column={
        "email": [dg.TableColumnDep(audience, "email")],
        "subscriber_hash": [dg.TableColumnDep(audience, "email")],
        "consent_event_id": [dg.TableColumnDep(audience, "consent_event_id")],
        "merge_fields": [dg.TableColumnDep(audience, "first_name"),
                         dg.TableColumnDep(audience, "last_name"),
                         dg.TableColumnDep(features, "lifetime_value"),
                         dg.TableColumnDep(segments, "segment")],
        "tags": [dg.TableColumnDep(segments, "segment")],
    })
