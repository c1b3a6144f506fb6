"""Blocking that adapts to the data's size: comparisons grow with N, not with N squared.

A rule such as first name + date of birth pairs random namesakes born on the same day; their
number grows with the square of the population (55M pairs at 10M contacts against ~0.6M at 1M).
Each rule gets a budget of comparisons per record. A rule over its budget is tightened with
one more column, the first in `TIGHTEN_WITH` (present in the data, not already in the rule)
that brings it under budget, or else the one that cuts it most. True duplicates that the
tightened rule no longer pairs are still paired by the other rules (email, phone, address);
the effective rules, and what each one was tightened from, go to the model's metadata.
"""

import polars as pl

from email_data_platform.lib.identity.linking import count_comparisons
from email_data_platform.lib.identity.settings import BlockingRule

# Columns that split a namesake block with the least loss of true pairs: an address is shared
# by a person's records more often than anything else is besides the rule's own columns.
TIGHTEN_WITH = ("postal_code", "city", "last_name", "first_name_canonical", "date_of_birth")


def fit_rules_to_budget(frame: pl.DataFrame, rules: tuple[BlockingRule, ...],
                        per_record: float, present: set[str]
                        ) -> tuple[tuple[BlockingRule, ...], dict[str, str]]:
    """(effective rules, {tightened rule: why}) with each rule within `per_record * N` pairs."""
    budget = int(per_record * max(frame.height, 1))
    counts = dict(count_comparisons(frame, rules).select("rule", "comparisons").iter_rows())
    effective, changes = [], {}
    for rule in rules:
        if counts[rule.name] <= budget:
            effective.append(rule)
            continue
        tighter = _tighten(frame, rule, budget, present)
        if tighter is None:
            effective.append(rule)
            continue
        rule_after, after = tighter
        effective.append(rule_after)
        changes[rule_after.name] = (f"{rule.name}: {counts[rule.name]:,} pairs over the budget "
                                    f"of {budget:,}; with {rule_after.columns[-1]}: {after:,}")
    return tuple(effective), changes


def _tighten(frame: pl.DataFrame, rule: BlockingRule, budget: int,
             present: set[str]) -> tuple[BlockingRule, int] | None:
    candidates = [BlockingRule(f"{rule.name}+{column}", (*rule.columns, column), rule.swapped)
                  for column in TIGHTEN_WITH
                  if column in present and column not in rule.columns]
    if not candidates:
        return None
    counts = count_comparisons(frame, tuple(candidates))["comparisons"].to_list()
    for candidate, count in zip(candidates, counts, strict=True):
        if count <= budget:
            return candidate, count
    best = min(range(len(candidates)), key=counts.__getitem__)
    return candidates[best], counts[best]
