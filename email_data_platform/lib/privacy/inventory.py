"""The data inventory: every table, its personal-data columns, purpose, legal basis, retention
and upstream lineage. The record of processing an auditor asks for (GDPR Art. 30).

Tables and lineage come from the asset definitions (handed in as plain dicts, so this module
needs no Dagster), columns from the warehouse catalogue; personal-data columns are judged by
name with the same rules erasure uses (subjects.py), so the two never disagree.
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl
import yaml

from email_data_platform.lib.privacy.subjects import column_kind, is_pii_column

INVENTORY_PATH = Path(__file__).with_name("inventory.yaml")
INVENTORY_TABLE = "privacy.data_inventory"


@dataclass(frozen=True)
class AssetEntry:
    table: str  # <stage>.<asset>
    pii_tag: bool
    upstream: tuple[str, ...]
    owners: tuple[str, ...]
    description: str


@cache
def _policy() -> dict:
    return yaml.safe_load(INVENTORY_PATH.read_text())


def policy_for(table: str) -> dict[str, str]:
    """purpose, legal_basis and retention for a table: its stage's, overridden per table."""
    policy = _policy()
    stage = table.split(".")[0]
    return {**policy["stages"].get(stage, {}), **policy.get("tables", {}).get(table, {})}


def warehouse_columns(wh) -> dict[str, list[str]]:
    """Columns of every table the warehouse holds, by `schema.table`."""
    return wh.table_columns()


def personal_columns(columns: list[str]) -> list[str]:
    """Columns holding personal data: names, contacts, addresses, raw records, emails."""
    return [c for c in columns if is_pii_column(c)]


def build_inventory(assets: list[AssetEntry], columns: dict[str, list[str]]) -> pl.DataFrame:
    """One row per asset table: what it holds, why, on which basis, for how long, from where."""
    rows = []
    for asset in sorted(assets, key=lambda a: a.table):
        held = columns.get(asset.table, [])
        personal = personal_columns(held)
        identifiers = [c for c in held if column_kind(c) and c not in personal]
        rows.append({
            "table": asset.table, "pii_tag": asset.pii_tag, "materialised": bool(held),
            "personal_columns": ", ".join(personal),
            "identifier_columns": ", ".join(identifiers),
            **policy_for(asset.table),
            "upstream": ", ".join(asset.upstream), "owners": ", ".join(asset.owners),
            "description": asset.description.split("\n\n")[0].replace("\n", " ").strip(),
        })
    return pl.DataFrame(rows, schema_overrides={"personal_columns": pl.Utf8})


def mistagged(inventory: pl.DataFrame) -> pl.DataFrame:
    """Tables tagged pii=false that hold personal columns (must be empty)."""
    return inventory.filter(~pl.col("pii_tag") & (pl.col("personal_columns") != ""))
