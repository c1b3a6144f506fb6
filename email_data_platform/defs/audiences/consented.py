"""Audiences that consent decides: the marketable audience and the pseudonymised analytics view.

Kept apart from features and segments because the privacy stage owns who may be in them.
"""

import dagster as dg
import polars as pl

from email_data_platform.defs.metadata import OWNERS, counts_by, table_metadata
from email_data_platform.defs.privacy.resources import PseudonymisationResource
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.privacy.stage import (
    AuditEntry,
    analytics_subjects,
    append_audit_entries,
    build_audience,
    granted_entities,
    pseudonymised_view,
)

CUSTOMER_FEATURES = dg.AssetKey(["audiences", "customer_features"])
# exact dates narrow a pseudonymous person down; analysts get recency_days instead
ANALYTICS_DROPPED_COLUMNS = ("last_order_date", "suppression_reason")


@dg.asset(
    key=["audiences", "marketable_audience"],
    group_name="audiences",
    deps=[
        dg.AssetKey(["identity", "golden_profiles"]), dg.AssetKey(["privacy", "consent_ledger"]),
        dg.AssetKey(["privacy", "address_consent"]), dg.AssetKey(["identity", "entities"]),
        CUSTOMER_FEATURES,
    ],
    owners=OWNERS,
    kinds={"duckdb", "polars"},
    tags={"stage": "audiences", "pii": "true"},
)
def marketable_audience(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The people we are allowed to email, each at one address: explicit, current consent for
    email marketing, not suppressed by the email provider (bounce, complaint, unsubscribe), not
    erased on request, and an address with its own current grant (not just the person's: a
    merged typo or work address that never consented is never mailed). Each row names the
    consent event that proves it. A shared inbox is mailed only if every person using it
    qualifies. `personalisation` says whether personal fields may be sent.
    """
    wh = warehouse.get()
    audience, exclusions = build_audience(wh)
    wh.write("audiences.marketable_audience", audience)
    append_audit_entries(wh, [AuditEntry(
        "audience built", "audiences.marketable_audience", exclusions)], run_id=context.run_id)
    funnel = pl.DataFrame({"rule": list(exclusions), "people": list(exclusions.values())})
    return dg.MaterializeResult(metadata=table_metadata(
        audience, funnel, **exclusions, **{"dagster/column_lineage": _audience_lineage()}))


def _audience_lineage() -> dg.TableColumnLineage:
    golden = dg.AssetKey(["identity", "golden_profiles"])
    ledger = dg.AssetKey(["privacy", "consent_ledger"])
    address = dg.AssetKey(["privacy", "address_consent"])
    return dg.TableColumnLineage(deps_by_column={
        "entity_id": [dg.TableColumnDep(golden, "entity_id")],
        "email": [dg.TableColumnDep(address, "email_key")],
        "first_name": [dg.TableColumnDep(golden, "first_name")],
        "last_name": [dg.TableColumnDep(golden, "last_name")],
        "policy_version": [dg.TableColumnDep(ledger, "policy_version")],
        "consent_decided_at": [dg.TableColumnDep(ledger, "decided_at")],
        "consent_event_id": [dg.TableColumnDep(address, "event_id")],
        "personalisation": [dg.TableColumnDep(ledger, "status")],
    })


@dg.asset(
    key=["audiences", "analytics_features"],
    group_name="audiences",
    deps=[CUSTOMER_FEATURES, dg.AssetKey(["privacy", "consent_ledger"]),
          dg.AssetKey(["identity", "golden_profiles"])],
    owners=OWNERS,
    kinds={"duckdb", "polars"},
    tags={"stage": "audiences", "pii": "false"},
)
def analytics_features(
    warehouse: WarehouseResource, pseudonymisation: PseudonymisationResource
) -> dg.MaterializeResult:
    """Customer features for analysts, without identities: only people who consented to
    analytics, each known by a keyed pseudonym of their normalised email (of their id when they
    have no address of their own). The same mailbox keeps the same pseudonym until the key is
    rotated; without the key nobody can link it back.
    """
    wh = warehouse.get()
    keyring = pseudonymisation.keyring()
    consented = granted_entities(wh.read("privacy.consent_ledger"), "analytics")["entity_id"]
    features = wh.read("audiences.customer_features")
    view = pseudonymised_view(features, consented, keyring, analytics_subjects(wh),
                              drop_columns=ANALYTICS_DROPPED_COLUMNS)
    wh.write("audiences.analytics_features", view)
    return dg.MaterializeResult(metadata=table_metadata(
        view, counts_by(view, "rfm_segment"),
        pseudonym_key_id=keyring.active_key_id,
        excluded_without_analytics_consent=features.height - view.height,
    ))
