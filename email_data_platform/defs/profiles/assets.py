"""Profiles stage: raw source tables become clean, typed, validated tables plus a quarantine.

One multi-asset writes all five tables in one step, because the quarantine is shared: every
raw row of every source lands either in its clean table or in `profiles.quarantine`, and the
accounting checks prove it. `profiles.quarantine` is replaced on each run (see
`lib/quarantine.py` for why).
"""

import logging

import dagster as dg
import polars as pl

from email_data_platform.defs.profiles.metadata import clean_table_metadata, quarantine_metadata
from email_data_platform.defs.profiles.tables import (
    KINDS,
    OWNERS,
    PROFILE_TABLES,
    QUARANTINE_KEY,
    QUARANTINE_TABLE,
    STAGE,
)
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.quarantine import empty_quarantine

logger = logging.getLogger(__name__)

_QUARANTINE_DESCRIPTION = (
    "Every raw row we could not use, with the rule it broke and the record as received, so it "
    "can be fixed at the source: invalid emails, impossible birth dates, negative amounts, "
    "unknown currencies or consent purposes, archived or superseded CRM records, hostile text. "
    "Nothing is dropped silently: raw rows = clean rows + quarantined rows, checked per source. "
    "Rebuilt on every run together with the clean tables (run_id says which run), so it always "
    "describes the current extract; earlier runs' counts stay in the materialisation history."
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
    ],
)
def clean_profiles_tables(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Clean CRM contacts, orders, ESP events and consent events; quarantine what fails."""
    wh = warehouse.get()
    run_id = context.run.run_id
    quarantines = []
    for table in PROFILE_TABLES:
        if not wh.exists(table.raw_table):
            raise dg.Failure(
                f"profiles: raw table {table.raw_table} does not exist; materialise "
                f"{table.raw_asset.to_user_string()} first"
            )
        raw = wh.read(table.raw_table)
        result = table.cleaner(raw, run_id)
        wh.write(table.clean_table, result.clean)
        quarantines.append(result.quarantine)
        context.log.info(
            f"{table.raw_table}: {raw.height} raw -> {result.clean.height} clean, "
            f"{result.quarantine.height} quarantined"
        )
        yield dg.MaterializeResult(
            asset_key=table.clean_asset,
            metadata=clean_table_metadata(
                table, result.clean, result.quarantine.height, raw.columns
            ),
        )
    quarantine = pl.concat([empty_quarantine(), *quarantines], how="vertical")
    wh.write(QUARANTINE_TABLE, quarantine)
    yield dg.MaterializeResult(asset_key=QUARANTINE_KEY, metadata=quarantine_metadata(quarantine))
