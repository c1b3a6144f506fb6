"""The one place that builds Dagster metadata for every stage: owners, table schemas, PII-free
previews and the pandera-backed asset checks.

Previews are aggregates (counts per status, segment, action), never rows of personal data.
Check failures name columns, checks, counts and sample keys, never a failing value.
"""

import dagster as dg
import polars as pl

from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.markdown import frame_to_markdown
from email_data_platform.lib.profiles.stage import schemas, validate_warehouse_table

OWNERS = ["team:data-platform"]
# Asset key -> the pandera model its table satisfies, filled as each stage declares its schema
# check; defs/catalog.py turns it into the table schema the UI shows before any run.
MODELS: dict[dg.AssetKey, type] = {}


def table_schema(frame: pl.DataFrame) -> dg.TableSchema:
    """The column names and types of a frame (an empty `limit 0` frame is enough)."""
    return dg.TableSchema(
        columns=[dg.TableColumn(name, str(dtype)) for name, dtype in frame.schema.items()]
    )


def schema_from_model(model) -> dg.TableSchema:
    """A pandera model as a Dagster table schema: names, types, nullability, uniqueness and
    each column's checks, known at definition time."""
    columns = []
    for name, column in model.to_schema().columns.items():
        checks = ", ".join(str(check.name) for check in column.checks if check.name)
        columns.append(dg.TableColumn(
            name, str(column.dtype), description=checks or None,
            constraints=dg.TableColumnConstraints(nullable=column.nullable,
                                                  unique=column.unique)))
    return dg.TableSchema(columns=columns)


def table_metadata(frame: pl.DataFrame, preview: pl.DataFrame | None = None, **extra) -> dict:
    """Row count, column schema and an optional aggregate preview for one written table."""
    metadata = {"dagster/row_count": frame.height, "dagster/column_schema": table_schema(frame)}
    if preview is not None:
        metadata["preview"] = dg.MetadataValue.md(frame_to_markdown(preview, max_rows=15))
    metadata.update(extra)
    return metadata


def counts_by(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """Row counts per value combination: the PII-free preview most tables get."""
    return frame.group_by(columns).agg(rows=pl.len()).sort(list(columns))


def summary_metadata(summary: schemas.ValidationSummary) -> dict:
    """A pandera validation summary as check metadata: counts and failing checks, no values."""
    failures = summary.failures.with_columns(pl.col("sample_record_keys").list.join(", "))
    return {
        "rows_checked": summary.rows,
        "failing_rows": summary.failing_rows,
        "failures": dg.MetadataValue.md(frame_to_markdown(failures) if failures.height else "none"),
    }


def table_schema_check(
    asset: dg.AssetKey, table: str, model, key_column: str, name: str,
    blocking: bool = True, description: str | None = None,
) -> dg.AssetChecksDefinition:
    """A check that `table` satisfies its pandera `model`: ERROR and blocking by default, WARN
    when `blocking=False` (raw tables, whose bad rows are quarantined downstream anyway).

    `key_column` must be a pseudonymous or technical id (record_id, entity_id, subscriber_hash):
    its sample values are shown in the failure metadata.
    """
    severity = dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN
    MODELS.setdefault(asset, model)

    @dg.asset_check(
        asset=asset,
        name=name,
        blocking=blocking,
        description=description or f"{table} satisfies its pandera model {model.__name__} "
        f"({severity.value}{', blocking' if blocking else ''}).",
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        summary = validate_warehouse_table(warehouse.get(), model, table, key_column)
        return dg.AssetCheckResult(passed=summary.passed, severity=severity,
                                   metadata=summary_metadata(summary))

    return _check
