"""Materialisation metadata for profiles tables: schema, lineage and PII-free previews."""

import dagster as dg
import polars as pl

from email_data_platform.defs.metadata import table_schema
from email_data_platform.defs.profiles.tables import ProfileTable
from email_data_platform.lib.markdown import frame_to_markdown
from email_data_platform.lib.profiles.stage import CleanedTable, field_issue_counts, summaries

# Clean columns computed from a raw column of another name (the rest keep their raw name).
_DERIVED_FROM = {"email_key": ["email"], "cleaning_notes": ["phone", "country", "postal_code"]}
_PREVIEW_COLUMNS = {
    "clean_profiles": ["source", "country"],
    "clean_orders": ["currency", "status"],
    "clean_esp_events": ["source", "event_type"],
    "clean_consent_events": ["purpose", "status", "channel"],
}


def column_lineage(table: ProfileTable, clean: pl.DataFrame, raw_columns: list[str]):
    """Each clean column to the raw column(s) it is computed from."""
    deps_by_column = {}
    for column in clean.columns:
        sources = _DERIVED_FROM.get(column, [column])
        found = [c for c in sources if c in raw_columns]
        if found:
            deps_by_column[column] = [dg.TableColumnDep(table.raw_asset, c) for c in found]
    return dg.TableColumnLineage(deps_by_column=deps_by_column)


def metadata_columns(table: ProfileTable, wh) -> list[str]:
    """The clean columns the metadata below reads (the rest stay in the warehouse)."""
    wanted = [*_PREVIEW_COLUMNS.get(table.clean_name, ["source"])]
    if table.clean_name == "clean_profiles":
        wanted += [*summaries.COMPLETENESS_ATTRIBUTES, "cleaning_notes"]
    present = wh.query(f"select * from {table.clean_table} limit 0").columns
    return [c for c in dict.fromkeys(wanted) if c in present] or present[:1]


def clean_table_metadata(table: ProfileTable, result: CleanedTable, clean: pl.DataFrame,
                         wh) -> dict:
    """Row counts, schema, lineage and a preview of counts (never of people). `clean` holds
    the clean rows, or only the columns `metadata_columns` names."""
    columns = wh.query(f"select * from {table.clean_table} limit 0")
    preview = summaries.count_by(clean, _PREVIEW_COLUMNS.get(table.clean_name, ["source"]))
    metadata = {
        "dagster/row_count": result.clean_rows,
        "dagster/column_schema": table_schema(columns),
        "dagster/column_lineage": column_lineage(table, columns, result.raw_columns),
        "quarantined_rows": result.quarantine.height,
        "raw_rows": result.raw_rows,
        "field_issues": result.field_issues.height,
        "preview": dg.MetadataValue.md(frame_to_markdown(preview)),
    }
    if table.clean_name == "clean_profiles":
        completeness = summaries.profile_completeness(clean)
        notes = summaries.cleaning_note_counts(clean)
        metadata["completeness"] = dg.MetadataValue.md(frame_to_markdown(completeness))
        metadata["cleaning_notes"] = dg.MetadataValue.md(frame_to_markdown(notes))
    return metadata


def quarantine_metadata(quarantine: pl.DataFrame) -> dict:
    by_rule = summaries.count_by(quarantine, ["table_name", "rule"], limit=40)
    return {
        "dagster/row_count": quarantine.height,
        "dagster/column_schema": table_schema(quarantine),
        "rows_by_rule": dg.MetadataValue.md(frame_to_markdown(by_rule, max_rows=40)),
        "write_mode": "replace per run (describes the same snapshot as the clean tables)",
    }


def field_issues_metadata(issues: pl.DataFrame) -> dict:
    """Counts per table, field and rule; raw values stay in the table, never in metadata."""
    by_rule = field_issue_counts(issues)
    return {
        "dagster/row_count": issues.height,
        "dagster/column_schema": table_schema(issues),
        "rows_by_rule": dg.MetadataValue.md(frame_to_markdown(by_rule, max_rows=40)),
        "write_mode": "replace per run (describes the same snapshot as the clean tables)",
    }
