"""What every vendor simulator shares: auth, journal, faults, throttles, admin endpoints.

A simulator is a Starlette app whose handlers return a `Reply`; `VendorApp.route` wraps each
handler in one guard that (in order) journals the request, injects latency, 429 bursts and 5xx,
checks credentials, enforces concurrency and rate limits, then serialises the reply, possibly
corrupting or cutting it short when a fault says so.
"""

import asyncio
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from email_data_platform.sandbox.faults import FaultConfig, FaultInjector

logger = logging.getLogger(__name__)


class VendorError(Exception):
    """Raised by a handler to answer with the vendor's error shape."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Reply:
    """A handler's answer. `corrupt` mutates the body to simulate a bad record on a list page."""

    body: Any
    status: int = 200
    returned: int = 0
    written: int = 0
    headers: dict = field(default_factory=dict)
    corrupt: Callable[[Any], None] | None = None


class Journal:
    """One JSON line per request, appended and flushed at once (thread-safe)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file = self.path.open("a", encoding="utf-8")

    def record(self, **entry: Any) -> None:
        line = json.dumps({"ts": round(time.time(), 3), **entry}, default=str)
        with self._lock:
            if not self._file.closed:
                self._file.write(line + "\n")
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


class Credential:
    """A rotatable secret: rotation invalidates the old value at once, like revoking a key."""

    def __init__(self, prefix: str):
        self._prefix = prefix
        self.value = f"{prefix}{secrets.token_hex(16)}"

    def rotate(self) -> str:
        self.value = f"{self._prefix}{secrets.token_hex(16)}"
        return self.value

    def matches(self, candidate: str | None) -> bool:
        return candidate is not None and secrets.compare_digest(candidate, self.value)


@dataclass
class VendorSpec:
    """How one vendor authenticates, shapes its errors and throttles."""

    name: str
    authenticate: Callable[[Request], bool]
    error_body: Callable[[int, str, str], Any]
    throttle_status: int = 429
    throttle_code: str = "RATE_LIMIT"
    max_concurrency: int = 0
    rate_limit_headers: Callable[[int, int], dict] = lambda limit, remaining: {}
    retry_after_header: bool = True  # False: the throttle says when via X-RateLimit-Reset


Handler = Callable[[Request], Awaitable[Reply]]


class VendorApp:
    """Builds a vendor's Starlette app around its handlers."""

    def __init__(self, spec: VendorSpec, journal: Journal, faults: FaultInjector):
        self.spec, self.journal, self.faults = spec, journal, faults
        self.routes: list[Route] = []
        self._in_flight = 0
        self._lock = threading.Lock()
        # The rate-limit window opens with the first request after the last one closed;
        # a test may swap the clock to drive windows without waiting for them.
        self.clock: Callable[[], float] = time.monotonic
        self._window_start, self._window_count = float("-inf"), 0
        # Admitted requests wait here while a test holds the gate closed, so it can put many
        # in flight at once without racing a timer. Open unless a test clears it.
        self.gate = threading.Event()
        self.gate.set()

    def route(self, path: str, handler: Handler, methods: list[str],
              faults: bool = True) -> None:
        async def endpoint(request: Request) -> Response:
            return await self._guard(request, handler, faults)

        self.routes.append(Route(path, endpoint, methods=methods))

    def add_admin(self, stats: Callable[[], dict], rotate: Callable[[], dict]) -> None:
        """`/_sandbox/*`: state for tests and reconciliation, runtime faults, key rotation."""

        async def get_stats(request: Request) -> Reply:
            return Reply(stats())

        async def set_faults(request: Request) -> Reply:
            if request.method == "POST":
                self.faults.configure(FaultConfig.from_dict(await request.json()))
            return Reply(self.faults.config.to_dict())

        async def do_rotate(request: Request) -> Reply:
            return Reply(rotate())

        # Admin calls bypass fault injection: a test must always be able to switch faults off.
        self.route("/_sandbox/stats", get_stats, ["GET"], faults=False)
        self.route("/_sandbox/faults", set_faults, ["GET", "POST"], faults=False)
        self.route("/_sandbox/rotate", do_rotate, ["POST"], faults=False)

    def build(self) -> Starlette:
        return Starlette(routes=self.routes)

    def _error(self, status: int, code: str, message: str, headers: dict | None = None) -> Response:
        body = json.dumps(self.spec.error_body(status, code, message))
        return Response(body, status, headers=headers, media_type="application/json")

    def _over_rate_limit(self) -> tuple[bool, int, int]:
        limit = self.faults.config.rate_limit_per_s
        with self._lock:
            now = self.clock()
            if now - self._window_start >= 1.0:
                self._window_start, self._window_count = now, 0
            self._window_count += 1
            if not limit:
                return False, 0, 0
            return self._window_count > limit, int(limit), max(0, int(limit) - self._window_count)

    def _throttle(self, message: str) -> Response:
        retry = self.faults.config.retry_after_s
        retry_text = str(int(retry)) if float(retry).is_integer() else str(retry)
        headers = self.spec.rate_limit_headers(0, 0)
        if self.spec.retry_after_header:
            headers["Retry-After"] = retry_text
        else:
            headers.update({"X-RateLimit-Remaining": "0",
                            "X-RateLimit-Reset": str(math.ceil(time.time() + retry))})
        return self._error(self.spec.throttle_status, self.spec.throttle_code, message, headers)

    async def _guard(self, request: Request, handler: Handler, faults: bool) -> Response:
        started = time.perf_counter()
        outcome: dict[str, Any] = {"fault": None, "returned": 0, "written": 0}
        if faults:
            response = await self._serve(request, handler, outcome)
        else:
            response = await self._serve_admin(request, handler)
        self.journal.record(
            vendor=self.spec.name,
            method=request.method,
            path=request.url.path,
            query=request.url.query,
            status=response.status_code,
            records_returned=outcome["returned"],
            records_written=outcome["written"],
            fault=outcome["fault"],
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return response

    async def _serve_admin(self, request: Request, handler: Handler) -> Response:
        if not self.spec.authenticate(request):
            return self._error(401, "INVALID_AUTHENTICATION", "Authentication credentials invalid.")
        reply = await self._run_handler(request, handler)
        return Response(json.dumps(reply.body), reply.status, media_type="application/json")

    async def _serve(self, request: Request, handler: Handler, outcome: dict) -> Response:
        """Count the request as in flight for its whole life, latency included."""
        with self._lock:
            self._in_flight += 1
            in_flight = self._in_flight
        try:
            return await self._serve_counted(request, handler, outcome, in_flight)
        finally:
            with self._lock:
                self._in_flight -= 1

    async def _serve_counted(self, request: Request, handler: Handler, outcome: dict,
                             in_flight: int) -> Response:
        cfg = self.faults.config
        if cfg.latency_ms:
            await asyncio.sleep(cfg.latency_ms / 1000)
        fault = self.faults.before_request()
        if fault == "429":
            outcome["fault"] = "429_burst"
            return self._throttle("You have reached your rate limit.")
        if fault == "5xx":
            outcome["fault"] = "5xx"
            status = self.faults.pick_5xx()
            return self._error(status, "INTERNAL_ERROR", "Internal server error (injected).")
        if not self.spec.authenticate(request):
            return self._error(401, "INVALID_AUTHENTICATION", "Authentication credentials invalid.")
        limited, limit, remaining = self._over_rate_limit()
        if limited:
            outcome["fault"] = "rate_limit"
            return self._throttle("You have reached your secondly limit.")
        if self.spec.max_concurrency and in_flight > self.spec.max_concurrency:
            outcome["fault"] = "concurrency"
            return self._throttle(f"You have exceeded the limit of {self.spec.max_concurrency} "
                                  "simultaneous connections.")
        while not self.gate.is_set():
            await asyncio.sleep(0.005)
        reply = await self._run_handler(request, handler)
        outcome["returned"], outcome["written"] = reply.returned, reply.written
        headers = {**reply.headers, **self.spec.rate_limit_headers(limit, remaining)}
        return self._render(reply, headers, outcome)

    async def _run_handler(self, request: Request, handler: Handler) -> Reply:
        try:
            return await handler(request)
        except VendorError as err:
            return Reply(self.spec.error_body(err.status, err.code, err.message), err.status)
        except json.JSONDecodeError:
            return Reply(self.spec.error_body(400, "INVALID_JSON", "Body is not valid JSON."), 400)
        except Exception:
            logger.exception("%s simulator: handler failed on %s", self.spec.name, request.url.path)
            return Reply(self.spec.error_body(500, "INTERNAL_ERROR", "Internal error."), 500)

    def _render(self, reply: Reply, headers: dict, outcome: dict) -> Response:
        corruption = self.faults.page_corruption() if reply.corrupt else None
        if corruption == "corrupt":
            reply.corrupt(reply.body)
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        if corruption == "malformed":
            payload = payload[: max(1, len(payload) // 2)] + b"<html>502 Bad Gateway"
        outcome["fault"] = corruption or outcome["fault"]
        if reply.status < 400 and self.faults.drop_connection():
            outcome["fault"] = "dropped"
            return _cut_short(payload, reply.status, headers)
        return Response(payload, reply.status, headers=headers, media_type="application/json")


def _cut_short(payload: bytes, status: int, headers: dict) -> Response:
    """Announce the full length, send half, then fail: the peer sees the connection drop."""

    async def half_then_fail():
        yield payload[: len(payload) // 2]
        raise ConnectionResetError("injected: connection dropped mid-page")

    headers = {**headers, "content-length": str(len(payload))}
    return StreamingResponse(half_then_fail(), status, headers=headers,
                             media_type="application/json")
