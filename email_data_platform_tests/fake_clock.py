"""A clock that moves only when told: tests drive time instead of waiting for it."""


class FakeClock:
    """Seconds since an arbitrary start; `sleep` advances it at once instead of blocking."""

    def __init__(self, start: float = 0.0):
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
