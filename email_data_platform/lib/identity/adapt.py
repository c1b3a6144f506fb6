"""What the data holds decides how the model is trained: a plan chosen from non-empty columns.

CRMs differ: one holds emails and phones for everyone, an older one only names, dates of birth
and addresses. Training on a column that is empty fails (EM blocked on an empty email finds no
pairs) or teaches nothing, so the comparisons, the deterministic rules for the prior, the EM
training blocks and the prediction blocking rules are all chosen from the columns that are
filled, and the model's metadata records the choice and the fill shares it came from. Rules
whose pairs would outgrow the data's size are tightened (blocking_budget.py).
"""

import json
from dataclasses import dataclass, replace

import polars as pl

from email_data_platform.lib.identity.blocking_budget import fit_rules_to_budget
from email_data_platform.lib.identity.settings import (
    WEAK_IDENTIFIER_BLOCKING_RULES,
    BlockingRule,
    IdentityConfig,
)

# A column filled on fewer records than this is treated as absent: a handful of values cannot
# train its m and u, and blocking on it finds next to nothing.
MIN_FILL_SHARE = 0.02

# Each comparison and the matching columns it reads (Splink estimates a comparison's m only in
# EM sessions whose blocking rule uses none of these columns).
COMPARISON_COLUMNS = {
    "name": ("first_name", "last_name", "first_name_canonical"),
    "email": ("email_key", "email_user"),
    "phone": ("phone",),
    "date_of_birth": ("date_of_birth",),
    "address": ("postal_code", "city"),
}
# Which columns must be filled for a comparison to be used at all.
_COMPARISON_NEEDS = {
    "name": ("first_name", "last_name"),
    "email": ("email_key",),
    "phone": ("phone",),
    "date_of_birth": ("date_of_birth",),
    "address": ("postal_code",),
}
# EM blocks in order of preference. Email first, then phone with first name (households share
# a phone); without either, date of birth (estimates names and address) and last of all full
# name (estimates date of birth and address; namesakes make it the weakest, so only as needed).
EM_BLOCK_CANDIDATES = (
    ("email_key",),
    ("phone", "first_name_canonical"),
    ("date_of_birth",),
    ("first_name_canonical", "last_name"),
)
# Deterministic rules for the prior: pairs that are almost only ever true duplicates.
DETERMINISTIC_CANDIDATES = (
    (("email_key",), "l.email_key = r.email_key"),
    (("phone", "first_name_canonical"),
     "l.phone = r.phone and l.first_name_canonical = r.first_name_canonical"),
    (("first_name", "last_name", "date_of_birth"),
     "l.last_name = r.last_name and l.first_name = r.first_name"
     " and l.date_of_birth = r.date_of_birth"),
    (("first_name", "last_name", "postal_code"),
     "l.last_name = r.last_name and l.first_name = r.first_name"
     " and l.postal_code = r.postal_code"),
)


@dataclass(frozen=True)
class TrainingPlan:
    """The comparisons, rules and blocks chosen for one training, and the evidence."""

    fill_shares: dict[str, float]
    comparisons: tuple[str, ...]
    deterministic_rules: tuple[str, ...]
    em_blocks: tuple[tuple[str, ...], ...]
    blocking_rules: tuple[BlockingRule, ...]
    not_estimated: tuple[str, ...]
    match_threshold: float
    tightened: dict[str, str]

    def metadata(self) -> dict:
        return {
            "columns_filled": json.dumps(self.fill_shares, sort_keys=True),
            "comparisons_used": ", ".join(self.comparisons),
            "em_blocks": ", ".join("+".join(block) for block in self.em_blocks),
            "deterministic_rules": " | ".join(self.deterministic_rules),
            "m_not_estimated": ", ".join(self.not_estimated) or "none",
            "blocking_rules_effective": rules_to_json(self.blocking_rules),
            "blocking_rules_tightened": json.dumps(self.tightened) if self.tightened else "none",
            "match_threshold": self.match_threshold,
        }


def fill_shares(frame: pl.DataFrame) -> dict[str, float]:
    """Share of records holding a value, per matching column (one pass of null counts)."""
    if frame.height == 0:
        return {c: 0.0 for c in frame.columns if c != "record_id"}
    nulls = frame.null_count().row(0, named=True)
    return {c: round(1 - n / frame.height, 4) for c, n in nulls.items() if c != "record_id"}


def _estimated_by(block: tuple[str, ...], comparisons: tuple[str, ...]) -> set[str]:
    return {c for c in comparisons if not set(COMPARISON_COLUMNS[c]) & set(block)}


def plan_training(frame: pl.DataFrame, config: IdentityConfig) -> TrainingPlan:
    """Choose comparisons, prior rules, EM blocks and prediction rules from filled columns.

    Raises ValueError naming the fill shares when nothing identifies anyone.
    """
    shares = fill_shares(frame)
    present = {c for c, share in shares.items() if share >= MIN_FILL_SHARE}
    comparisons = tuple(c for c, needs in _COMPARISON_NEEDS.items() if set(needs) <= present)
    deterministic = tuple(sql for cols, sql in DETERMINISTIC_CANDIDATES if set(cols) <= present)
    if not deterministic or len(comparisons) < 2:
        raise ValueError(
            "identity cannot train: the clean profiles hold too few identifiers (need an email, "
            "a phone, or first and last name with a date of birth or postcode); filled shares "
            f"{json.dumps(shares, sort_keys=True)}")
    blocks, estimated = [], set()
    for block in EM_BLOCK_CANDIDATES:
        gain = _estimated_by(block, comparisons) - estimated
        if set(block) <= present and gain:
            blocks.append(block)
            estimated |= gain
        if estimated == set(comparisons):
            break
    strong = {"email", "phone"} & set(comparisons)
    candidates = config.blocking_rules + (() if strong else WEAK_IDENTIFIER_BLOCKING_RULES)
    rules = tuple(r for r in candidates if _rule_columns(r) <= present)
    rules, tightened = fit_rules_to_budget(frame, rules, config.max_pairs_per_record_per_rule,
                                           present)
    threshold = config.match_threshold if strong else config.weak_identifier_match_threshold
    return TrainingPlan(shares, comparisons, deterministic, tuple(blocks), rules,
                        tuple(c for c in comparisons if c not in estimated), threshold,
                        tightened)


def _rule_columns(rule: BlockingRule) -> set[str]:
    return set(rule.columns) | ({"first_name", "last_name"} if rule.swapped else set())


def rules_to_json(rules: tuple[BlockingRule, ...]) -> str:
    return json.dumps([{"name": r.name, "columns": list(r.columns), "swapped": r.swapped}
                       for r in rules])


def rules_from_json(text: str) -> tuple[BlockingRule, ...]:
    return tuple(BlockingRule(r["name"], tuple(r["columns"]), r["swapped"])
                 for r in json.loads(text))


def config_for_model(config: IdentityConfig, model: dict | None) -> IdentityConfig:
    """The configuration with the blocking rules and match threshold the model was trained
    for (chosen from the configured ones by what its data holds).

    Models trained before these were chosen from the data carry none: the configuration stands.
    """
    if not model or not model.get("blocking_rules_effective"):
        return config
    return replace(config, blocking_rules=rules_from_json(model["blocking_rules_effective"]),
                   match_threshold=float(model.get("match_threshold", config.match_threshold)))
