"""Privacy stage: the consent ledger and the tamper-evident audit log."""

import dagster as dg

from email_data_platform.defs.metadata import OWNERS, counts_by, table_metadata
from email_data_platform.defs.privacy.anchors import find_anchor
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.privacy.stage import (
    ANCHORED,
    AuditEntry,
    append_audit_entries,
    decide_consent,
    read_audit_log,
    record_consent_events,
    verify_audit_log,
    warehouse_id,
)


class ConsentLedgerConfig(dg.Config):
    merge_rule: str = "most_restrictive"
    """How disagreeing records of one person combine: most_restrictive (default) or latest_event."""


CONSENT_EVENTS = dg.AssetKey(["privacy", "consent_events"])
CONSENT_LEDGER = dg.AssetKey(["privacy", "consent_ledger"])
ADDRESS_CONSENT = dg.AssetKey(["privacy", "address_consent"])
TOPIC_PREFERENCES = dg.AssetKey(["privacy", "topic_preferences"])


@dg.asset(
    key=CONSENT_EVENTS,
    group_name="privacy",
    deps=[dg.AssetKey(["profiles", "clean_consent_events"]),
          dg.AssetKey(["profiles", "clean_esp_events"]),
          dg.AssetKey(["profiles", "clean_profiles"]), dg.AssetKey(["sources", "crm_contacts"]),
          dg.AssetKey(["sources", "crm_subscriptions"])],
    owners=OWNERS,
    kinds={"duckdb", "polars"},
    tags={"stage": "privacy", "pii": "true"},
)
def consent_events(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Every consent decision we have heard of, kept for good (append-only): who decided (CRM
    record and/or address), what (purpose, granted or withdrawn), when, through which channel
    and system, under which legal basis and policy version, and the proof to show an auditor.
    Fed by the consent platform, CRM opt-out flags and subscription statuses, and ESP
    unsubscribes, complaints and hard bounces (withdrawals). A withdrawal is never dropped for
    bad metadata.
    """
    wh = warehouse.get()
    counts = record_consent_events(wh, context.run_id)
    events = wh.read("privacy.consent_events", ["purpose", "status", "channel"])
    append_audit_entries(wh, [AuditEntry("consent events recorded", "privacy.consent_events",
                                         counts)], run_id=context.run_id)
    return dg.MaterializeResult(metadata=table_metadata(
        events, counts_by(events, "purpose", "status"), **counts))


@dg.multi_asset(
    name="privacy__consent_ledger",
    specs=[
        dg.AssetSpec(CONSENT_LEDGER, deps=[CONSENT_EVENTS, dg.AssetKey(["identity", "entities"])],
                     group_name="privacy", owners=OWNERS, kinds={"duckdb", "polars"},
                     tags={"stage": "privacy", "pii": "false"},
                     description="What each person has agreed to, per purpose: one decision "
                     "per person and purpose, with the event, channel and policy behind it."),
        dg.AssetSpec(ADDRESS_CONSENT, deps=[CONSENT_EVENTS], group_name="privacy",
                     owners=OWNERS, kinds={"duckdb", "polars"},
                     tags={"stage": "privacy", "pii": "true"},
                     description="The current decision per email address and purpose: only an "
                     "address with its own grant is ever mailed."),
        dg.AssetSpec(TOPIC_PREFERENCES, deps=[CONSENT_EVENTS], group_name="privacy",
                     owners=OWNERS, kinds={"duckdb", "polars"},
                     tags={"stage": "privacy", "pii": "false"},
                     description="Preference-centre topics (newsletter, offers, ...) each "
                     "person is in or has left."),
    ],
)
def consent_ledger(
    context: dg.AssetExecutionContext, config: ConsentLedgerConfig, warehouse: WarehouseResource
):
    """Consent is explicit only: no recorded event means no consent. A withdrawal reaches the
    record it names and everyone using its address; when a person's merged records disagree,
    or two events share a timestamp, the more restrictive answer (withdrawn) wins, so a wrongly
    merged household member never inherits a grant. Each address is decided on its own events.
    """
    wh = warehouse.get()
    decided = decide_consent(wh, config.merge_rule)
    summary = counts_by(decided.ledger, "purpose", "status")
    append_audit_entries(wh, [AuditEntry(
        "consent ledger built", "privacy.consent_ledger",
        {"decisions": decided.ledger.height, "merge_rule": config.merge_rule,
         "addresses": decided.address_consent.height, "topic_decisions": decided.topics.height,
         "unattributed_events": decided.unattributed_events,
         "by_purpose_status": {f"{p}:{s}": n for p, s, n in summary.iter_rows()}},
    )], run_id=context.run_id)
    yield dg.MaterializeResult(asset_key=CONSENT_LEDGER, metadata=table_metadata(
        decided.ledger, summary, unattributed_events=decided.unattributed_events,
        merge_rule=config.merge_rule))
    yield dg.MaterializeResult(asset_key=ADDRESS_CONSENT, metadata=table_metadata(
        decided.address_consent, counts_by(decided.address_consent, "purpose", "status")))
    yield dg.MaterializeResult(asset_key=TOPIC_PREFERENCES, metadata=table_metadata(
        decided.topics, counts_by(decided.topics, "topic", "status")
        if decided.topics.height else None))


@dg.asset(
    key=["privacy", "audit_log"],
    group_name="privacy",
    # a sink, not a source: it runs after every asset that appends to it, so each run's
    # materialisation anchors the head of everything that run recorded
    deps=[CONSENT_LEDGER, dg.AssetKey(["audiences", "marketable_audience"]),
          dg.AssetKey(["audiences", "segments"]), dg.AssetKey(["activation", "esp_sync"])],
    owners=OWNERS,
    kinds={"duckdb", "polars"},
    tags={"stage": "privacy", "pii": "false"},
)
def audit_log(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The tamper-evident record of what the platform did: consent recorded, ledger rebuilt,
    audience built, ESP synced, people erased, with counts and pseudonyms, never personal data.
    Append-only; every entry carries a keyed hash over the previous entry's hash and its own
    content, so any edit, deletion or reordering shows up as a broken chain, and rewriting the
    chain needs the secret key (checked by `audit_chain_intact`). Each materialisation verifies
    the log, then anchors its newest entry in Dagster's own event log, per warehouse, so entries
    cut from the end are detected too, and a lost anchor fails rather than passes.
    """
    wh = warehouse.get()
    log = read_audit_log(wh)
    verdict = verify_audit_log(log, find_anchor(context.instance, warehouse_id(log)))
    if not verdict.passed:
        context.log.error("audit log verification failed before anchoring: %s",
                          verdict.describe())
    written = personal_data_written(context)
    if written:
        append_audit_entries(wh, written, run_id=context.run_id)
        log = read_audit_log(wh)
    if log.height:
        append_audit_entries(wh, [AuditEntry(ANCHORED, "privacy.audit_log", {
            "verified_entries": verdict.entries, "passed": verdict.passed,
            "anchor_state": verdict.anchor_state})], run_id=context.run_id)
        log = read_audit_log(wh)
    return dg.MaterializeResult(metadata=table_metadata(
        log, counts_by(log, "action") if log.height else None,
        warehouse_id=warehouse_id(log) or "",
        last_seq=int(log["seq"].max()) if log.height else 0,
        head_hash=log["hash"][-1] if log.height else "",
        verified_before_anchoring=verdict.passed,
        verification=verdict.describe(),
    ))


def personal_data_written(context: dg.AssetExecutionContext) -> list[AuditEntry]:
    """One entry per table tagged `pii` this run wrote, with its row count: every stage that
    changes personal data is on the record, without each having to remember to log."""
    graph = context.job_def.asset_layer.asset_graph
    records = context.instance.get_records_for_run(
        context.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    entries = []
    for record in records:
        materialization = record.event_log_entry.asset_materialization
        if materialization is None or not graph.has(materialization.asset_key):
            continue
        if graph.get(materialization.asset_key).tags.get("pii") != "true":
            continue
        rows = materialization.metadata.get("dagster/row_count")
        entries.append(AuditEntry("personal data written", ".".join(
            materialization.asset_key.path), {"rows": rows.value if rows else None}))
    return entries
