"""The matching frame: the few columns Splink compares, derived from clean profiles.

Derived columns exist so the model can see what humans see: `first_name_canonical` maps
nicknames to one form (Bob -> Robert), `email_user` is the part before the @ so a person moving
from gmail to outlook still matches on it.
"""

import polars as pl

from email_data_platform.lib.identity.junk import null_junk_identifiers
from email_data_platform.lib.identity.settings import MATCHING_COLUMNS

# Common English diminutives. Deliberately small: a wrong entry merges two different names.
NICKNAMES = {
    "Abby": "Abigail", "Al": "Albert", "Alex": "Alexander", "Andy": "Andrew", "Drew": "Andrew",
    "Ben": "Benjamin", "Bill": "William", "Billy": "William", "Will": "William",
    "Bob": "Robert", "Bobby": "Robert", "Rob": "Robert", "Robbie": "Robert",
    "Cathy": "Catherine", "Kate": "Catherine", "Katie": "Catherine", "Kathy": "Katherine",
    "Chris": "Christopher", "Dan": "Daniel", "Danny": "Daniel", "Dave": "David",
    "Davy": "David", "Ed": "Edward", "Eddie": "Edward", "Ted": "Edward", "Liz": "Elizabeth",
    "Beth": "Elizabeth", "Betty": "Elizabeth", "Lizzie": "Elizabeth", "Eliza": "Elizabeth",
    "Fred": "Frederick", "Freddie": "Frederick", "Greg": "Gregory", "Harry": "Henry",
    "Hank": "Henry", "Jim": "James", "Jimmy": "James", "Jamie": "James", "Jen": "Jennifer",
    "Jenny": "Jennifer", "Joe": "Joseph", "Joey": "Joseph", "Jack": "John", "Johnny": "John",
    "Jon": "Jonathan", "Josh": "Joshua", "Ken": "Kenneth", "Kenny": "Kenneth",
    "Larry": "Lawrence", "Maggie": "Margaret", "Meg": "Margaret", "Peggy": "Margaret",
    "Matt": "Matthew", "Mike": "Michael", "Mikey": "Michael", "Mick": "Michael",
    "Nick": "Nicholas", "Pat": "Patricia", "Patty": "Patricia", "Pete": "Peter",
    "Rich": "Richard", "Rick": "Richard", "Dick": "Richard", "Ron": "Ronald",
    "Sam": "Samuel", "Sammy": "Samuel", "Sandy": "Sandra", "Steve": "Stephen",
    "Steven": "Stephen", "Sue": "Susan", "Susie": "Susan", "Tom": "Thomas", "Tommy": "Thomas",
    "Tony": "Anthony", "Vicky": "Victoria", "Tori": "Victoria", "Zach": "Zachary",
    "Charlie": "Charles", "Chuck": "Charles", "Jess": "Jessica", "Jessie": "Jessica",
    "Becky": "Rebecca", "Becca": "Rebecca", "Mandy": "Amanda", "Mandi": "Amanda",
    "Debbie": "Deborah", "Deb": "Deborah", "Ally": "Alison", "Ollie": "Oliver",
    "Nate": "Nathan", "Tim": "Timothy", "Timmy": "Timothy", "Gerry": "Gerald",
    "Jerry": "Gerald", "Phil": "Philip", "Len": "Leonard", "Lenny": "Leonard",
    "Walt": "Walter", "Ray": "Raymond", "Russ": "Russell", "Doug": "Douglas",
    "Stu": "Stuart", "Gabe": "Gabriel", "Nicky": "Nicola", "Suzy": "Susan", "Annie": "Anne",
    "Ann": "Anne", "Emmy": "Emily", "Em": "Emma", "Sophie": "Sophia",
    "Mo": "Mohammed", "Mohamed": "Mohammed", "Muhammad": "Mohammed",
}


def canonical_first_name_expr(column: str = "first_name") -> pl.Expr:
    """The first name with a known nickname replaced by its full form."""
    return pl.col(column).replace(NICKNAMES)


# The clean-profile columns matching reads (read only these from the warehouse).
SOURCE_COLUMNS = ["record_id", "first_name", "last_name", "email_key", "phone", "date_of_birth",
                  "postal_code", "city"]


def prepare_matching_frame(profiles: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """Select and derive the matching columns from clean profiles; null junk identifiers.

    Returns the frame (columns `MATCHING_COLUMNS`, all Utf8) and the junk counts per kind.
    """
    missing = set(SOURCE_COLUMNS) - set(profiles.columns)
    if missing:
        raise ValueError(f"clean profiles lack the columns identity needs: {sorted(missing)}")
    cleaned, junk_counts = null_junk_identifiers(_base_columns(profiles))
    return derive_matching_columns(cleaned), junk_counts


def _base_columns(profiles):
    return profiles.select(
        "record_id", "first_name", "last_name", "email_key", "phone",
        pl.col("date_of_birth").cast(pl.Date, strict=False), "postal_code", "city",
    )


def derive_matching_columns(base):
    """`MATCHING_COLUMNS` from the base columns (junk nulled or not); frame or lazy frame."""
    return base.with_columns(
        canonical_first_name_expr().alias("first_name_canonical"),
        pl.col("email_key").str.extract(r"^([^@]+)@", 1).alias("email_user"),
        pl.col("date_of_birth").dt.to_string("%Y-%m-%d").alias("date_of_birth"),
        pl.col("postal_code").str.to_uppercase().str.replace_all(" ", ""),
    ).select(MATCHING_COLUMNS)


def matching_frame_with_junk(profiles: pl.DataFrame) -> pl.LazyFrame:
    """The matching columns with junk identifiers kept: blocking keys of the population are
    stored this way, so candidate lookup finds what the raw values share, as before. Lazy, so
    a caller keeping only hashes of them never holds the derived strings for 1M records."""
    return derive_matching_columns(_base_columns(profiles.lazy()))
