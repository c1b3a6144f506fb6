"""Where the ESP sync keeps its progress: sync state and receipts in the warehouse.

State and receipts of one batch are committed in one transaction, so the state never claims a
push the receipts do not show (and the reverse). History tables gain new columns in place.
"""

import polars as pl

from email_data_platform.lib.activation.sync import STATE_SCHEMA, empty_state
from email_data_platform.lib.warehouse import DuckDBWarehouse


class WarehouseSyncStore:
    """Sync state and receipts in the warehouse, committed together in one transaction.

    State is kept per ESP list (`list_id`: the Mailchimp audience id, `sendgrid:<list name>`):
    pushing to a different list starts from nothing. Rows also name their destination.
    """

    def __init__(self, warehouse: DuckDBWarehouse, list_id: str,
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
        tagged_state = state_updates.with_columns(**tags)
        tagged_receipts = receipts.with_columns(**tags)
        schema = self.state_table.split(".")[0]
        with self.warehouse.transaction(
            [schema], __state=tagged_state, __receipts=tagged_receipts
        ) as con:
            _create_or_evolve(con, self.state_table, "__state")
            _create_or_evolve(con, self.receipts_table, "__receipts")
            con.execute(f"delete from {self.state_table} t using __state s where "
                        "t.list_id = s.list_id and t.subscriber_hash = s.subscriber_hash")
            con.execute(f"insert into {self.state_table} by name select * from __state")
            con.execute(f"insert into {self.receipts_table} by name select * from __receipts")


def append_rows(warehouse: DuckDBWarehouse, table: str, frame: pl.DataFrame) -> None:
    """Append to a history table, adding any new columns first (old rows read them as null)."""
    with warehouse.transaction([table.split(".")[0]], __rows=frame) as con:
        _create_or_evolve(con, table, "__rows")
        con.execute(f"insert into {table} by name select * from __rows")


def _create_or_evolve(con, table: str, incoming: str) -> None:
    """Create `table` shaped like the registered `incoming` relation, or add its new columns."""
    con.execute(f"create table if not exists {table} as select * from {incoming} limit 0")
    existing = {row[0] for row in con.execute(f"describe {table}").fetchall()}
    for name, column_type, *_ in con.execute(f"describe {incoming}").fetchall():
        if name not in existing:
            con.execute(f'alter table {table} add column "{name}" {column_type}')
