"""Anomaly rules: which figures of which asset are watched, and when a figure is anomalous.

The rules are data (observability_rules.yaml); these functions read them and judge one
materialisation's metadata against its predecessors. No Dagster, no I/O beyond the file.
"""

from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEFAULT_RULES_PATH = Path(__file__).resolve().parents[2] / "observability_rules.yaml"
KNOWN_RULES = {"row_count", "quarantine_share", "error_rate", "mismatch", "freshness"}


class RulesError(ValueError):
    """The rules file is malformed: the message names the asset and the rule."""


@dataclass(frozen=True)
class Anomaly:
    rule: str
    message: str
    figures: dict = field(default_factory=dict)


def load_rules(path: Path = DEFAULT_RULES_PATH) -> dict[str, dict[str, dict]]:
    """{asset path ('sources/crm_contacts'): {rule: settings}}, defaults merged in."""
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    defaults = document.get("defaults", {})
    rules: dict[str, dict[str, dict]] = {}
    for asset, asset_rules in (document.get("assets") or {}).items():
        rules[asset] = {}
        for rule, settings in (asset_rules or {}).items():
            if rule not in KNOWN_RULES:
                raise RulesError(f"{path}: asset {asset}: unknown rule {rule!r} "
                                 f"(known: {', '.join(sorted(KNOWN_RULES))})")
            rules[asset][rule] = {**defaults.get(rule, {}), **(settings or {})}
    return rules


def row_count_anomaly(
    history: list[float], current: float, max_drop: float = 0.3, max_spike: float = 3.0
) -> str | None:
    """Say why `current` is anomalous against earlier values, or None if it looks normal.

    Compares with the median of the history so one odd run does not move the baseline.
    """
    if not history:
        return None
    ordered = sorted(history)
    middle = len(ordered) // 2
    baseline = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    if baseline <= 0:  # a first load after empty runs is growth, not an anomaly
        return None
    ratio = current / baseline
    if ratio < 1 - max_drop:
        return (f"fell {1 - ratio:.0%} below the trailing median {baseline:g} "
                f"(now {current:g}; rule: at most {max_drop:.0%})")
    if ratio > max_spike:
        return (f"is {ratio:.1f}x the trailing median {baseline:g} "
                f"(now {current:g}; rule: at most {max_spike:g}x)")
    return None


def _figure(metadata: dict, key: str) -> float | None:
    value = metadata.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None  # absent, not numeric, or -1 (the source did not report it)
    return float(value)


def evaluate(rules: dict[str, dict], current: dict, history: list[dict]) -> list[Anomaly]:
    """Anomalies of one materialisation's metadata (`current`) against earlier ones, newest
    first (`history`). Freshness is judged elsewhere (it needs the clock, not metadata)."""
    found = []
    if "row_count" in rules:
        settings = rules["row_count"]
        for key in settings["metrics"]:
            now = _figure(current, key)
            past = [v for v in (_figure(m, key) for m in history[: settings["history"]])
                    if v is not None]
            reason = None if now is None else row_count_anomaly(
                past, now, settings["max_drop"], settings["max_spike"])
            if reason:
                found.append(Anomaly("row_count", f"{key} {reason}", {key: now}))
    found += _ratio_anomalies(rules, current)
    if "mismatch" in rules:
        mismatches = _figure(current, rules["mismatch"]["metric"]) or 0
        if mismatches > 0:
            found.append(Anomaly("mismatch", f"{mismatches:g} reconciliation checks disagree",
                                 {"mismatches": mismatches}))
    return found


def _ratio_anomalies(rules: dict[str, dict], current: dict) -> list[Anomaly]:
    found = []
    if "quarantine_share" in rules:
        settings = rules["quarantine_share"]
        part, whole = _figure(current, settings["quarantined"]), _figure(current, settings["total"])
        if part is not None and whole:
            share = part / whole
            if share > settings["max_share"]:
                found.append(Anomaly("quarantine_share", f"{share:.1%} of rows quarantined "
                                     f"(rule: at most {settings['max_share']:.0%})",
                                     {"share": round(share, 4)}))
    if "error_rate" in rules:
        settings = rules["error_rate"]
        failed = _figure(current, settings["failed"]) or 0
        attempted = sum(_figure(current, key) or 0 for key in settings["attempted"])
        if attempted and failed / attempted > settings["max_rate"]:
            found.append(Anomaly("error_rate", f"{failed / attempted:.1%} of ESP writes failed "
                                 f"(rule: at most {settings['max_rate']:.0%})",
                                 {"failed": failed, "attempted": attempted}))
    return found


def freshness_overdue(rules: dict[str, dict], age_hours: float | None) -> Anomaly | None:
    """An anomaly when the asset has not been materialised for longer than its rule allows."""
    if "freshness" not in rules:
        return None
    limit = rules["freshness"]["max_age_hours"]
    if age_hours is None:
        return None  # never materialised: nothing is stale yet
    if age_hours > limit:
        return Anomaly("freshness", f"last materialised {age_hours:.1f} h ago "
                       f"(rule: at most {limit:g} h)", {"age_hours": round(age_hours, 1)})
    return None
