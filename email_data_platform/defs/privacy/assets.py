"""Privacy stage: the consent ledger and the tamper-evident audit log."""

import dagster as dg

from email_data_platform.defs.metadata import OWNERS, counts_by, table_metadata
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.privacy.stage import (
    AuditEntry,
    anchor_present,
    append_audit_entries,
    build_consent_ledger,
    read_audit_log,
)


class ConsentLedgerConfig(dg.Config):
    merge_rule: str = "most_restrictive"
    """How disagreeing records of one person combine: most_restrictive (default) or latest_event."""


@dg.asset(
    key=["privacy", "consent_ledger"],
    group_name="privacy",
    deps=[dg.AssetKey(["profiles", "clean_consent_events"]), dg.AssetKey(["identity", "entities"]),
          dg.AssetKey(["profiles", "clean_profiles"])],
    owners=OWNERS,
    kinds={"duckdb", "polars"},
    tags={"stage": "privacy", "pii": "false"},
)
def consent_ledger(
    context: dg.AssetExecutionContext, config: ConsentLedgerConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """What each person has agreed to, per purpose (email marketing, personalisation, analytics):
    one decision per person and purpose, with when, where and under which policy it was given.

    Consent is explicit only: no recorded event means no consent. The latest event wins; when a
    person's merged CRM records disagree, or two events share a timestamp, the more restrictive
    answer (withdrawn) wins, so a wrongly merged household member never inherits a grant. An
    event known only by email address withdraws for everyone using that address, but grants only
    when the address belongs to a single person.
    """
    wh = warehouse.get()
    record_emails = (wh.read("profiles.clean_profiles", ["record_id", "email"])
                     if wh.exists("profiles.clean_profiles") else None)
    result = build_consent_ledger(
        wh.read("profiles.clean_consent_events"), wh.read("identity.entities"),
        merge_rule=config.merge_rule,  # type: ignore[arg-type]  (validated in lib)
        record_emails=record_emails,
    )
    wh.write("privacy.consent_ledger", result.ledger)
    summary = counts_by(result.ledger, "purpose", "status")
    append_audit_entries(wh, [AuditEntry(
        "consent ledger built", "privacy.consent_ledger",
        {"decisions": result.ledger.height, "merge_rule": config.merge_rule,
         "unmatched_events": result.unmatched_events,
         "invalid_events": result.invalid_events.height,
         "by_purpose_status": {f"{p}:{s}": n for p, s, n in summary.iter_rows()}},
    )], run_id=context.run_id)
    return dg.MaterializeResult(metadata=table_metadata(
        result.ledger, summary,
        unmatched_events=result.unmatched_events,
        invalid_events=result.invalid_events.height,
        invalid_by_rule=dg.MetadataValue.json(
            dict(counts_by(result.invalid_events, "rule").iter_rows())),
        merge_rule=config.merge_rule,
    ))


@dg.asset(
    key=["privacy", "audit_log"],
    group_name="privacy",
    # a sink, not a source: it runs after every asset that appends to it, so each run's
    # materialisation anchors the head of everything that run recorded
    deps=[consent_ledger, dg.AssetKey(["audiences", "marketable_audience"]),
          dg.AssetKey(["audiences", "segments"]), dg.AssetKey(["activation", "esp_sync"])],
    owners=OWNERS,
    kinds={"duckdb", "polars"},
    tags={"stage": "privacy", "pii": "false"},
)
def audit_log(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The tamper-evident record of what the platform did: ledger rebuilt, audience built, ESP
    synced, with counts and never personal data. Append-only; every entry carries a hash over
    the previous entry's hash and its own content, so any edit, deletion or reordering shows up
    as a broken chain (checked by `audit_chain_intact`). Each materialisation also anchors the
    newest entry's hash in Dagster's own event log, outside the warehouse, so entries cut from
    the end of the log are detected too. The entries are appended by the assets that act.
    """
    log = read_audit_log(warehouse.get())
    previous = latest_anchor(context.instance)
    previous_found = previous is None or anchor_present(log, *previous)
    if not previous_found:
        context.log.error("audit log no longer holds anchored entry seq %s", previous[0])
    return dg.MaterializeResult(metadata=table_metadata(
        log, counts_by(log, "action") if log.height else None,
        last_seq=int(log["seq"].max()) if log.height else 0,
        head_hash=log["hash"][-1] if log.height else "",
        previous_anchor_seq=previous[0] if previous else 0,
        previous_anchor_found=previous_found,
    ))


def latest_anchor(instance: dg.DagsterInstance) -> tuple[int, str] | None:
    """(seq, hash) of the newest entry as recorded by the last audit_log materialisation."""
    event = instance.get_latest_materialization_event(dg.AssetKey(["privacy", "audit_log"]))
    if event is None or event.asset_materialization is None:
        return None
    metadata = event.asset_materialization.metadata
    if "last_seq" not in metadata or not metadata["last_seq"].value:
        return None
    return int(metadata["last_seq"].value), str(metadata["head_hash"].value)
