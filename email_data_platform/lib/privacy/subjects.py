"""Where a person's data sits: the warehouse catalogue read for identifying columns, and the
rows that belong to one data subject.

Tables are discovered from the warehouse's own catalogue (`duckdb_columns()`), never from a
hard-coded list, so a table added by any stage is covered by erasure, export and retention as
soon as it has one of the identifying columns below. A person is found by the identifiers they
leave: email addresses (compared by their canonical matching key, so " Ann@X.com" and
"ann@x.com" are one address), CRM record ids, entity ids, Mailchimp subscriber hashes, the keyed
pseudonyms of their entity id, and addresses inside the JSON of quarantined raw records.
"""

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import polars as pl

from email_data_platform.lib.profiles.emails import normalise_emails
from email_data_platform.lib.warehouse import Warehouse

# column name -> identifier kind; `email` kinds hold addresses as written, compared by key
RECORD_COLUMNS = {"record_id", "contact_record_id", "record_key", "unique_id"}
PAIR_COLUMNS = {"record_id_l", "record_id_r", "unique_id_l", "unique_id_r"}
ENTITY_COLUMNS = {"entity_id", "alias_entity_id"}
EMAIL_KEY_COLUMNS = {"email_key"}
HASH_COLUMNS = {"subscriber_hash"}
PSEUDONYM_COLUMNS = {"person_pseudonym"}
JSON_COLUMNS = {"raw_record"}
# Evidence of privacy work itself: keyed hashes and pseudonyms only, never edited by erasure.
EXCLUDED_TABLES = {"privacy.audit_log", "privacy.erasure_requests", "privacy.erasure_log",
                   "privacy.tombstones", "privacy.retention_log", "privacy.tombstone_verified"}
GMAIL_DOMAINS = {"gmail.com", "googlemail.com"}
_TABLE = re.compile(r"[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*")
_EMAIL_IN_TEXT = re.compile(r"[^@\s\"'\\,:{}\[\]]+@[^@\s\"'\\,:{}\[\]]+\.[A-Za-z]{2,}")


def column_kind(name: str) -> str | None:
    """The identifier kind a column holds, judged by its name; None for other columns."""
    if name in RECORD_COLUMNS or name in PAIR_COLUMNS:
        return "record_id"
    if name in ENTITY_COLUMNS:
        return "entity_id"
    if name in EMAIL_KEY_COLUMNS:
        return "email_key"
    if name == "email" or name == "email_address" or name.endswith("_email"):
        return "email"
    if name in HASH_COLUMNS:
        return "subscriber_hash"
    if name in PSEUDONYM_COLUMNS:
        return "pseudonym"
    if name in JSON_COLUMNS:
        return "json"
    return None


# Personal data anonymisation nulls (besides addresses and their keys), judged by column name.
PII_COLUMNS = {"first_name", "last_name", "full_name", "name", "phone", "mobile",
               "date_of_birth", "birth_date", "city", "postal_code", "postcode", "address",
               "street", "company", "raw_record", "merge_fields"}


def is_pii_column(name: str) -> bool:
    return name in PII_COLUMNS or column_kind(name) in ("email", "email_key")


@dataclass(frozen=True)
class TableIdentifiers:
    table: str
    columns: dict[str, str]  # identifying text column -> kind
    pii: tuple[str, ...] = ()  # columns anonymisation nulls (any type)

    @property
    def pair_columns(self) -> list[str]:
        return [c for c in self.columns if c in PAIR_COLUMNS]


def catalogue(wh: Warehouse) -> list[TableIdentifiers]:
    """Every warehouse table with at least one identifying text column.

    Read from the warehouse's catalogue (`Warehouse.column_catalogue`: the standard
    `information_schema` on DuckDB and Snowflake, the API on BigQuery), base tables of the
    current database only.
    """
    columns = wh.column_catalogue()
    found: dict[str, dict[str, str]] = {}
    pii: dict[str, list[str]] = {}
    for table, column, is_text in columns.iter_rows():
        if table in EXCLUDED_TABLES or not _TABLE.fullmatch(table):
            continue
        kind = column_kind(column) if is_text else None
        if kind:
            found.setdefault(table, {})[column] = kind
        if is_pii_column(column):
            pii.setdefault(table, []).append(column)
    return [TableIdentifiers(table, cols, tuple(pii.get(table, ()))) for table, cols in
            found.items()]


def email_keys(values: Iterable[str | None]) -> dict[str, str]:
    """address as written -> canonical matching key (lowercased address when not valid)."""
    raw = [v for v in set(values) if v and v.strip()]
    if not raw:
        return {}
    frame = normalise_emails(pl.DataFrame({"raw": raw, "email": [v.strip() for v in raw]}))
    return {r: key if key else email for r, email, key in
            frame.select("raw", "email", "email_key").iter_rows()}


def emails_in_text(text: str | None) -> list[str]:
    return _EMAIL_IN_TEXT.findall(text or "")


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: md5 of the lowercased address (what sync receipts are keyed by)."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


# A matcher answers: which of these normalised identifiers of `kind` belong to the subject(s)?
Matcher = Callable[[str, list[str]], set[str]]


def matched(values: list[str], kind: str, matcher: Matcher) -> list[str]:
    """The values (as stored in a column of `kind`) whose identifier the matcher recognises."""
    if kind == "email":
        keys = email_keys(values)
        hits = matcher("email_key", sorted(set(keys.values())))
        return [v for v in values if keys.get(v) in hits]
    if kind == "json":
        found = {v: list(email_keys(emails_in_text(v)).values()) for v in values}
        hits = matcher("email_key", sorted({k for keys in found.values() for k in keys}))
        return [v for v, keys in found.items() if any(k in hits for k in keys)]
    hits = matcher(kind, values)
    return [v for v in values if v in hits]


def matching_values(wh: Warehouse, table: str, column: str, kind: str,
                    matcher: Matcher) -> list[str]:
    """The stored values of `table.column` that belong to the matched subject(s).

    A matcher that knows its values in clear (a `Subject`) narrows the read in SQL first; a
    keyed one (tombstones) has to see every distinct value.
    """
    narrowing = getattr(matcher, "prefilter", None)
    condition, params = narrowing(column, kind) if narrowing else ("", [])
    if condition is None:
        return []
    values = wh.query(f'select distinct "{column}" as v from {table} where "{column}" is not null'
                      f"{condition}", params)["v"].to_list()
    return matched(values, kind, matcher)


def matching_predicates(wh: Warehouse, entry: TableIdentifiers,
                        matcher: Matcher) -> list[tuple[str, list[str]]]:
    """(column, values) pairs: a row is the subject's when any of its columns holds a value."""
    found = []
    for column, kind in entry.columns.items():
        values = matching_values(wh, entry.table, column, kind, matcher)
        if values:
            found.append((column, values))
    return found


def where_clause(predicates: list[tuple[str, list[str]]]) -> tuple[str, list]:
    """SQL condition and parameters matching any (column, values) pair."""
    sql = " or ".join(f'"{column}" in ({", ".join("?" * len(values))})'
                      for column, values in predicates)
    return sql, [v for _, values in predicates for v in values]


@dataclass
class Subject:
    """Every identifier one person is known by (plain values, held in memory only)."""

    email_keys: set[str] = field(default_factory=set)
    record_ids: set[str] = field(default_factory=set)
    entity_ids: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)  # addresses as stored, for the ESPs
    pseudonyms: set[str] = field(default_factory=set)

    def identifiers(self, kind: str) -> set[str]:
        if kind == "subscriber_hash":
            return {subscriber_hash(e) for e in self.emails | self.email_keys}
        return {"email_key": self.email_keys, "record_id": self.record_ids,
                "entity_id": self.entity_ids, "pseudonym": self.pseudonyms}.get(kind, set())

    def __call__(self, kind: str, values: list[str]) -> set[str]:
        """A subject is a matcher: which of these identifiers are theirs."""
        return set(values) & self.identifiers(kind)

    def prefilter(self, column: str, kind: str) -> tuple[str | None, list]:
        """An SQL condition that keeps the reads small; None when no row can match."""
        if kind in ("email", "json"):
            patterns = sorted(self._address_patterns())
            if not patterns:
                return None, []
            # ILIKE on the raw column (no lower/trim per row): ~2.5x faster on DuckDB
            return " and (" + " or ".join(f'"{column}" ilike ?' for _ in patterns) + ")", patterns
        values = sorted(self.identifiers(kind))
        if not values:
            return None, []
        return f' and "{column}" in ({", ".join("?" * len(values))})', values

    def _address_patterns(self) -> set[str]:
        """LIKE patterns every spelling of the subject's addresses matches (and a few more:
        the exact comparison by key follows in Python)."""
        patterns = set()
        for address in self.email_keys | self.emails:
            local, _, domain = address.strip().lower().partition("@")
            if not local or not domain:
                continue
            if domain in GMAIL_DOMAINS:  # dots anywhere in the local part: match its start
                hosts, prefix = GMAIL_DOMAINS, local[:1]
            else:
                hosts, prefix = {domain}, local
            for host in hosts:
                # an internationalised domain may be stored in Unicode: match the local part
                host = "%" if "xn--" in host else host
                patterns.add(f"%{prefix}%@{host}%")  # leading %: spaces or JSON before it
        return patterns

    @property
    def size(self) -> int:
        return len(self.email_keys) + len(self.record_ids) + len(self.entity_ids)


# Columns through which one identifier leads to the person's others: the rows of one record
# (its id, address, entity). Pair tables are not followed: a candidate pair is not a person.
_EXPANDING = ("record_id", "contact_record_id", "record_key", "entity_id", "alias_entity_id",
              "email", "email_key")


def resolve_subject(wh: Warehouse, tables: list[TableIdentifiers],
                    email: str | None = None, record_id: str | None = None,
                    entity_id: str | None = None, max_rounds: int = 4) -> Subject:
    """Start from an address, record or entity id and follow rows to every record, address
    and entity of that person (their entity's other records included)."""
    subject = Subject()
    if email:
        subject.email_keys.update(email_keys([email]).values())
        subject.emails.add(email.strip().lower())
    if record_id:
        subject.record_ids.add(record_id)
    if entity_id:
        subject.entity_ids.add(entity_id)
    seen: dict[str, tuple] = {}
    for _ in range(max_rounds):
        before = subject.size
        for entry in tables:
            # a table read with the same identifiers as last round has nothing new to give
            state = (frozenset(subject.email_keys), frozenset(subject.emails),
                     frozenset(subject.record_ids), frozenset(subject.entity_ids))
            if seen.get(entry.table) != state:
                seen[entry.table] = state
                _absorb_rows(wh, entry, subject)
        if subject.size == before:
            break
    return subject


def _absorb_rows(wh: Warehouse, entry: TableIdentifiers, subject: Subject) -> None:
    expanding = {c: k for c, k in entry.columns.items() if c in _EXPANDING}
    if not expanding:
        return
    predicates = matching_predicates(wh, TableIdentifiers(entry.table, expanding),
                                     subject)
    if not predicates:
        return
    sql, params = where_clause(predicates)
    cols = ", ".join(f'"{c}"' for c in expanding)
    rows = wh.query(f"select distinct {cols} from {entry.table} where {sql}", params)
    for column, kind in expanding.items():
        values = [v for v in rows[column].to_list() if v]
        if kind == "email":
            subject.emails.update(v.strip().lower() for v in values)
            subject.email_keys.update(email_keys(values).values())
        else:
            subject.identifiers(kind).update(values)
