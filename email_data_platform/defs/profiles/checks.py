"""Blocking checks on the clean tables: bad data must not flow on to identity or activation.

- `<table>_matches_schema`: the table's pandera model (types, keys unique, emails valid, E.164
  phones, amounts not negative, dates not in the future or before 1900, known values).
- `<table>_accounts_for_raw_rows`: per source, raw rows = clean rows + quarantined rows.
- `field_issues_name_kept_records`: every blanked value belongs to a kept clean profile.
Failure metadata names columns, checks, counts and record keys, never a raw value.
"""

import dagster as dg
import polars as pl

from email_data_platform.defs.metadata import table_schema_check
from email_data_platform.defs.profiles.tables import (
    CONSENT,
    CONTACTS,
    ESP_EVENTS,
    FIELD_ISSUES_KEY,
    FIELD_ISSUES_TABLE,
    ORDERS,
    QUARANTINE_KEY,
    QUARANTINE_TABLE,
    ProfileTable,
)
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.markdown import frame_to_markdown
from email_data_platform.lib.profiles.stage import (
    accounting_by_source,
    quarantined_withdrawals,
    schemas,
)


def _count_by_source(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.group_by(pl.col("source").cast(pl.Utf8).fill_null("unknown")).agg(
        pl.len().cast(pl.Int64).alias("rows")
    )


def _accounting_check(table: ProfileTable):
    @dg.asset_check(
        asset=table.clean_asset,
        name=f"{table.clean_name}_accounts_for_raw_rows",
        blocking=True,
        additional_deps=[QUARANTINE_KEY, table.raw_asset],
        description=(
            f"Per source: rows in {table.raw_table} = rows in {table.clean_table} + rows "
            f"quarantined from {table.raw_name}. Nothing is dropped silently."
        ),
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        wh = warehouse.get()
        quarantined = wh.query(
            f"select source, count(*)::bigint as rows from {QUARANTINE_TABLE}"
            " where table_name = ? group by source",
            [table.raw_name],
        )
        ledger = accounting_by_source(
            _count_by_source(wh.read(table.raw_table, ["source"])),
            _count_by_source(wh.read(table.clean_table, ["source"])),
            quarantined.with_columns(pl.col("rows").cast(pl.Int64)),
        )
        return dg.AssetCheckResult(
            passed=bool(ledger.get_column("balanced").all()),
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "raw_rows": int(ledger.get_column("raw_rows").sum()),
                "clean_rows": int(ledger.get_column("clean_rows").sum()),
                "quarantined_rows": int(ledger.get_column("quarantined_rows").sum()),
                "by_source": dg.MetadataValue.md(frame_to_markdown(ledger)),
            },
        )

    return _check


clean_profiles_matches_schema = table_schema_check(
    CONTACTS.clean_asset, CONTACTS.clean_table, CONTACTS.clean_model, "record_id",
    f"{CONTACTS.clean_name}_matches_schema",
)
clean_orders_matches_schema = table_schema_check(
    ORDERS.clean_asset, ORDERS.clean_table, ORDERS.clean_model, "order_record_id",
    f"{ORDERS.clean_name}_matches_schema",
)
clean_esp_events_matches_schema = table_schema_check(
    ESP_EVENTS.clean_asset, ESP_EVENTS.clean_table, ESP_EVENTS.clean_model, "event_id",
    f"{ESP_EVENTS.clean_name}_matches_schema",
)
clean_consent_events_matches_schema = table_schema_check(
    CONSENT.clean_asset, CONSENT.clean_table, CONSENT.clean_model, "event_id",
    f"{CONSENT.clean_name}_matches_schema",
)
quarantine_matches_schema = table_schema_check(
    QUARANTINE_KEY, QUARANTINE_TABLE, schemas.Quarantine, "record_key", "quarantine_matches_schema"
)
clean_profiles_accounts_for_raw_rows = _accounting_check(CONTACTS)
clean_orders_accounts_for_raw_rows = _accounting_check(ORDERS)
clean_esp_events_accounts_for_raw_rows = _accounting_check(ESP_EVENTS)
clean_consent_events_accounts_for_raw_rows = _accounting_check(CONSENT)


def _reference_check(table: ProfileTable):
    @dg.asset_check(
        asset=table.clean_asset,
        name=f"{table.clean_name}_reference_known_contacts",
        additional_deps=[CONTACTS.clean_asset],
        description=(
            f"Rows of {table.clean_table} whose contact_record_id is not a clean profile "
            "(WARN: the contact may be quarantined or not extracted yet)."
        ),
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        orphans = (
            warehouse.get()
            .query(
                f"select count(*)::bigint as orphans from {table.clean_table} t"
                " where t.contact_record_id is not null and not exists ("
                f"select 1 from {CONTACTS.clean_table} p"
                " where p.record_id = t.contact_record_id)"
            )
            .item()
        )
        return dg.AssetCheckResult(
            passed=orphans == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"rows_with_unknown_contact": int(orphans)},
        )

    return _check


clean_orders_reference_known_contacts = _reference_check(ORDERS)
clean_consent_events_reference_known_contacts = _reference_check(CONSENT)


@dg.asset_check(
    asset=QUARANTINE_KEY,
    name="quarantine_holds_no_consent_withdrawals",
    description=(
        "No consent withdrawal is stuck in quarantine (WARN): a quarantined withdrawal is a "
        "person who said stop and whom the consent ledger cannot honour until it is fixed."
    ),
)
def quarantine_holds_no_consent_withdrawals(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    quarantine = warehouse.get().query(
        f"select table_name, record_key, rule, raw_record from {QUARANTINE_TABLE}"
        " where table_name = 'consent_raw'"
    )
    stuck = quarantined_withdrawals(quarantine)
    return dg.AssetCheckResult(
        passed=stuck.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "withdrawals_in_quarantine": stuck.height,
            "records": dg.MetadataValue.md(frame_to_markdown(stuck) if stuck.height else "none"),
        },
    )


@dg.asset_check(
    asset=FIELD_ISSUES_KEY,
    name="field_issues_name_kept_records",
    blocking=True,
    additional_deps=[CONTACTS.clean_asset],
    description=(
        "Every field issue names a record of profiles.clean_profiles: a value is blanked only "
        "on a contact that was kept (a rejected contact belongs in the quarantine), so each "
        "issue is counted once, against a row that exists."
    ),
)
def field_issues_name_kept_records(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    counts = warehouse.get().query(
        "select count(*)::bigint as issues, count(*) filter (where not exists (select 1 from "
        f"{CONTACTS.clean_table} p where p.record_id = i.record_key))::bigint as orphans "
        f"from {FIELD_ISSUES_TABLE} i where i.table_name = 'crm_contacts'"
    ).row(0, named=True)
    return dg.AssetCheckResult(
        passed=counts["orphans"] == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"field_issues": int(counts["issues"]),
                  "issues_without_a_kept_record": int(counts["orphans"])},
    )
