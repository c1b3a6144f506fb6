"""Load contacts a user supplies (CSV or Parquet) as generator-shaped, all-Utf8 contact rows."""

from pathlib import Path

import polars as pl

REQUIRED_SEED_COLUMNS = ("id", "first_name", "last_name", "email", "phone", "date_of_birth",
                         "city", "postal_code")
OPTIONAL_SEED_COLUMNS = ("country", "company", "created_at", "updated_at")
MAX_LISTED = 10  # offending ids or rows named in an error message


def read_contact_file(path: Path) -> pl.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        # Every column as text: ids like "007" and phones like "020..." must keep their zeros.
        return pl.read_csv(path, infer_schema=False)
    if suffix in (".parquet", ".pq"):
        frame = pl.read_parquet(path)
        return frame.with_columns(pl.all().cast(pl.Utf8))
    raise ValueError(f"{path}: unsupported contacts file type {suffix!r} (use .csv or .parquet)")


def check_ids(frame: pl.DataFrame, path: Path) -> None:
    """Every row needs a non-empty id, and no id may appear twice."""
    ids = frame["id"]
    empty_rows = (ids.is_null() | (ids.str.strip_chars() == "")).arg_true()
    if len(empty_rows):
        rows = [int(r) + 1 for r in empty_rows[:MAX_LISTED]]
        raise ValueError(f"{path}: {len(empty_rows)} row(s) with an empty id, data rows {rows} "
                         "(1 = first row after the header)")
    repeated = ids.filter(ids.is_duplicated()).unique(maintain_order=True)
    if len(repeated):
        raise ValueError(f"{path}: duplicate id(s) {repeated[:MAX_LISTED].to_list()}"
                         f"{' ...' if len(repeated) > MAX_LISTED else ''}")


def load_seed_contacts(path: Path) -> pl.DataFrame:
    """Contacts from a CSV or Parquet file, shaped like the generator's `contacts` table.

    Required columns: id, first_name, last_name, email, phone, date_of_birth, city, postal_code.
    Optional: country, company, created_at, updated_at (null when absent). Other columns are
    ignored; every value is cast to Utf8.

    Raises:
        ValueError: naming the file and the problem: missing required columns, an empty id (with
            row numbers) or a repeated id (with the ids).
    """
    path = Path(path)
    frame = read_contact_file(path)
    missing = [c for c in REQUIRED_SEED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing required column(s) {missing}; "
                         f"required are {list(REQUIRED_SEED_COLUMNS)}")
    check_ids(frame, path)
    absent = [c for c in OPTIONAL_SEED_COLUMNS if c not in frame.columns]
    frame = frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias(c) for c in absent)
    return frame.select(pl.col(c).cast(pl.Utf8)
                        for c in (*REQUIRED_SEED_COLUMNS, *OPTIONAL_SEED_COLUMNS))
