"""Local compute next to any warehouse: an embedded DuckDB that holds copies of the tables a step
reads and publishes the tables it wrote back through the warehouse interface.

Some work is written for DuckDB and is meant to stay there: Splink (its DuckDB backend),
identity's transactions over registered frames, the consent proof's SQL. On the DuckDB
warehouse it runs in place, unchanged. On Snowflake or BigQuery it runs in a `local_workspace`:
a temporary DuckDB file filled from the warehouse, whose new or changed tables in the published
schemas go back in one `replace_many` (staging tables, then one move per table, inside one
transaction where the engine allows) once the step succeeds. A failed step publishes nothing.
"""

import logging
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from email_data_platform.lib.warehouse.base import Warehouse
from email_data_platform.lib.warehouse.duckdb_warehouse import DuckDBWarehouse
from email_data_platform.lib.warehouse.names import split_table_name

logger = logging.getLogger(__name__)


@contextmanager
def local_workspace(warehouse: Warehouse, read: Iterable[str] = (),
                    publish_schemas: Iterable[str] = (),
                    order: dict[str, list[str]] | None = None,
                    only: Iterable[str] | None = None) -> Iterator[DuckDBWarehouse]:
    """A DuckDB warehouse holding `read` and every table of `publish_schemas`.

    `order` ({table: columns}) sorts a copied table: a cloud warehouse returns rows in no fixed
    order, and a step that depends on it (training samples records by position) must see the
    same rows in the same order on every run. `only` narrows the published schemas to the
    tables a step reads and writes: the others are neither copied nor published.

    On the DuckDB warehouse this is the warehouse itself (no copy). Elsewhere, on a clean exit,
    tables of `publish_schemas` that are new or changed are replaced in `warehouse` and tables
    dropped locally are dropped there; `read` tables outside those schemas are never written.
    """
    if isinstance(warehouse, DuckDBWarehouse):
        yield warehouse
        return
    publish_schemas = tuple(publish_schemas)
    only = set(only) if only is not None else None

    def publishable(table: str) -> bool:
        return _in(table, publish_schemas) and (only is None or table in only)

    published = [t for schema in publish_schemas for t in warehouse.tables(schema)
                 if publishable(t)]
    wanted = list(dict.fromkeys([*read, *published]))
    # A file rather than :memory:, so DuckDB can spill what does not fit (1M-record identity).
    folder = tempfile.TemporaryDirectory(prefix="edp_workspace_")
    local = DuckDBWarehouse(Path(folder.name) / "workspace.duckdb")
    try:
        order = order or {}
        copied = {table: warehouse.read(table) for table in wanted if warehouse.exists(table)}
        copied = {table: frame.sort(order[table]) if table in order else frame
                  for table, frame in copied.items()}
        if copied:
            local.replace_many(copied)
        before = {t: fingerprint(local, t) for t in copied if publishable(t)}
        del copied
        yield local
        after = {t: fingerprint(local, t) for s in publish_schemas for t in local.tables(s)
                 if publishable(t)}
        changed = {t: local.read(t) for t, f in after.items() if before.get(t) != f}
        if changed:
            warehouse.replace_many(changed)
        for table in before.keys() - after.keys():
            warehouse.execute(f"drop table if exists {table}")
        logger.info("local workspace published %s; dropped %s", sorted(changed),
                    sorted(before.keys() - after.keys()))
    finally:
        local.close()
        folder.cleanup()


def _in(table: str, schemas: tuple[str, ...]) -> bool:
    return split_table_name(table)[0] in schemas


def fingerprint(local: DuckDBWarehouse, table: str) -> tuple:
    """Columns, types, row count and an order-independent sum of row hashes."""
    with local.connection() as con:
        columns = con.execute(f"select column_name, data_type from information_schema.columns"
                              f" where table_schema || '.' || table_name = '{table}'"
                              " order by ordinal_position").fetchall()
        rows, digest = con.execute(f"select count(*), sum(hash(t)::hugeint) from {table} t"
                                   ).fetchone()
    return tuple(columns), rows, digest

