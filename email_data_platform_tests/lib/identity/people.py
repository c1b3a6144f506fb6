"""Small synthetic clean profiles with known truth, for identity tests and demos.

Shaped like `profiles.clean_profiles` (already normalised). Each person gets one to three
records; duplicates carry the corruptions the model must see through (typos, nicknames, swapped
names, email variants, moved addresses), and the population holds the traps it must not fall
for: household members (same surname, phone and address) and namesakes. Per-row Python is fine
here: these frames have hundreds of rows, never millions.
"""

import random
from datetime import UTC, date, datetime, timedelta

import polars as pl

FIRST_NAMES = [
    "Robert", "William", "Elizabeth", "Catherine", "Michael", "Thomas", "Margaret", "James",
    "Jennifer", "Daniel", "Sarah", "Olivia", "Amelia", "George", "Harriet", "Isaac", "Chloe",
    "Nathan", "Priya", "Arjun", "Fatima", "Yusuf", "Mei", "Lucas", "Hannah", "Oscar", "Freya",
    "Rowan", "Imogen", "Felix", "Ada", "Hugo", "Iris", "Jasper", "Keira", "Leon", "Maya",
]
NICKNAME_OF = {"Robert": "Bob", "William": "Bill", "Elizabeth": "Liz", "Catherine": "Kate",
               "Michael": "Mike", "Thomas": "Tom", "Margaret": "Maggie", "James": "Jim",
               "Jennifer": "Jen", "Daniel": "Dan"}
LAST_NAMES = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Khan", "Wright", "Walker", "Thompson", "White", "Hughes", "Edwards", "Green", "Hall",
    "Wood", "Harris", "Lewis", "Martin", "Jackson", "Clarke", "Okafor", "Nakamura", "Novak",
    "Fischer", "Rossi", "Moreau", "Silva", "Kowalski", "Larsen", "Ivanova", "Haddad",
]
CITIES = [("London", "SW1A1AA"), ("Leeds", "LS11BA"), ("Bristol", "BS14ST"),
          ("Manchester", "M11AE"), ("York", "YO17HH"), ("Bath", "BA11LZ")]
DOMAINS = ["gmail.com", "outlook.com", "yahoo.co.uk", "proton.me"]


def _typo(rng: random.Random, text: str) -> str:
    i = rng.randrange(1, len(text) - 1) if len(text) > 2 else 0
    return text[:i] + text[i + 1] + text[i] + text[i + 2:] if len(text) > 2 else text


def _person(rng: random.Random, pid: int, last: str | None = None, home=None, phone=None):
    first = rng.choice(FIRST_NAMES)
    last = last or rng.choice(LAST_NAMES)
    city, postcode = home or rng.choice(CITIES)
    return {
        "entity": f"p{pid}", "first_name": first, "last_name": last,
        "email_key": f"{first.lower()}.{last.lower()}{pid}@{rng.choice(DOMAINS)}",
        "phone": phone or f"+4477{rng.randrange(10_000_000, 99_999_999)}",
        "date_of_birth": date(1950, 1, 1) + timedelta(days=rng.randrange(0, 20_000)),
        "city": city, "postal_code": postcode,
    }


def _duplicate(rng: random.Random, person: dict) -> dict:
    """One corrupted copy of a person: the kind of drift real CRMs accumulate."""
    record = dict(person)
    kind = rng.choice(["typo", "nickname", "swap", "email", "moved", "plain"])
    if kind == "typo":
        record["last_name"] = _typo(rng, record["last_name"])
    elif kind == "nickname" and record["first_name"] in NICKNAME_OF:
        record["first_name"] = NICKNAME_OF[record["first_name"]]
    elif kind == "swap":
        record["first_name"], record["last_name"] = record["last_name"], record["first_name"]
    elif kind == "email":
        record["email_key"] = record["email_key"].split("@")[0] + "@" + rng.choice(DOMAINS)
    elif kind == "moved":
        record["city"], record["postal_code"] = rng.choice(CITIES)
        record["phone"] = None
    return record


def make_people(persons: int, seed: int = 7) -> list[dict]:
    """Distinct people: most alone, some in households (shared surname, phone, address)."""
    rng = random.Random(seed)
    people: list[dict] = []
    while len(people) < persons:
        head = _person(rng, len(people))
        people.append(head)
        if rng.random() < 0.15:  # a household member: same surname, phone and address
            people.append(_person(rng, len(people), head["last_name"],
                                  (head["city"], head["postal_code"]), head["phone"]))
    return people[:persons]


def make_clean_profiles(persons: int = 200, seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (clean_profiles, truth) for `persons` people, each with one to three records.

    truth has `record_id` and `entity_id` (the true person).
    """
    rng = random.Random(seed)
    rows = []
    created = datetime(2024, 1, 1, tzinfo=UTC)
    for person in make_people(persons, seed):
        copies = [person] + [_duplicate(rng, person) for _ in range(rng.choice([0, 0, 1, 2]))]
        for record in copies:
            object_id = str(100_000 + len(rows))
            source = rng.choice(["hubspot", "hubspot", "salesforce"])
            stamp = created + timedelta(days=rng.randrange(0, 600))
            rows.append({**record, "record_id": f"{source}:{object_id}", "source": source,
                         "object_id": object_id, "email": record["email_key"],
                         "country": "GB", "company": None, "created_at": stamp,
                         "updated_at": stamp + timedelta(days=rng.randrange(0, 30))})
    frame = pl.DataFrame(rows, infer_schema_length=None)
    truth = frame.select("record_id", pl.col("entity").alias("entity_id"))
    columns = ["record_id", "source", "object_id", "first_name", "last_name", "email",
               "email_key", "phone", "date_of_birth", "city", "postal_code", "country",
               "company", "created_at", "updated_at"]
    profiles = frame.select(columns).with_columns(pl.col("company").cast(pl.Utf8))
    return profiles, truth
