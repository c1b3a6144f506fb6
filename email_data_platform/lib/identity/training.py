"""Unsupervised training of the Splink model on a sample of clean profiles.

Recipe (measured on 1M synthetic contacts, see STACK.md): the prior comes from deterministic
rules with an assumed recall; u from random sampling with a bounded `max_pairs` (1e6 gives the
same quality as 1e7 at a quarter of the time); m by EM on blocks that do not collapse on
namesakes: email first, then phone. EM blocked on first + last name converges to "namesakes are
matches" at scale, so it is used only when the data holds neither email nor phone. Which
comparisons, rules and blocks apply is chosen from the columns the data fills (adapt.py).
"""

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
from splink import DuckDBAPI, Linker, block_on
from splink.internals.exceptions import EMTrainingException

from email_data_platform.lib.identity.adapt import TrainingPlan, plan_training
from email_data_platform.lib.identity.matching import prepare_matching_frame
from email_data_platform.lib.identity.settings import IdentityConfig, build_settings

logger = logging.getLogger(__name__)


@dataclass
class TrainedModel:
    """A trained Splink model and the facts an auditor needs about how it was trained."""

    model_version: str
    trained_at: datetime
    settings: dict
    metadata: dict = field(default_factory=dict)
    charts: dict[str, str] = field(default_factory=dict)  # chart name -> standalone HTML

    @property
    def settings_json(self) -> str:
        return json.dumps(self.settings, sort_keys=True)

    def save(self, model_dir: Path) -> Path:
        """Write the model JSON (and charts next to it); return the model file path."""
        model_dir.mkdir(parents=True, exist_ok=True)
        model_path = model_dir / f"splink_model_{self.model_version}.json"
        model_path.write_text(json.dumps(self.settings, indent=2, sort_keys=True))
        for name, html in self.charts.items():
            (model_dir / f"splink_model_{self.model_version}_{name}.html").write_text(html)
        return model_path


def sample_for_training(frame: pl.DataFrame, sample_size: int, seed: int) -> pl.DataFrame:
    """A uniform record sample. The prior survives uniform sampling unchanged: matches and
    pairs both shrink by the square of the sampling rate."""
    if frame.height <= sample_size:
        return frame
    return frame.sample(n=sample_size, seed=seed)


def train_model(profiles: pl.DataFrame, config: IdentityConfig | None = None) -> TrainedModel:
    """Train the identity model on clean profiles without labels.

    Args:
        profiles: rows shaped like `profiles.clean_profiles`.
        config: thresholds and sampling sizes; defaults to `IdentityConfig()`.

    Returns:
        The trained model with settings (Splink JSON as a dict), metadata and chart HTML.
    """
    config = config or IdentityConfig()
    started = time.perf_counter()
    frame, junk_counts = prepare_matching_frame(profiles)
    sample = sample_for_training(frame, config.training_sample_size, config.seed)
    if sample.height < 2:
        raise ValueError(f"training needs at least 2 clean profiles, got {sample.height}")
    plan = plan_training(frame, config)
    con = duckdb.connect()
    try:
        db_api = DuckDBAPI(connection=con)
        records = db_api.register(sample.to_arrow(), table_name="training_records")
        settings_creator = build_settings(
            replace(config, blocking_rules=plan.blocking_rules), plan.comparisons)
        linker = Linker(records, settings_creator, log_level=None)
        timings = _fit(linker, config, plan)
        settings = fill_unobserved_u(linker.misc.save_model_to_json(), config.u_max_pairs)
        charts = _render_charts(linker)
    finally:
        con.close()
    trained_at = datetime.now(UTC)
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
    metadata = {
        "training_rows": sample.height,
        "population_rows": frame.height,
        "training_seconds": round(time.perf_counter() - started, 2),
        "probability_two_random_records_match": settings["probability_two_random_records_match"],
        "u_max_pairs": config.u_max_pairs,
        **plan.metadata(),
        "junk_identifiers_nulled": json.dumps(junk_counts),
        **timings,
    }
    version = f"{trained_at:%Y%m%dT%H%M%S}_{digest}"
    logger.info("trained identity model %s in %.1fs", version, metadata["training_seconds"])
    return TrainedModel(version, trained_at, settings, metadata, charts)


def _fit(linker: Linker, config: IdentityConfig, plan: TrainingPlan) -> dict:
    """Prior, u, then m; returns seconds per step (and EM blocks that found no pairs in the
    sample, which are skipped rather than failing the run) for the training metadata."""
    timings: dict = {}
    step = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(
        list(plan.deterministic_rules), recall=config.prior_recall
    )
    timings["prior_seconds"] = round(time.perf_counter() - step, 2)
    step = time.perf_counter()
    linker.training.estimate_u_using_random_sampling(
        max_pairs=config.u_max_pairs, seed=config.seed
    )
    timings["u_seconds"] = round(time.perf_counter() - step, 2)
    step = time.perf_counter()
    skipped = []
    for columns in plan.em_blocks:
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*columns), estimate_without_term_frequencies=True
            )
        except EMTrainingException as error:
            logger.warning("EM block %s skipped: %s", "+".join(columns), error)
            skipped.append("+".join(columns))
    timings["em_seconds"] = round(time.perf_counter() - step, 2)
    timings["em_blocks_without_pairs"] = ", ".join(skipped) or "none"
    return timings


def fill_unobserved_u(settings: dict, sampled_pairs: float) -> dict:
    """Give levels that random sampling never saw a u of 1 / pairs sampled.

    Exact email or phone agreement between strangers is so rare that a million random pairs may
    contain none; Splink then falls back to a default u worth only +10 bits, which at 1M
    records left true duplicates sharing email and phone below the threshold (recall 0.92).
    Never seen in N pairs means a rate of about 1/N at most: a conservative, data-backed value.
    """
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            if not level.get("is_null_level") and "u_probability" not in level:
                level["u_probability"] = 1.0 / sampled_pairs
    return settings


def _render_charts(linker: Linker) -> dict[str, str]:
    """Match-weight and m/u charts as standalone HTML (no notebook, no altair needed)."""
    return {
        "match_weights": linker.visualisations.match_weights_chart().to_html(),
        "m_u_parameters": linker.visualisations.m_u_parameters_chart().to_html(),
    }


def load_model_settings(model_path: str | Path) -> dict:
    """Read a saved model JSON back into the settings dict Splink accepts."""
    return json.loads(Path(model_path).read_text())
