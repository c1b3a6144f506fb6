"""The identity stage's settings as a resource, bound once with its defaults."""

import os
from dataclasses import replace

import dagster as dg

from email_data_platform.lib.identity.settings import IdentityConfig

_DEFAULTS = IdentityConfig()


class IdentityResource(dg.ConfigurableResource):
    """Thresholds and caps of entity resolution; see `lib.identity.settings.IdentityConfig`.

    `mode`: `auto` links new and changed records incrementally when the delta is small and
    re-links everything otherwise; `full` always re-links (the weekly reconciliation job).
    `truth_path`: ground truth for quality checks (generated data only); empty means the
    `EDP_TRUTH_PATH` environment variable, read at run time, and no evaluation when unset.
    """

    match_threshold: float = _DEFAULTS.match_threshold
    pair_floor_probability: float = _DEFAULTS.pair_floor_probability
    max_comparisons: int = _DEFAULTS.max_comparisons
    max_cluster_size: int = _DEFAULTS.max_cluster_size
    training_sample_size: int = _DEFAULTS.training_sample_size
    model_max_age_days: int = 30
    mode: str = "auto"
    truth_path: str = ""

    def config(self) -> IdentityConfig:
        return replace(
            _DEFAULTS,
            match_threshold=self.match_threshold,
            pair_floor_probability=self.pair_floor_probability,
            max_comparisons=self.max_comparisons,
            max_cluster_size=self.max_cluster_size,
            training_sample_size=self.training_sample_size,
        )

    def resolved_truth_path(self) -> str | None:
        path = self.truth_path or os.environ.get("EDP_TRUTH_PATH", "")
        return path if path and os.path.exists(path) else None
