"""Privacy checks: the audit chain is intact; the ledger has one decision per person and
purpose; every row about to be pushed to an ESP is proven by a consent event for its address."""

import dagster as dg
import polars as pl

from email_data_platform.defs.metadata import table_schema_check
from email_data_platform.defs.privacy.anchors import find_anchor, latest_anchor_metadata
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.markdown import frame_to_markdown
from email_data_platform.lib.privacy.stage import (
    ConsentLedgerModel,
    prove_payload,
    read_audit_log,
    verify_audit_log,
    warehouse_id,
)

AUDIT_LOG = dg.AssetKey(["privacy", "audit_log"])
CONSENT_LEDGER = dg.AssetKey(["privacy", "consent_ledger"])


@dg.asset_check(
    asset=AUDIT_LOG,
    blocking=True,
    description="Every audit entry's keyed hash matches its content and the previous entry's "
    "hash, and the entry anchored for this warehouse in Dagster's event log is still there: "
    "nothing was edited, deleted, reordered or cut from the end, and the anchor was not lost.",
)
def audit_chain_intact(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    log = read_audit_log(warehouse.get())
    wid = warehouse_id(log)
    verdict = verify_audit_log(log, find_anchor(context.instance, wid))
    anchored = latest_anchor_metadata(context.instance, wid) or {}
    before = bool(anchored.get("verified_before_anchoring", True))
    return dg.AssetCheckResult(
        passed=verdict.passed and before,
        metadata={"entries": log.height,
                  "first_broken_seq": verdict.broken.seq if verdict.broken else "none",
                  "verification": verdict.describe(),
                  "anchor_state": verdict.anchor_state,
                  "verified_before_anchoring": before,
                  "verification_before_anchoring": str(anchored.get("verification", "none"))},
    )


consent_ledger_matches_schema = table_schema_check(
    CONSENT_LEDGER, "privacy.consent_ledger", ConsentLedgerModel, "entity_id",
    "consent_ledger_matches_schema",
)


@dg.asset_check(
    asset=dg.AssetKey(["activation", "esp_payload"]),
    blocking=True,
    additional_deps=[dg.AssetKey(["privacy", "consent_events"]),
                     dg.AssetKey(["profiles", "clean_profiles"]),
                     dg.AssetKey(["identity", "entities"])],
    description="Every row about to be pushed to an ESP names the consent event that grants "
    "email_marketing for that very address, and nothing withdrew it since (neither for the "
    "address nor for any record of the people holding it). Derived again from the raw consent "
    "events, independently of the ledger. Blocks the sync otherwise.",
)
def esp_payload_consent_proven(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    rows, unproven = prove_payload(warehouse.get())
    reasons = unproven.group_by("reason").agg(rows=pl.len()).sort("reason")
    return dg.AssetCheckResult(
        passed=unproven.height == 0,
        metadata={"rows_checked": rows, "rows_unproven": unproven.height,
                  "by_reason": dg.MetadataValue.md(
                      frame_to_markdown(reasons) if reasons.height else "none"),
                  "example_subscriber_hashes": ", ".join(
                      unproven[unproven.columns[0]].head(5).to_list())},
    )
