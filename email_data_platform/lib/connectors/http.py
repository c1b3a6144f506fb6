"""The HTTP layer every connector shares: retries, throttles, credentials, budgets, paging.

One `HttpClient` per vendor account. What it does for every request:

- timeouts on connect and read; exponential backoff with full jitter on 5xx, dropped
  connections and bodies that are not JSON;
- throttles (429, Salesforce's 403 `REQUEST_LIMIT_EXCEEDED`, Mailchimp's concurrency 429) wait
  for `Retry-After` or the rate-limit reset header when the vendor sends one;
- a 401 asks the token provider to re-read the credential once, so keys rotate without restart;
- a per-account request budget stops a runaway extraction before the vendor's daily cap does.

Secrets live only in request headers: errors and logs carry vendor, method, path and status.
"""

import email.utils
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

logger = logging.getLogger(__name__)


class VendorAPIError(Exception):
    """A vendor answered with an error we do not retry (or retries ran out)."""

    def __init__(self, vendor: str, method: str, path: str, status: int | None, detail: str):
        self.vendor, self.method, self.path, self.status = vendor, method, path, status
        super().__init__(f"{vendor} {method} {path} failed ({status}): {detail}")


class MalformedResponseError(VendorAPIError):
    """The body was not the JSON the vendor promises, even after retries."""


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
    """A cap on requests per account, shared by every client of that account (thread-safe)."""

    def __init__(self, limit: int):
        self.limit, self.used = limit, 0
        self._lock = threading.Lock()

    def spend(self, vendor: str) -> None:
        with self._lock:
            if self.used >= self.limit:
                raise BudgetExceededError(f"{vendor}: request budget of {self.limit} spent")
            self.used += 1


@dataclass
class RetryPolicy:
    max_attempts: int = 8
    base_delay_s: float = 0.2
    max_delay_s: float = 20.0
    max_wait_s: float = 120.0  # longest Retry-After we accept before giving up
    timeout_s: float = 30.0


@dataclass
class RequestStats:
    requests: int = 0
    retries: int = 0
    throttles: int = 0
    server_errors: int = 0
    dropped: int = 0
    malformed: int = 0
    token_refreshes: int = 0
    waited_s: float = 0.0
    malformed_bodies: list[dict] = field(default_factory=list)

    def as_metadata(self) -> dict:
        return {"requests": self.requests, "retries": self.retries, "throttles": self.throttles,
                "server_errors": self.server_errors, "dropped_connections": self.dropped,
                "malformed_pages": self.malformed, "token_refreshes": self.token_refreshes,
                "waited_s": round(self.waited_s, 2)}


AuthHeaders = Callable[[str], dict[str, str]]
ThrottleTest = Callable[[httpx.Response], bool]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def is_standard_throttle(response: httpx.Response) -> bool:
    return response.status_code == 429


def retry_after_seconds(response: httpx.Response, now: float | None = None) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or HTTP date) or a rate-limit reset header."""
    now = time.time() if now is None else now
    value = response.headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value)
            return max(0.0, parsed.timestamp() - now) if parsed else None
    reset = response.headers.get("x-ratelimit-reset")
    if reset:
        try:
            seconds = float(reset)
        except ValueError:
            return None
        # SendGrid sends an epoch time; others send seconds to wait.
        return max(0.0, seconds - now) if seconds > 1e9 else seconds
    return None


class HttpClient:
    """Sends one vendor's requests with the retry, throttle and credential rules above."""

    def __init__(self, vendor: str, base_url: str, tokens: TokenProvider,
                 auth_headers: AuthHeaders = bearer, *, policy: RetryPolicy | None = None,
                 budget: RequestBudget | None = None, is_throttle: ThrottleTest =
                 is_standard_throttle, sleep: Callable[[float], None] = time.sleep,
                 seed: int | None = None):
        self.vendor, self.tokens, self.auth_headers = vendor, tokens, auth_headers
        self.policy = policy or RetryPolicy()
        self.budget, self.is_throttle, self.sleep = budget, is_throttle, sleep
        self.stats = RequestStats()
        self._rng = random.Random(seed)
        timeout = httpx.Timeout(self.policy.timeout_s, connect=5.0)
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout,
                                  limits=httpx.Limits(max_connections=10))

    def close(self) -> None:
        self._http.close()

    def backoff(self, attempt: int) -> float:
        ceiling = min(self.policy.max_delay_s, self.policy.base_delay_s * 2**attempt)
        return self._rng.uniform(ceiling / 2, ceiling)

    def _wait(self, seconds: float) -> None:
        self.stats.waited_s += seconds
        self.sleep(seconds)

    def request(self, method: str, path: str, *, params: dict | list | None = None,
                json_body: Any = None, idempotent: bool = True,
                allow_status: tuple[int, ...] = ()) -> Any:
        """Send a request and return its parsed JSON (None for an empty body).

        Statuses in `allow_status` are returned as `{"_status": code}` instead of raised.
        """
        refreshed = False
        last_problem = "no attempt made"
        for attempt in range(self.policy.max_attempts):
            if attempt:
                self.stats.retries += 1
            if self.budget is not None:
                self.budget.spend(self.vendor)
            self.stats.requests += 1
            try:
                response = self._http.request(method, path, params=params, json=json_body,
                                              headers=self.auth_headers(self.tokens.token()))
            except httpx.TransportError as err:
                # A dropped connection: the request may have landed; only retry if safe to.
                self.stats.dropped += 1
                last_problem = f"connection failed ({type(err).__name__})"
                if not idempotent:
                    raise VendorAPIError(self.vendor, method, path, None, last_problem) from None
                self._wait(self.backoff(attempt))
                continue
            status = response.status_code
            if status in allow_status:
                return {"_status": status}
            if status == 401 and not refreshed:
                refreshed = True
                self.stats.token_refreshes += 1
                self.tokens.refresh()
                continue
            if self.is_throttle(response):
                self.stats.throttles += 1
                wait = retry_after_seconds(response)
                if wait is not None and wait > self.policy.max_wait_s:
                    raise VendorAPIError(self.vendor, method, path, status,
                                         f"throttled for {wait:.0f}s, above the accepted maximum")
                last_problem = "throttled"
                self._wait(wait if wait is not None else self.backoff(attempt))
                continue
            if status >= 500:
                self.stats.server_errors += 1
                last_problem = f"server error {status}"
                self._wait(self.backoff(attempt))
                continue
            if status >= 400:
                raise VendorAPIError(self.vendor, method, path, status, _error_detail(response))
            if not response.content:
                return None
            try:
                return response.json()
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                self.stats.malformed += 1
                self.stats.malformed_bodies.append({
                    "path": path, "params": _describe(params), "reason": f"invalid JSON: {err}",
                    "body": response.text[:2000]})
                last_problem = "invalid JSON body"
                self._wait(self.backoff(attempt))
        raise VendorAPIError(self.vendor, method, path, None,
                             f"gave up after {self.policy.max_attempts} attempts: {last_problem}")


def _describe(params: dict | list | None) -> str:
    return json.dumps(params, default=str)[:500] if params else ""


def _error_detail(response: httpx.Response) -> str:
    """The vendor's own error message, never our request headers."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]
    if isinstance(body, dict):
        for key in ("message", "detail", "title", "error"):
            if body.get(key):
                return str(body[key])[:300]
        if body.get("errors"):
            return str(body["errors"])[:300]
    return str(body)[:200]


def cursor_pages(fetch: Callable[[Any], tuple[list, Any]], start: Any = None) -> Iterator[list]:
    """Yield pages from `fetch(cursor) -> (items, next_cursor)` until next_cursor is None."""
    cursor, seen = start, set()
    while True:
        items, next_cursor = fetch(cursor)
        yield items
        if next_cursor is None:
            return
        if next_cursor in seen:
            raise RuntimeError(f"paging loop: cursor {next_cursor!r} came back twice")
        seen.add(next_cursor)
        cursor = next_cursor


def offset_pages(fetch: Callable[[int, int], tuple[list, int]], count: int) -> Iterator[list]:
    """Yield pages from `fetch(offset, count) -> (items, total_items)`."""
    offset = 0
    while True:
        items, total = fetch(offset, count)
        if items:
            yield items
        offset += count
        if not items or offset >= total:
            return
