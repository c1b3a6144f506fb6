"""Metadata and schema checks shared by the privacy, audiences and activation stages.

Previews are aggregates (counts per status, segment, action), never rows of personal data.
"""

import dagster as dg
import polars as pl

from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.markdown import frame_to_markdown
from email_data_platform.lib.profiles.schemas import validate_table


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


def table_schema_check(
    asset: dg.AssetKey, table: str, model, key_column: str, name: str
) -> dg.AssetChecksDefinition:
    """A blocking check that `table` satisfies its pandera `model`.

    Failure metadata names columns, checks, counts and sample keys (`key_column` must be a
    pseudonymous id such as entity_id or subscriber_hash), never a failing value.
    """

    @dg.asset_check(
        asset=asset,
        name=name,
        blocking=True,
        description=f"{table} satisfies its pandera model {model.__name__} (ERROR, blocking).",
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        summary = validate_table(model, warehouse.get().read(table), key_column)
        failures = summary.failures.with_columns(pl.col("sample_record_keys").list.join(", "))
        return dg.AssetCheckResult(
            passed=summary.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "rows_checked": summary.rows,
                "failing_rows": summary.failing_rows,
                "failures": dg.MetadataValue.md(
                    frame_to_markdown(failures) if failures.height else "none"),
            },
        )

    return _check
