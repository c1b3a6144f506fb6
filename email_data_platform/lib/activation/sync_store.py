"""Where the ESP sync keeps its progress: sync state and receipts in the warehouse.

State and receipts of one batch are committed in one transaction (DuckDB, Snowflake), so the
state never claims a push the receipts do not show (and the reverse); on BigQuery, where each
statement commits alone, receipts land first. History tables gain new columns in place.
"""

import polars as pl

from email_data_platform.lib.activation.sync import STATE_SCHEMA, empty_state
from email_data_platform.lib.warehouse import TableWrite, Warehouse


class WarehouseSyncStore:
    """Sync state and receipts in the warehouse, committed together in one transaction.

    State is kept per ESP list (`list_id`: the Mailchimp audience id, `sendgrid:<list name>`):
    pushing to a different list starts from nothing. Rows also name their destination.
    """

    def __init__(self, warehouse: Warehouse, list_id: str,
                 state_table: str = "activation.sync_state",
                 receipts_table: str = "activation.sync_receipts", destination: str = "mailchimp"):
        self.warehouse, self.list_id, self.destination = warehouse, list_id, destination
        self.state_table, self.receipts_table = state_table, receipts_table

    def load_state(self) -> pl.DataFrame:
        if not self.warehouse.exists(self.state_table):
            return empty_state()
        rows = self.warehouse.query(f"select * from {self.state_table} where list_id = ?",
                                    [self.list_id])
        present = {k: v for k, v in STATE_SCHEMA.items() if k in rows.columns}
        return rows.select(list(present)).cast(present)  # older state lacks newer columns

    def commit_batch(self, receipts: pl.DataFrame, state_updates: pl.DataFrame) -> None:
        tags = {"list_id": pl.lit(self.list_id), "destination": pl.lit(self.destination)}
        # Receipts first: where writes are not atomic together (BigQuery), a crash in between
        # leaves receipts of a push the state does not know, and the next run pushes again
        # (an idempotent upsert at the ESP), never state claiming a push without receipts.
        self.warehouse.write_together([
            TableWrite(self.receipts_table, receipts.with_columns(**tags), mode="append"),
            TableWrite(self.state_table, state_updates.with_columns(**tags), mode="upsert",
                       key=("list_id", "subscriber_hash")),
        ], evolve=True)


def append_rows(warehouse: Warehouse, table: str, frame: pl.DataFrame) -> None:
    """Append to a history table, adding any new columns first (old rows read them as null)."""
    warehouse.write_together([TableWrite(table, frame, mode="append")], evolve=True)
