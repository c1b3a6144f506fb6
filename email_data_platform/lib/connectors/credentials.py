"""Credentials and request budgets for vendor connections.

A token provider hands out the current secret and, asked to `refresh` after a 401, fetches it
again (from the environment, a secrets manager, an OAuth flow) so keys rotate without restart.
"""

import os
import re
import threading
import time
from collections.abc import Callable
from typing import Protocol


class BudgetExceededError(RuntimeError):
    """The per-account request budget ran out: stop rather than burn the vendor's quota."""


class TokenProvider(Protocol):
    def token(self) -> str: ...

    def refresh(self) -> str: ...


class StaticToken:
    """A fixed credential; `refresh` cannot find a new one."""

    def __init__(self, value: str):
        self._value = value

    def token(self) -> str:
        return self._value

    def refresh(self) -> str:
        return self._value


class EnvToken:
    """Reads the credential from an environment variable, again on every refresh (rotation)."""

    def __init__(self, variable: str):
        self.variable = variable
        self._value = self._read()

    def _read(self) -> str:
        value = os.environ.get(self.variable)
        if not value:
            raise RuntimeError(f"environment variable {self.variable} is not set")
        return value

    def token(self) -> str:
        return self._value

    def refresh(self) -> str:
        self._value = self._read()
        return self._value


class RotatingToken:
    """The configured secret first; after a 401, the environment variable's current value.

    Starting from the configured value (not the environment) means a stale variable left in
    the process can never override what the run was launched with; on refresh, a rotated value
    in the environment wins, and without one the configured secret is tried again.
    """

    def __init__(self, configured: str, variable: str):
        self.configured, self.variable = configured, variable
        self._value = configured

    def token(self) -> str:
        return self._value

    def refresh(self) -> str:
        rotated = os.environ.get(self.variable)
        self._value = rotated if rotated and rotated != self._value else self.configured
        return self._value


class CallableToken:
    """Any function returning the current credential (a secrets manager, an OAuth flow)."""

    def __init__(self, fetch: Callable[[], str]):
        self._fetch = fetch
        self._value = fetch()

    def token(self) -> str:
        return self._value

    def refresh(self) -> str:
        self._value = self._fetch()
        return self._value


class RequestBudget:
    """A cap on requests per account and period, shared by every client of the account.

    With `period_s` the count starts again each period (a daily quota); without, it never
    resets (a budget for one run). Thread-safe.
    """

    def __init__(self, limit: int, period_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.limit, self.period_s, self.used = limit, period_s, 0
        self._clock = clock
        self._period_start = clock()
        self._lock = threading.Lock()

    def spend(self, vendor: str) -> None:
        with self._lock:
            if self.period_s and self._clock() - self._period_start >= self.period_s:
                self._period_start, self.used = self._clock(), 0
            if self.used >= self.limit:
                raise BudgetExceededError(f"{vendor}: request budget of {self.limit} spent")
            self.used += 1


_SHARED_BUDGETS: dict[tuple[str, int, float | None], RequestBudget] = {}
_SHARED_LOCK = threading.Lock()


def shared_budget(account: str, limit: int, period_s: float | None = None) -> RequestBudget:
    """The one budget of `account` in this process (every asset and run of it draws on it)."""
    with _SHARED_LOCK:
        key = (account, limit, period_s)
        if key not in _SHARED_BUDGETS:
            _SHARED_BUDGETS[key] = RequestBudget(limit, period_s)
        return _SHARED_BUDGETS[key]


def mailchimp_base_url(api_key: str) -> str:
    """Mailchimp's API lives in the account's datacenter, the key's suffix (`...-us21`)."""
    _, _, datacenter = api_key.rpartition("-")
    if not re.fullmatch(r"[a-z]{2}\d{1,3}", datacenter):
        raise ValueError("the Mailchimp API key has no datacenter suffix (like -us21): check the "
                         "key, or set MAILCHIMP_BASE_URL")
    return f"https://{datacenter}.api.mailchimp.com/3.0"
