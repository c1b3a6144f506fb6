"""Identity resolution settings kept as data: blocking rules, comparisons, thresholds.

Everything a reviewer needs to judge the model's behaviour lives here: which fields are compared,
which exact-equality blocks generate candidate pairs, and the match threshold. Comparisons avoid
term-frequency adjustments on purpose: they would force every incremental run to rebuild frequency
tables over the whole population, and the levels below separate namesakes well without them.
"""

from dataclasses import dataclass, field
from functools import lru_cache

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator, block_on

# Columns Splink sees. Nothing else (no raw email, no company) enters the matching frame.
MATCHING_COLUMNS = (
    "record_id",
    "first_name",
    "first_name_canonical",
    "last_name",
    "email_key",
    "email_user",
    "phone",
    "date_of_birth",
    "postal_code",
    "city",
)


@dataclass(frozen=True)
class BlockingRule:
    """Candidate pairs share exact, non-null values in every column of `columns`.

    `swapped` additionally pairs first_name/last_name with last_name/first_name (names entered
    in the wrong fields), which equality on the same columns cannot catch.
    """

    name: str
    columns: tuple[str, ...]
    swapped: bool = False

    def to_splink(self):
        if self.swapped:
            equal = "".join(f" and l.{c} = r.{c}" for c in self.columns)
            return "l.first_name = r.last_name and l.last_name = r.first_name" + equal
        return block_on(*self.columns)


# Ordered from most to least specific. Namesake-heavy rules (first + last name alone, swapped
# names alone) are avoided: at 1M records they generate most of the pairs and most of the false
# positives, and on the generator's data they find under 0.2% of true pairs no other rule finds.
DEFAULT_BLOCKING_RULES = (
    BlockingRule("email", ("email_key",)),
    BlockingRule("phone", ("phone",)),
    BlockingRule("last_name_dob", ("last_name", "date_of_birth")),
    BlockingRule("first_name_dob", ("first_name_canonical", "date_of_birth")),
    BlockingRule("names_postcode", ("first_name_canonical", "last_name", "postal_code")),
    BlockingRule("dob_postcode", ("date_of_birth", "postal_code")),
    BlockingRule("swapped_names_dob", ("date_of_birth",), swapped=True),
)
# Added when the data holds neither email nor phone (adapt.py): without a strong identifier a
# duplicate with typos in its name and in its birth date is found only through its address.
# On FEBRL they lift blocking recall from 0.84-0.92 to 0.90-0.95 of true pairs.
WEAK_IDENTIFIER_BLOCKING_RULES = (
    BlockingRule("dob_city", ("date_of_birth", "city")),
    BlockingRule("postcode_city", ("postal_code", "city")),
    BlockingRule("last_name_postcode", ("last_name", "postal_code")),
    BlockingRule("first_name_postcode", ("first_name_canonical", "postal_code")),
)

@dataclass(frozen=True)
class IdentityConfig:
    """Knobs of the identity stage; defaults are tuned on the synthetic generator at 1M rows."""

    # F1-best on the generator at 1M (pairwise and cluster F1 0.990; 0.98 gives 0.981/0.987).
    match_threshold: float = 0.9995
    # Used instead when the data holds neither email nor phone: names, birth dates and
    # addresses alone never reach 0.9995, and on FEBRL and the generator without email and
    # phone the F1-best threshold lay between 0.2 and 0.9 (precision 0.995-1.0 at 0.5).
    weak_identifier_match_threshold: float = 0.5
    # Pairs scored below this never reach the warehouse: they cannot link at any sane threshold.
    pair_floor_probability: float = 0.5
    max_comparisons: int = 60_000_000
    # Blocking adapts to size: a rule pairing more than this many per record is tightened
    # with one more column (blocking_budget.py). At 1M every default rule pairs under 0.8 per
    # record; at 10M first name + birth date pairs 5.5 (random namesakes, growing with N^2).
    max_pairs_per_record_per_rule: float = 1.0
    training_sample_size: int = 100_000
    u_max_pairs: float = 1e6
    prior_recall: float = 0.8
    max_cluster_size: int = 50
    # Splink's scratch DuckDB may use this much before spilling to disk. Uncapped, DuckDB sizes
    # its pool from the machine's RAM and 1M records peak past 2 GB; at 700MB scoring took
    # twice as long (spilling). Measured at 1M (full link + entities): 1.2GB 8.7 s / 1.97 GB
    # peak, 1GB 9.6 s / 1.91 GB, 900MB 10.8 s / 1.82 GB.
    splink_memory_limit: str = "1000MB"
    seed: int = 42
    blocking_rules: tuple[BlockingRule, ...] = field(default=DEFAULT_BLOCKING_RULES)


@lru_cache(maxsize=8)
def _blocking_rules_sql(rules: tuple[BlockingRule, ...], dialect: str) -> tuple[str, ...]:
    # Cached: Splink renders each rule through sqlglot, ~30 ms apiece.
    return tuple(
        creator if isinstance(creator, str) else creator.get_blocking_rule(
            dialect).blocking_rule_sql
        for creator in (rule.to_splink() for rule in rules)
    )


def with_blocking_rules(settings: dict, config: IdentityConfig, dialect: str = "duckdb") -> dict:
    """The trained model with the configured prediction blocking rules.

    The model supplies m and u; which pairs are compared is configuration, guarded by the
    comparison cap that counts exactly these rules.
    """
    rules = [{"blocking_rule": sql, "sql_dialect": dialect}
             for sql in _blocking_rules_sql(config.blocking_rules, dialect)]
    return {**settings, "blocking_rules_to_generate_predictions": rules}


def _name_comparison():
    return cl.CustomComparison(
        output_column_name="name",
        comparison_description="first and last name, tolerant of typos, nicknames and swaps",
        comparison_levels=[
            cll.And(cll.NullLevel("first_name"), cll.NullLevel("last_name")),
            cll.And(cll.ExactMatchLevel("first_name"), cll.ExactMatchLevel("last_name")),
            cll.And(
                cll.ExactMatchLevel("first_name_canonical"), cll.ExactMatchLevel("last_name")
            ).configure(label_for_charts="Nickname of the same first name, same last name"),
            cll.ColumnsReversedLevel("first_name", "last_name", symmetrical=True),
            cll.And(
                cll.JaroWinklerLevel("first_name", 0.9), cll.JaroWinklerLevel("last_name", 0.9)
            ),
            cll.And(
                cll.ExactMatchLevel("last_name"), cll.JaroWinklerLevel("first_name", 0.7)
            ).configure(label_for_charts="Same last name, similar first name"),
            # Household members land here: a different first name under one surname.
            cll.ExactMatchLevel("last_name").configure(
                label_for_charts="Same last name, different first name"
            ),
            cll.ExactMatchLevel("first_name_canonical").configure(
                label_for_charts="Same first name only"
            ),
            cll.ElseLevel(),
        ],
    )


def _email_comparison():
    return cl.CustomComparison(
        output_column_name="email",
        comparison_levels=[
            cll.NullLevel("email_key"),
            cll.ExactMatchLevel("email_key"),
            cll.ExactMatchLevel("email_user").configure(label_for_charts="Same user, other domain"),
            cll.JaroWinklerLevel("email_key", 0.9),
            cll.ElseLevel(),
        ],
    )


def _dob_comparison():
    return cl.CustomComparison(
        output_column_name="date_of_birth",
        comparison_levels=[
            cll.NullLevel("date_of_birth"),
            cll.ExactMatchLevel("date_of_birth"),
            cll.DamerauLevenshteinLevel("date_of_birth", 1).configure(
                label_for_charts="One digit typed wrong or swapped"
            ),
            cll.ElseLevel(),
        ],
    )


def _address_comparison():
    return cl.CustomComparison(
        output_column_name="address",
        comparison_levels=[
            cll.And(cll.NullLevel("postal_code"), cll.NullLevel("city")),
            cll.And(cll.ExactMatchLevel("postal_code"), cll.ExactMatchLevel("city")),
            cll.ExactMatchLevel("postal_code"),
            cll.ExactMatchLevel("city"),
            cll.ElseLevel(),
        ],
    )


COMPARISONS = {
    "name": _name_comparison,
    "email": _email_comparison,
    "phone": lambda: cl.ExactMatch("phone"),
    "date_of_birth": _dob_comparison,
    "address": _address_comparison,
}


def build_settings(config: IdentityConfig,
                   comparisons: tuple[str, ...] = tuple(COMPARISONS)) -> SettingsCreator:
    """The untrained Splink model: the named comparisons (all by default, else those the data
    can support, see adapt.py) plus the configured prediction blocking rules."""
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        comparisons=[COMPARISONS[name]() for name in comparisons],
        blocking_rules_to_generate_predictions=[r.to_splink() for r in config.blocking_rules],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        additional_columns_to_retain=[],
    )
