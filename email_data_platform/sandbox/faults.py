"""Fault injection for the vendor simulators: the failures real APIs throw at a connector.

Everything is off by default. A `FaultConfig` is plain data (JSON-friendly) so the CLI, tests and
the `/_sandbox/faults` admin endpoint can all set it. Random decisions come from one seeded
generator per simulator, so a failing test can be replayed.
"""

import random
import threading
from dataclasses import asdict, dataclass, fields


@dataclass
class FaultConfig:
    """Which faults to inject and how often.

    Attributes:
        seed: seed of the random generator deciding when a fault fires.
        error_rate: share of requests answered with a 5xx (500, 502, 503 or 504).
        latency_ms: added latency on every request, in milliseconds.
        burst_every: every N-th request starts a burst of 429s (0 = never).
        burst_length: how many consecutive requests a 429 burst rejects.
        retry_after_s: the `Retry-After` value sent with a 429 burst (seconds, may be fractional).
        drop_rate: share of successful responses cut off mid-body (the connection drops).
        modify_while_paging: records touched (lastmodifieddate moved to now) after each list page.
        shared_modified_count: at load, this many records get one identical lastmodifieddate.
        malformed_rate: share of list pages whose body is not valid JSON.
        corrupt_record_rate: share of list pages where one record loses its id or gets wrong types.
        rate_limit_per_s: steady request limit per credential (0 = unlimited); 429 beyond.
        member_error_rate: share of members in a batch write the ESP rejects with a temporary
            per-member error (the request itself succeeds), as ESPs do under load.
    """

    seed: int = 0
    error_rate: float = 0.0
    latency_ms: float = 0.0
    burst_every: int = 0
    burst_length: int = 3
    retry_after_s: float = 1.0
    drop_rate: float = 0.0
    modify_while_paging: int = 0
    shared_modified_count: int = 0
    malformed_rate: float = 0.0
    corrupt_record_rate: float = 0.0
    rate_limit_per_s: float = 0.0
    member_error_rate: float = 0.0

    @classmethod
    def from_dict(cls, values: dict) -> "FaultConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown fault settings {sorted(unknown)}; known: {sorted(known)}")
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


class FaultInjector:
    """Decides, request by request, which fault (if any) fires. Thread-safe."""

    def __init__(self, config: FaultConfig | None = None):
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._requests = 0
            self._burst_left = 0

    def _chance(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate

    def before_request(self) -> str | None:
        """Return `"429"`, `"5xx"` or None for the request about to be served."""
        with self._lock:
            cfg = self.config
            self._requests += 1
            if cfg.burst_every and self._requests % cfg.burst_every == 0:
                self._burst_left = cfg.burst_length
            if self._burst_left > 0:
                self._burst_left -= 1
                return "429"
            if self._chance(cfg.error_rate):
                return "5xx"
            return None

    def pick_5xx(self) -> int:
        with self._lock:
            return self._rng.choice((500, 502, 503, 504))

    def drop_connection(self) -> bool:
        with self._lock:
            return self._chance(self.config.drop_rate)

    def page_corruption(self) -> str | None:
        """For a list page: `"malformed"`, `"corrupt"` or None."""
        with self._lock:
            if self._chance(self.config.malformed_rate):
                return "malformed"
            if self._chance(self.config.corrupt_record_rate):
                return "corrupt"
            return None

    def member_failures(self, members: int) -> list[bool]:
        """For each member of a batch write: does it fail with a temporary error?"""
        with self._lock:
            return [self._chance(self.config.member_error_rate) for _ in range(members)]

    def choice(self, population: list, k: int) -> list:
        with self._lock:
            return self._rng.sample(population, min(k, len(population)))
