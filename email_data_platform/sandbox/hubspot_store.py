"""The HubSpot simulator's state: one polars frame per CRM object, swapped atomically on writes.

Reads take a reference to the current frame and never lock, so paging stays fast at 1M rows;
writes (rare, small) rebuild the frame under a lock. Timestamps live as epoch milliseconds and are
rendered in HubSpot's format (`2024-01-15T10:20:30.123Z`) only for the rows a page returns.
"""

import threading
import time
from dataclasses import dataclass

import polars as pl

from email_data_platform.lib.connectors.checksum import record_checksum

HUBSPOT_TIME = "%Y-%m-%dT%H:%M:%S%.3fZ"
MODIFIED, CREATED = "_modified_ms", "_created_ms"
ARCHIVED, ARCHIVED_AT = "_archived", "_archived_at"
CONTACT_ID = "_contact_id"  # deals only: the associated contact

# generator column -> HubSpot contact property
CONTACT_PROPERTIES = {
    "first_name": "firstname",
    "last_name": "lastname",
    "email": "email",
    "phone": "phone",
    "date_of_birth": "date_of_birth",
    "city": "city",
    "postal_code": "zip",
    "country": "country",
    "company": "company",
    "email_opt_out": "hs_email_optout",
}
DEAL_PROPERTIES = {
    "amount": "amount",
    "currency": "deal_currency_code",
    "order_date": "closedate",
    "status": "dealstage",
}


@dataclass(frozen=True)
class ObjectSpec:
    name: str
    properties: tuple[str, ...]  # stored string properties
    modified_property: str  # HubSpot's name for the last-modified timestamp
    default_properties: tuple[str, ...]


CONTACTS = ObjectSpec(
    "contacts",
    tuple(CONTACT_PROPERTIES.values()),
    "lastmodifieddate",
    ("firstname", "lastname", "email", "createdate", "lastmodifieddate", "hs_object_id"),
)
DEALS = ObjectSpec(
    "deals",
    (*DEAL_PROPERTIES.values(), "dealname", "pipeline"),
    "hs_lastmodifieddate",
    ("dealname", "amount", "closedate", "pipeline", "dealstage", "createdate",
     "hs_lastmodifieddate", "hs_object_id"),
)
TIME_PROPERTIES = {"createdate": CREATED, "lastmodifieddate": MODIFIED,
                   "hs_lastmodifieddate": MODIFIED}


def now_ms() -> int:
    return int(time.time() * 1000)


def parse_ms(column: str) -> pl.Expr:
    """ISO 8601 strings -> epoch ms (null where unparseable)."""
    return (
        pl.col(column).str.to_datetime(time_zone="UTC", strict=False, time_unit="ms")
        .cast(pl.Int64)
    )


def _numeric_ids(frame: pl.DataFrame, column: str, what: str) -> pl.Series:
    ids = frame[column].cast(pl.Utf8).str.strip_chars().cast(pl.Int64, strict=False)
    bad = frame.filter(ids.is_null())
    if bad.height:
        raise ValueError(
            f"{what}: id {bad[column][0]!r} is not a positive integer "
            "(HubSpot object ids are numeric)"
        )
    return ids


def contacts_frame(contacts: pl.DataFrame, loaded_ms: int) -> pl.DataFrame:
    """Generator contacts -> stored HubSpot contacts (vectorised)."""
    missing = {"id"} - set(contacts.columns)
    if missing:
        raise ValueError(f"contacts need an 'id' column; got {contacts.columns}")
    exprs = [
        (pl.col(src).cast(pl.Utf8) if src in contacts.columns else pl.lit(None, pl.Utf8)).alias(dst)
        for src, dst in CONTACT_PROPERTIES.items()
    ]
    created = parse_ms("created_at") if "created_at" in contacts.columns else pl.lit(None)
    modified = parse_ms("updated_at") if "updated_at" in contacts.columns else pl.lit(None)
    frame = contacts.with_columns(id=_numeric_ids(contacts, "id", "contacts")).select(
        "id", *exprs,
        created.fill_null(loaded_ms).cast(pl.Int64).alias(CREATED),
        modified.cast(pl.Int64).alias(MODIFIED),
    )
    return frame.with_columns(
        pl.col(MODIFIED).fill_null(pl.col(CREATED)),
        pl.lit(False).alias(ARCHIVED),
        pl.lit(None, pl.Utf8).alias(ARCHIVED_AT),
    ).unique("id", keep="last").sort("id")


def deals_frame(orders: pl.DataFrame, loaded_ms: int) -> pl.DataFrame:
    """Generator orders -> stored HubSpot deals, each associated with its contact."""
    ids = orders["order_id"].cast(pl.Utf8).str.extract(r"(\d+)$").cast(pl.Int64, strict=False)
    if ids.null_count() or ids.n_unique() != orders.height:
        ids = pl.Series(range(1, orders.height + 1), dtype=pl.Int64)
    exprs = [pl.col(src).cast(pl.Utf8).alias(dst) for src, dst in DEAL_PROPERTIES.items()]
    modified = parse_ms("updated_at").fill_null(parse_ms("order_date")).fill_null(loaded_ms)
    return orders.with_columns(id=ids).select(
        "id",
        *exprs,
        pl.concat_str([pl.lit("Order "), pl.col("order_id").cast(pl.Utf8)]).alias("dealname"),
        pl.lit("default").alias("pipeline"),
        parse_ms("order_date").fill_null(modified).alias(CREATED),
        modified.alias(MODIFIED),
        pl.col("contact_id").cast(pl.Utf8).str.strip_chars().cast(pl.Int64, strict=False)
        .alias(CONTACT_ID),
        pl.lit(False).alias(ARCHIVED),
        pl.lit(None, pl.Utf8).alias(ARCHIVED_AT),
    ).sort("id")


class ObjectTable:
    """One CRM object type. `frame` is replaced, never mutated, so readers need no lock."""

    def __init__(self, spec: ObjectSpec, frame: pl.DataFrame):
        self.spec = spec
        self._lock = threading.Lock()
        self._set(frame)

    def _set(self, frame: pl.DataFrame) -> None:
        frame = frame.sort("id")
        self.frame = frame
        self.active = frame.filter(~pl.col(ARCHIVED))
        self.archived = frame.filter(pl.col(ARCHIVED))
        self.by_modified = self.active.sort([MODIFIED, "id"])

    def page_by_id(self, after: int, limit: int, archived: bool) -> pl.DataFrame:
        source = self.archived if archived else self.active
        start = source["id"].search_sorted(after, side="left")
        return source.slice(start, limit)

    def get(self, object_id: int) -> dict | None:
        rows = self.frame.filter(pl.col("id") == object_id)
        return rows.row(0, named=True) if rows.height else None

    def upsert_rows(self, changes: dict[int, dict], at_ms: int | None = None) -> list[int]:
        """Apply property changes (new ids are created); every touched row gets a new modified."""
        at_ms = at_ms or now_ms()
        with self._lock:
            frame = self.frame
            touched = frame.filter(pl.col("id").is_in(list(changes)))
            existing = {r["id"]: r for r in touched.to_dicts()}
            template = dict.fromkeys(frame.columns)
            rows = []
            for object_id, props in changes.items():
                row = existing.get(object_id) or {**template, "id": object_id, CREATED: at_ms,
                                                  ARCHIVED: False}
                unknown = set(props) - set(self.spec.properties) - {CONTACT_ID, ARCHIVED,
                                                                    ARCHIVED_AT}
                row.update({k: v for k, v in props.items() if k not in unknown})
                row[MODIFIED] = at_ms
                rows.append(row)
            updated = pl.DataFrame(rows, schema=frame.schema, orient="row")
            self._set(pl.concat([frame.filter(~pl.col("id").is_in(list(changes))), updated]))
        return list(changes)

    def next_id(self) -> int:
        return (self.frame["id"].max() or 0) + 1

    def archive(self, object_id: int) -> bool:
        row = self.get(object_id)
        if row is None or row[ARCHIVED]:
            return False
        stamp = pl.Series([now_ms()]).cast(pl.Datetime("ms", "UTC")).dt.strftime(HUBSPOT_TIME)[0]
        self.upsert_rows({object_id: {ARCHIVED: True, ARCHIVED_AT: stamp}})
        return True

    def touch(self, ids: list[int], at_ms: int | None = None) -> None:
        """Move lastmodifieddate of `ids` to now (or `at_ms`) without changing properties."""
        if ids:
            self.upsert_rows({i: {} for i in ids}, at_ms)

    def stats(self) -> dict:
        versions = self.active.select(
            pl.col(MODIFIED).cast(pl.Datetime("ms", "UTC")).dt.strftime(HUBSPOT_TIME)
        ).to_series()
        return {
            "total": self.active.height,
            "archived": self.archived.height,
            "checksum": record_checksum(self.active["id"], versions),
        }
