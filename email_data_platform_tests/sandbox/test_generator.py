"""Behaviour of the synthetic data generator: shape, determinism and the traps it must contain."""

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
    "contacts": CONTACT_COLUMNS,
    "truth": ["id", "entity_id"],
    "orders": ["order_id", "contact_id", "amount", "currency", "order_date", "status",
               "updated_at"],
    "engagement": ["event_id", "email", "event_type", "occurred_at", "campaign_id"],
    "consent": ["event_id", "contact_id", "email", "purpose", "status", "channel",
                "occurred_at", "policy_version"],
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
