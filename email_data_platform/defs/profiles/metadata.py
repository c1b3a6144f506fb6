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


def clean_table_metadata(table: ProfileTable, result: CleanedTable, wh) -> dict:
    """Row counts, schema, lineage and a preview of counts (never of people)."""
    columns = wh.query(f"select * from {table.clean_table} limit 0")
    summary = (_frame_summaries(table, result.clean) if result.clean is not None
               else _warehouse_summaries(table, columns.columns, wh))
    metadata = {
        "dagster/row_count": result.clean_rows,
        "dagster/column_schema": table_schema(columns),
        "dagster/column_lineage": column_lineage(table, columns, result.raw_columns),
        "quarantined_rows": result.quarantine.height,
        "raw_rows": result.raw_rows,
        "field_issues": result.field_issues.height,
        "preview": dg.MetadataValue.md(frame_to_markdown(summary["preview"])),
    }
    for name in ("completeness", "cleaning_notes"):
        if name in summary:
            metadata[name] = dg.MetadataValue.md(frame_to_markdown(summary[name]))
    return metadata


def _frame_summaries(table: ProfileTable, clean: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The summaries of a clean table held in memory (warehouses other than DuckDB)."""
    summary = {"preview": summaries.count_by(clean, _preview_columns(table))}
    if table.clean_name == "clean_profiles":
        summary["completeness"] = summaries.profile_completeness(clean)
        summary["cleaning_notes"] = summaries.cleaning_note_counts(clean)
    return summary


def _warehouse_summaries(table: ProfileTable, present: list[str], wh) -> dict[str, pl.DataFrame]:
    """The same summaries, counted by the warehouse: only counts are read. Reading the
    columns instead held up to 0.2 GB per table at 1M contacts, growing with N."""
    name = table.clean_table
    by = [c for c in _preview_columns(table) if c in present]
    if by:
        listed = ", ".join(by)
        counts = wh.query(f"select {listed}, count(*) as n from {name} group by {listed}")
        preview = summaries.largest_first(counts.rename({"n": "rows"}), by)
    else:
        preview = wh.query(f"select count(*) as n from {name}").rename({"n": "rows"})
    summary = {"preview": preview}
    if table.clean_name == "clean_profiles":
        attributes = [c for c in summaries.COMPLETENESS_ATTRIBUTES if c in present]
        filled = wh.query("select " + ", ".join(
            [*[f"count({c}) as {c}" for c in attributes], "count(*) as n"]) + f" from {name}")
        summary["completeness"] = summaries.completeness_from_counts(
            filled.drop("n"), filled["n"].item())
        notes = (wh.query(f"select cleaning_notes, count(*) as n from {name} group by 1")
                 .rename({"n": "rows"}) if "cleaning_notes" in present else None)
        summary["cleaning_notes"] = summaries.note_counts_from_counts(notes)
    return summary


def _preview_columns(table: ProfileTable) -> list[str]:
    return _PREVIEW_COLUMNS.get(table.clean_name, ["source"])


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
