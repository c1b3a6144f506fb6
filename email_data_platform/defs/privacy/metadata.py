"""Materialisation metadata shared by the privacy, audiences and activation assets.

Previews are aggregates (counts per status, segment, action), never rows of personal data.
"""

import dagster as dg
import polars as pl

from email_data_platform.lib.markdown import frame_to_markdown


def table_metadata(frame: pl.DataFrame, preview: pl.DataFrame | None = None, **extra) -> dict:
    """Row count, column schema and an optional aggregate preview for one written table."""
    metadata = {
        "dagster/row_count": frame.height,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, str(dtype)) for name, dtype in frame.schema.items()]
        ),
    }
    if preview is not None:
        metadata["preview"] = dg.MetadataValue.md(frame_to_markdown(preview, max_rows=15))
    metadata.update(extra)
    return metadata


def counts_by(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """Row counts per value combination: the PII-free preview most tables get."""
    return frame.group_by(columns).agg(rows=pl.len()).sort(list(columns))
