"""Behaviour of the synthetic data generator: shape, determinism and the traps it must contain."""

import json

import polars as pl
import pytest

from email_data_platform.sandbox.generator import (
    Dataset,
    dataset_for_contacts,
    generate_dataset,
    load_seed_contacts,
    read_dataset,
    write_dataset,
)

CONTACT_COLUMNS = ["id", "first_name", "last_name", "email", "phone", "date_of_birth", "city",
                   "postal_code", "country", "company", "created_at", "updated_at"]
EXPECTED_COLUMNS = {
    "contacts": [*CONTACT_COLUMNS, "email_opt_out"],
    "truth": ["id", "entity_id"],
    "orders": ["order_id", "contact_id", "amount", "currency", "order_date", "status",
               "updated_at"],
    "engagement": ["event_id", "email", "event_type", "occurred_at", "campaign_id"],
    "consent": ["event_id", "contact_id", "email", "purpose", "status", "channel",
                "occurred_at", "policy_version", "proof_reference"],
}
ROWS = 3000


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return generate_dataset(ROWS, seed=7)


@pytest.fixture(scope="module")
def contacts_with_truth(dataset: Dataset) -> pl.DataFrame:
    return dataset.contacts.join(dataset.truth, on="id")


def test_tables_have_contract_columns_all_utf8(dataset: Dataset) -> None:
    for name, columns in EXPECTED_COLUMNS.items():
        frame = getattr(dataset, name)
        assert frame.columns == columns, name
        assert all(dtype == pl.Utf8 for dtype in frame.dtypes), name
        assert frame.height > 0, name


def test_some_records_carry_the_crm_opt_out_flag(dataset: Dataset) -> None:
    flags = dataset.contacts["email_opt_out"]
    assert set(flags) == {"true", "false"}
    assert 0.005 < (flags == "true").mean() < 0.05


def test_same_seed_same_data_other_seed_differs(dataset: Dataset) -> None:
    again = generate_dataset(ROWS, seed=7)
    for name in EXPECTED_COLUMNS:
        assert getattr(again, name).equals(getattr(dataset, name)), name
    other = generate_dataset(ROWS, seed=8)
    assert not other.contacts.equals(dataset.contacts)


def test_row_count_and_unique_digit_ids(dataset: Dataset) -> None:
    ids = dataset.contacts["id"]
    assert dataset.contacts.height == ROWS == dataset.truth.height
    assert ids.n_unique() == ROWS
    assert ids.str.contains(r"^\d+$").all()


@pytest.mark.parametrize("rows", [0, 1, 2, 5, 17])
def test_tiny_sizes_give_exact_row_counts(rows: int) -> None:
    assert generate_dataset(rows).contacts.height == rows


def test_people_have_one_to_four_records_about_1_4_on_average(dataset: Dataset) -> None:
    per_entity = dataset.truth.group_by("entity_id").len()["len"]
    assert per_entity.min() >= 1 and per_entity.max() <= 4
    assert 1.3 < ROWS / per_entity.len() < 1.55
    assert (per_entity > 1).sum() > 300


def test_household_members_share_phone_and_address_but_are_different_people(
    contacts_with_truth: pl.DataFrame,
) -> None:
    digits = pl.col("phone").str.replace_all(r"\D", "").str.slice(-8)
    shared = (
        contacts_with_truth.filter(pl.col("phone").is_not_null())
        .with_columns(phone_tail=digits)
        .group_by("phone_tail", "postal_code", "last_name")
        .agg(pl.col("entity_id").n_unique().alias("people"),
             pl.col("first_name").n_unique().alias("first_names"))
        .filter(pl.col("people") > 1)
    )
    assert shared.height >= 20
    assert (shared["first_names"] > 1).all()


def test_namesakes_are_different_people(contacts_with_truth: pl.DataFrame) -> None:
    namesakes = contacts_with_truth.group_by("first_name", "last_name").agg(
        pl.col("entity_id").n_unique().alias("people"))
    assert namesakes["people"].max() >= 5


def entity_values(contacts_with_truth: pl.DataFrame, column: str) -> pl.DataFrame:
    """Per true person, the distinct values one column takes across that person's records."""
    return contacts_with_truth.group_by("entity_id").agg(pl.col(column).unique().alias("values"))


def test_duplicates_carry_name_corruptions(contacts_with_truth: pl.DataFrame) -> None:
    firsts = entity_values(contacts_with_truth, "first_name")["values"].to_list()
    assert any({"Robert", "Bob"} <= set(v) or {"William", "Bill"} <= set(v)
               or {"James", "Jim"} <= set(v) for v in firsts), "nicknames"
    assert any(any(x and x.isupper() and len(x) > 3 for x in v) for v in firsts), "upper case"
    other_records = contacts_with_truth.select(
        "entity_id", swapped_last="first_name", swapped_first="last_name")
    swapped = contacts_with_truth.join(other_records, on="entity_id").filter(
        (pl.col("first_name") == pl.col("swapped_first"))
        & (pl.col("last_name") == pl.col("swapped_last"))
        & (pl.col("first_name") != pl.col("last_name")))
    assert swapped.height > 0, "first/last swapped"


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (a transposition counts as one edit)."""
    rows = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1,
                             rows[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[-1][-1]


def test_typos_are_one_or_two_edits_from_a_real_name(dataset: Dataset) -> None:
    from email_data_platform.sandbox.wordlists import COUNTRIES, NICKNAMES

    firsts = {n for c in COUNTRIES for n in c.first_names} | set(NICKNAMES.values())
    # swapped records put a (possibly typo'd) surname in first_name
    names = firsts | {n for c in COUNTRIES for n in c.last_names}
    values = dataset.contacts["first_name"].drop_nulls().unique().to_list()
    typos = [v for v in values if v not in names and not v.isupper() and len(v) < 30]
    assert len(typos) > 20
    for value in typos:
        assert min(edit_distance(value, name) for name in names) <= 2, value


def test_duplicates_carry_email_variants_and_missing_fields(dataset: Dataset) -> None:
    emails = dataset.contacts["email"]
    assert (emails.drop_nulls() != emails.drop_nulls().str.to_lowercase()).sum() > 10
    assert emails.str.contains(r"\+[a-z0-9]+@").sum() > 5, "+tags"
    assert emails.str.contains(r"@gmail\.com$").sum() > 50
    for column in ("email", "phone", "date_of_birth", "company"):
        assert dataset.contacts[column].null_count() > 10, column


def test_moved_people_have_several_postcodes(contacts_with_truth: pl.DataFrame) -> None:
    postcodes = entity_values(contacts_with_truth, "postal_code")
    assert (postcodes["values"].list.len() > 1).sum() > 20


@pytest.mark.parametrize(("label", "pattern"), [
    ("E.164", r"^\+\d{8,13}$"), ("international spaced", r"^\+\d{1,3} \d"),
    ("national", r"^0\d"), ("00 prefix", r"^00\d"), ("brackets", r"^\("), ("dashes", r"\d-\d"),
])
def test_phone_formats_vary(dataset: Dataset, label: str, pattern: str) -> None:
    assert dataset.contacts["phone"].str.contains(pattern).sum() > 10, label


@pytest.mark.parametrize(("label", "pattern"), [
    ("ISO", r"^\d{4}-\d{2}-\d{2}$"), ("slashes", r"^\d{2}/\d{2}/\d{4}$"),
    ("dots", r"^\d{2}\.\d{2}\.\d{4}$"), ("month name", r"^[A-Z][a-z]+ \d{1,2}, \d{4}$"),
])
def test_birth_date_formats_vary(dataset: Dataset, label: str, pattern: str) -> None:
    assert dataset.contacts["date_of_birth"].str.contains(pattern).sum() > 10, label


def test_clean_birth_dates_lie_between_1940_and_2006(dataset: Dataset) -> None:
    iso = dataset.contacts["date_of_birth"].filter(
        dataset.contacts["date_of_birth"].str.contains(r"^\d{4}-\d{2}-\d{2}$"))
    years = iso.str.slice(0, 4).cast(pl.Int64)
    in_range = years.is_between(1940, 2006)
    assert in_range.mean() > 0.99
    assert not in_range.all(), "a few invalid years (future, before 1900) for the quarantine"


def test_country_is_spelled_many_ways(dataset: Dataset) -> None:
    countries = set(dataset.contacts["country"].unique().to_list())
    assert {"GB", "US", "DE", "FR", "IE", "NL", "ES"} <= countries
    assert len(countries & {"United Kingdom", "UK", "gb", "Great Britain", "England"}) >= 3


def test_timestamps_are_iso_utc_and_updated_not_before_created(dataset: Dataset) -> None:
    contacts = dataset.contacts
    for column in ("created_at", "updated_at"):
        assert contacts[column].str.contains(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$").all()
    assert (contacts["updated_at"] >= contacts["created_at"]).all()
    as_of = dataset.as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    three_years_before = f"{dataset.as_of.year - 3}{as_of[4:]}"
    assert contacts["created_at"].min() >= three_years_before
    assert contacts["updated_at"].max() <= as_of
    assert dataset.engagement["occurred_at"].max() <= as_of
    assert dataset.consent["occurred_at"].max() <= as_of


def test_as_of_moves_every_timestamp() -> None:
    from datetime import UTC, datetime

    later = generate_dataset(500, seed=7, as_of=datetime(2030, 6, 1, tzinfo=UTC))
    assert later.contacts["created_at"].min() >= "2027-06-01"
    assert later.engagement["occurred_at"].min() >= "2029-06-01"


def test_junk_invalid_and_hostile_values_are_present(dataset: Dataset) -> None:
    contacts = dataset.contacts
    emails, phones = contacts["email"], contacts["phone"]
    placeholders = emails.is_in(["test@test.com", "noreply@example.com", "none@none.com", "n/a"])
    assert placeholders.sum() + emails.str.starts_with("info@").sum() >= 5
    assert phones.is_in(["0000000000", "1234567890", "+10000000000", "n/a"]).sum() >= 5
    assert emails.is_in(["john.smith@", "no-at-sign", "a@@b.com", "user@domain"]).sum() >= 1
    text = contacts.select(pl.concat_str(pl.all().fill_null(""), separator="|")).to_series()
    for marker in ("\x00", "\u202e", "<script>", "DROP TABLE", "😀"):
        assert text.str.contains(marker, literal=True).any(), repr(marker)
    assert text.str.len_chars().max() > 5000


def test_orders_belong_to_existing_contacts_and_are_mostly_valid(dataset: Dataset) -> None:
    orders = dataset.orders
    assert orders["contact_id"].is_in(dataset.contacts["id"].implode()).all()
    assert orders["order_id"].n_unique() == orders.height
    assert 0.9 < orders.height / dataset.truth["entity_id"].n_unique() < 2.1  # ~1.5 per person
    assert orders["amount"].str.contains(r"^-?\d+\.\d{2}$").all()
    assert set(orders["currency"].unique()) <= {"GBP", "USD", "EUR", "XXX"}
    assert set(orders["status"].unique()) == {"paid", "refunded", "cancelled"}
    assert (orders["status"] == "paid").mean() > 0.8
    assert orders["order_date"].str.contains(r"^\d{4}-\d{2}-\d{2}$").all()


def test_order_currency_fits_the_contacts_country(dataset: Dataset) -> None:
    joined = dataset.orders.join(dataset.contacts, left_on="contact_id", right_on="id")
    us = joined.filter(pl.col("country") == "US")
    assert (us["currency"] == "USD").mean() > 0.98
    de = joined.filter(pl.col("country") == "DE")
    assert (de["currency"] == "EUR").mean() > 0.98


def test_a_few_orders_are_invalid() -> None:
    orders = generate_dataset(20_000, seed=3).orders
    invalid = (orders["amount"].str.starts_with("-") | (orders["currency"] == "XXX")
               | (orders["order_date"] > "2027-01-01"))
    assert 0 < invalid.sum() < orders.height * 0.01


def test_engagement_is_keyed_by_known_emails_with_all_event_types(dataset: Dataset) -> None:
    events = dataset.engagement
    assert set(events["event_type"].unique()) == {
        "sent", "open", "click", "bounce", "unsubscribe", "complaint"}
    assert (events["event_type"] == "sent").sum() > (events["event_type"] == "open").sum()
    assert events["occurred_at"].str.contains(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$").all()
    assert events["event_id"].n_unique() == events.height
    known = dataset.contacts["email"].str.to_lowercase().implode()
    assert events["email"].is_in(known).mean() > 0.99
    per_month = events["campaign_id"].n_unique() / 12
    assert 2 <= per_month <= 4


def test_nobody_is_mailed_after_a_bounce_unsubscribe_or_complaint(dataset: Dataset) -> None:
    events = dataset.engagement
    stops = events.filter(pl.col("event_type").is_in(["bounce", "unsubscribe", "complaint"]))
    assert stops["email"].is_unique().all()
    later_sends = events.filter(pl.col("event_type") == "sent").join(
        stops.select("email", stopped_at="occurred_at"), on="email"
    ).filter(pl.col("occurred_at") > pl.col("stopped_at"))
    assert later_sends.height == 0


def test_consent_grants_withdrawals_and_invalid_rows(dataset: Dataset) -> None:
    consent = dataset.consent
    assert consent["contact_id"].is_in(dataset.contacts["id"].implode()).all()
    marketing = consent.filter(pl.col("purpose") == "email_marketing")
    granted = marketing.filter(pl.col("status") == "granted")["contact_id"].n_unique()
    assert 0.6 < granted / dataset.contacts.height < 0.8
    withdrawn = marketing.filter(pl.col("status") == "withdrawn")
    assert 0.05 < withdrawn.height / granted < 0.15
    first_grant = marketing.filter(pl.col("status") == "granted").group_by("contact_id").agg(
        granted_at=pl.col("occurred_at").min())
    later = withdrawn.join(first_grant, on="contact_id")
    assert later.height >= withdrawn.height * 0.95  # a few grants became invalid "spam_me" rows
    assert (later["occurred_at"] >= later["granted_at"]).all()
    assert {"personalisation", "analytics", "spam_me"} <= set(consent["purpose"].unique())
    assert consent["policy_version"].str.contains(r"^\d{4}-\d{2}$").all()
    assert (~consent["channel"].is_in(
        ["web_form", "checkout", "preference_centre", "import"])).sum() >= 1


def test_write_then_read_round_trips_byte_identically(dataset: Dataset, tmp_path) -> None:
    paths = write_dataset(dataset, tmp_path / "a")
    again = write_dataset(generate_dataset(ROWS, seed=7), tmp_path / "b")
    for name in ("contacts", "truth", "orders", "engagement", "consent"):
        assert paths[name].read_bytes() == again[name].read_bytes(), name
    manifest = json.loads(paths["manifest"].read_text())
    assert manifest["seed"] == 7 and manifest["counts"]["contacts"] == ROWS
    assert manifest["as_of"] == "2026-11-01T00:00:00Z"
    loaded = read_dataset(tmp_path / "a")
    assert loaded.seed == 7 and loaded.as_of == dataset.as_of
    assert loaded.contacts.equals(dataset.contacts) and loaded.consent.equals(dataset.consent)
    paths["truth"].unlink()
    assert read_dataset(tmp_path / "a").truth.columns == ["id", "entity_id"]


SEED_ROWS = [
    {"id": "7", "first_name": "Ada", "last_name": "Byron", "email": "ada@example.org",
     "phone": "020 7946 0001", "date_of_birth": "1985-03-07", "city": "London",
     "postal_code": "SW1A 1AA", "country": "UK", "shoe_size": "38"},
    {"id": "8", "first_name": "Alan", "last_name": "Turing", "email": "ADA@example.org",
     "phone": None, "date_of_birth": "07/03/1985", "city": "Leeds", "postal_code": "LS1 1AA",
     "country": "gb", "shoe_size": "44"},
    {"id": "9", "first_name": "Grace", "last_name": "Hopper", "email": None,
     "phone": "+1 212 555 0100", "date_of_birth": None, "city": "New York",
     "postal_code": "10001", "country": "US", "shoe_size": "40"},
]


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_load_seed_contacts_reads_csv_and_parquet(tmp_path, suffix: str) -> None:
    path = tmp_path / f"seed.{suffix}"
    frame = pl.DataFrame(SEED_ROWS)
    frame.write_csv(path) if suffix == "csv" else frame.write_parquet(path)
    contacts = load_seed_contacts(path)
    assert contacts.columns == CONTACT_COLUMNS  # shoe_size ignored, optional columns added
    assert all(dtype == pl.Utf8 for dtype in contacts.dtypes)
    assert contacts["id"].to_list() == ["7", "8", "9"]
    assert contacts["company"].null_count() == 3 and contacts["created_at"].null_count() == 3
    assert contacts["country"].to_list() == ["UK", "gb", "US"]


def test_load_seed_contacts_keeps_leading_zeros_and_casts_numbers(tmp_path) -> None:
    path = tmp_path / "seed.parquet"
    pl.DataFrame(SEED_ROWS).with_columns(id=pl.Series([1, 2, 3])).write_parquet(path)
    assert load_seed_contacts(path)["id"].to_list() == ["1", "2", "3"]
    csv = tmp_path / "zeros.csv"
    pl.DataFrame(SEED_ROWS).with_columns(id=pl.Series(["001", "002", "003"])).write_csv(csv)
    assert load_seed_contacts(csv)["id"].to_list() == ["001", "002", "003"]


def test_load_seed_contacts_names_missing_columns(tmp_path) -> None:
    path = tmp_path / "thin.csv"
    pl.DataFrame(SEED_ROWS).drop("phone", "postal_code").write_csv(path)
    with pytest.raises(ValueError, match=r"thin\.csv.*'phone', 'postal_code'"):
        load_seed_contacts(path)


@pytest.mark.parametrize(("ids", "message"), [
    (["7", "7", "9"], r"duplicate id.*'7'"),
    (["7", "", "9"], r"empty id.*\[2\]"),
])
def test_load_seed_contacts_rejects_bad_ids(tmp_path, ids: list[str], message: str) -> None:
    path = tmp_path / "ids.parquet"
    pl.DataFrame(SEED_ROWS).with_columns(id=pl.Series(ids)).write_parquet(path)
    with pytest.raises(ValueError, match=message):
        load_seed_contacts(path)


def test_load_seed_contacts_rejects_other_file_types(tmp_path) -> None:
    path = tmp_path / "seed.json"
    path.write_text("[]")
    with pytest.raises(ValueError, match="seed.json"):
        load_seed_contacts(path)


def test_dataset_for_contacts_builds_events_around_given_contacts(tmp_path) -> None:
    path = tmp_path / "seed.csv"
    pl.DataFrame(SEED_ROWS).write_csv(path)
    contacts = load_seed_contacts(path)
    dataset = dataset_for_contacts(contacts, seed=1)
    assert dataset.contacts.equals(contacts)
    assert dataset.truth.height == 0 and dataset.truth.columns == ["id", "entity_id"]
    for name in ("orders", "engagement", "consent"):
        table = getattr(dataset, name)
        assert table.columns == EXPECTED_COLUMNS[name]
        assert table.height > 0, f"{name} is empty: nothing below would be checked"
    assert dataset.orders["contact_id"].is_in(["7", "8", "9"]).all()
    assert dataset.consent["contact_id"].is_in(["7", "8", "9"]).all()
    # ids 7 and 8 share an email (case aside): the ESP knows one address for both; 9 has none
    assert set(dataset.engagement["email"]) == {"ada@example.org"}
    assert set(dataset.orders.filter(pl.col("contact_id") == "9")["currency"]) == {"USD"}
    again = dataset_for_contacts(contacts, seed=1)
    assert again.consent.equals(dataset.consent) and again.orders.equals(dataset.orders)
