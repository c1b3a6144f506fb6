"""Profiles stage: raw source tables become clean, typed, validated tables plus a quarantine.

One multi-asset writes all five tables in one step, because the quarantine is shared: every
raw row of every source lands either in its clean table or in `profiles.quarantine`, and the
accounting checks prove it. `profiles.quarantine` is replaced on each run (see
`lib/quarantine.py` for why).
"""

import dagster as dg
import polars as pl

from email_data_platform.defs.metadata import OWNERS
from email_data_platform.defs.profiles.metadata import (
    clean_table_metadata,
    field_issues_metadata,
    quarantine_metadata,
)
from email_data_platform.defs.profiles.tables import (
    FIELD_ISSUES_KEY,
    FIELD_ISSUES_TABLE,
    KINDS,
    PROFILE_TABLES,
    QUARANTINE_KEY,
    QUARANTINE_TABLE,
    STAGE,
)
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.profiles.stage import (
    clean_table,
    empty_field_issues,
    empty_quarantine,
    publish,
)

_QUARANTINE_DESCRIPTION = (
    "Every raw row we could not use, with the rule it broke and the record as received, so it "
    "can be fixed at the source: invalid emails, impossible birth dates, negative amounts, "
    "unknown currencies or consent purposes, archived or superseded CRM records, hostile text. "
    "Nothing is dropped silently: raw rows = clean rows + quarantined rows, checked per source. "
    "Rebuilt on every run together with the clean tables (run_id says which run), so it always "
    "describes the current extract; earlier runs' counts stay in the materialisation history."
)

_FIELD_ISSUES_DESCRIPTION = (
    "Every value we blanked on a contact we kept, with the rule it broke, the reason and the "
    "value as received: impossible or unreadable birth dates, phones that are not numbers, "
    "postcodes that fit no format, unknown countries, markup in a city or company, an invalid "
    "email beside another identifier. The contact stays in the clean profiles and audiences; "
    "only a contact with no usable identifier is quarantined whole. Rebuilt on every run."
)


def _spec(key: dg.AssetKey, deps: list[dg.AssetKey], description: str, pii: bool):
    return dg.AssetSpec(
        key=key,
        deps=deps,
        description=description,
        group_name=STAGE,
        owners=OWNERS,
        kinds=KINDS,
        tags={"stage": STAGE, "pii": "true" if pii else "false"},
    )


@dg.multi_asset(
    name="clean_profiles_tables",
    specs=[
        *[_spec(t.clean_asset, [t.raw_asset], t.description, t.pii) for t in PROFILE_TABLES],
        _spec(QUARANTINE_KEY, [t.raw_asset for t in PROFILE_TABLES], _QUARANTINE_DESCRIPTION, True),
        _spec(FIELD_ISSUES_KEY, [t.raw_asset for t in PROFILE_TABLES], _FIELD_ISSUES_DESCRIPTION,
              True),
    ],
)
def clean_profiles_tables(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Clean CRM contacts, orders, ESP events and consent events; quarantine what fails and
    record the values blanked on kept rows."""
    wh = warehouse.get()
    missing = [t.raw_table for t in PROFILE_TABLES if not wh.exists(t.raw_table)]
    if missing:
        raise dg.Failure(
            f"profiles: raw table(s) {', '.join(missing)} do not exist; materialise the "
            "sources assets first"
        )
    # Clean everything before replacing anything: a failure then leaves the previous,
    # consistent set of clean tables and quarantine in place rather than half of a new one.
    cleaned = []
    for table in PROFILE_TABLES:
        result = clean_table(wh, table.raw_table, table.raw_key, table.clean_table,
                             table.cleaner, context.run.run_id)
        context.log.info(
            f"{table.raw_table}: {result.raw_rows} raw -> {result.clean_rows} clean, "
            f"{result.quarantine.height} quarantined in {result.seconds} s "
            f"({result.batches} batch(es))"
        )
        cleaned.append(result)
    publish(wh, cleaned)
    for table, result in zip(PROFILE_TABLES, cleaned, strict=True):
        metadata = clean_table_metadata(table, result, wh)
        yield dg.MaterializeResult(
            asset_key=table.clean_asset, metadata={**metadata, "clean_seconds": result.seconds}
        )
    quarantine = pl.concat(
        [empty_quarantine(), *[result.quarantine for result in cleaned]], how="vertical"
    )
    wh.write(QUARANTINE_TABLE, quarantine)
    yield dg.MaterializeResult(asset_key=QUARANTINE_KEY, metadata=quarantine_metadata(quarantine))
    issues = pl.concat(
        [empty_field_issues(), *[result.field_issues for result in cleaned]], how="vertical"
    )
    wh.write(FIELD_ISSUES_TABLE, issues)
    yield dg.MaterializeResult(asset_key=FIELD_ISSUES_KEY, metadata=field_issues_metadata(issues))
