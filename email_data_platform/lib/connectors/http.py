"""The HTTP layer every connector shares: retries, throttles, credentials, budgets, paging.

One `HttpClient` per vendor account. What it does for every request:

- timeouts on connect and read; exponential backoff with jitter on 5xx, dropped
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
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from email_data_platform.lib.connectors.credentials import (  # noqa: F401 (re-exported)
    BudgetExceededError,
    CallableToken,
    EnvToken,
    RequestBudget,
    StaticToken,
    TokenProvider,
)
from email_data_platform.lib.connectors.paging import cursor_pages, offset_pages  # noqa: F401

logger = logging.getLogger(__name__)


class VendorAPIError(Exception):
    """A vendor answered with an error we do not retry (or retries ran out)."""

    def __init__(self, vendor: str, method: str, path: str, status: int | None, detail: str):
        self.vendor, self.method, self.path, self.status = vendor, method, path, status
        super().__init__(f"{vendor} {method} {path} failed ({status}): {detail}")


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
    paced: int = 0  # requests held back because the vendor said the quota was spent
    waited_s: float = 0.0
    malformed_bodies: list[dict] = field(default_factory=list)

    def as_metadata(self) -> dict:
        return {"requests": self.requests, "retries": self.retries, "throttles": self.throttles,
                "server_errors": self.server_errors, "dropped_connections": self.dropped,
                "malformed_pages": self.malformed, "token_refreshes": self.token_refreshes,
                "paced": self.paced,
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


def pause_after(response: httpx.Response) -> float:
    """Seconds to hold the next request when the answer says the quota is spent.

    Honouring these headers keeps a connector under the limit instead of bouncing off 429s.
    """
    headers = response.headers
    if headers.get("x-hubspot-ratelimit-secondly-remaining") == "0":
        return 1.0
    if headers.get("x-hubspot-ratelimit-remaining") == "0":
        return float(headers.get("x-hubspot-ratelimit-interval-milliseconds", "10000")) / 1000
    if headers.get("x-ratelimit-remaining") == "0":
        return retry_after_seconds(response) or 1.0
    return 0.0


class HttpClient:
    """Sends one vendor's requests with the retry, throttle and credential rules above."""

    def __init__(self, vendor: str, base_url: str, tokens: TokenProvider,
                 auth_headers: AuthHeaders = bearer, *, policy: RetryPolicy | None = None,
                 budget: RequestBudget | None = None, is_throttle: ThrottleTest =
                 is_standard_throttle, sleep: Callable[[float], None] = time.sleep,
                 seed: int | None = None, clock: Callable[[], float] = time.monotonic):
        self.vendor, self.tokens, self.auth_headers = vendor, tokens, auth_headers
        self.policy = policy or RetryPolicy()
        self.budget, self.is_throttle, self.sleep = budget, is_throttle, sleep
        self.clock = clock  # with `sleep`, lets a test drive time instead of waiting for it
        self.stats = RequestStats()
        self._rng = random.Random(seed)
        self._not_before = 0.0  # monotonic time before which the quota says: wait
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
        `idempotent=False` stops a retry after a dropped connection (the call may have landed).
        """
        refreshed, problem = False, "no attempt made"
        for attempt in range(self.policy.max_attempts):
            if attempt:
                self.stats.retries += 1
            response = self._send(method, path, params, json_body, idempotent, attempt)
            if response is None:
                problem = "connection dropped"
                continue
            if response.status_code in allow_status:
                return {"_status": response.status_code}
            if response.status_code == 401 and not refreshed:
                refreshed = True
                self.stats.token_refreshes += 1
                self.tokens.refresh()
                continue
            wait, problem = self._retry_delay(response, attempt, method, path)
            if wait is not None:
                self._wait(wait)
                continue
            if response.status_code >= 400:
                raise VendorAPIError(self.vendor, method, path, response.status_code,
                                     _error_detail(response))
            parsed = self._parse(response, path, params)
            if parsed is not _MALFORMED:
                return parsed
            problem = "invalid JSON body"
            self._wait(self.backoff(attempt))
        raise VendorAPIError(self.vendor, method, path, None,
                             f"gave up after {self.policy.max_attempts} attempts: {problem}")

    def _send(self, method: str, path: str, params: Any, json_body: Any, idempotent: bool,
              attempt: int) -> httpx.Response | None:
        """One attempt; None when the connection dropped (after waiting the backoff)."""
        if self.budget is not None:
            self.budget.spend(self.vendor)
        hold = self._not_before - self.clock()
        if hold > 0:
            self.stats.paced += 1
            self._wait(hold)
        self.stats.requests += 1
        try:
            response = self._http.request(method, path, params=params, json=json_body,
                                          headers=self.auth_headers(self.tokens.token()))
            if response.status_code < 400:
                self._not_before = self.clock() + pause_after(response)
            return response
        except httpx.TransportError as err:
            self.stats.dropped += 1
            if not idempotent:
                raise VendorAPIError(self.vendor, method, path, None,
                                     f"connection failed ({type(err).__name__})") from None
            self._wait(self.backoff(attempt))
            return None

    def _retry_delay(self, response: httpx.Response, attempt: int, method: str,
                     path: str) -> tuple[float | None, str]:
        """How long to wait before retrying this answer, or None if it is not retryable."""
        if self.is_throttle(response):
            self.stats.throttles += 1
            wait = retry_after_seconds(response)
            if wait is not None and wait > self.policy.max_wait_s:
                raise VendorAPIError(self.vendor, method, path, response.status_code,
                                     f"throttled for {wait:.0f}s, above the accepted maximum")
            return (wait if wait is not None else self.backoff(attempt)), "throttled"
        if response.status_code >= 500:
            self.stats.server_errors += 1
            return self.backoff(attempt), f"server error {response.status_code}"
        return None, ""

    def _parse(self, response: httpx.Response, path: str, params: Any) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            self.stats.malformed += 1
            self.stats.malformed_bodies.append({
                "path": path, "params": _describe(params), "reason": f"invalid JSON: {err}",
                "body": response.text[:2000]})
            return _MALFORMED


_MALFORMED = object()


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
