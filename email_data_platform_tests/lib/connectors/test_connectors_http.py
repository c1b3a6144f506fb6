"""The shared HTTP layer against the real simulators: retries, throttles, rotation, budgets."""


import httpx
import pytest

from email_data_platform.defs.connections import HubSpotResource
from email_data_platform.lib.connectors.credentials import shared_budget
from email_data_platform.lib.connectors.http import (
    BudgetExceededError,
    CallableToken,
    HttpClient,
    RequestBudget,
    RetryPolicy,
    StaticToken,
    VendorAPIError,
    retry_after_seconds,
)
from email_data_platform.sandbox.faults import FaultConfig
from email_data_platform.sandbox.server import Sandbox, running_sandbox
from email_data_platform_tests.fake_clock import FakeClock
from email_data_platform_tests.sandbox.sandbox_helpers import admin, write_small_dataset

FAST = RetryPolicy(max_attempts=10, base_delay_s=0.01, max_delay_s=0.05)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_small_dataset(tmp_path_factory.mktemp("http_data"), contacts=120)


def _hubspot(info: dict, **kwargs) -> HttpClient:
    tokens = kwargs.pop("tokens", StaticToken(info["hubspot"]["access_token"]))
    return HttpClient("hubspot", info["hubspot"]["base_url"], tokens,
                      policy=kwargs.pop("policy", FAST), **kwargs)


def test_retry_after_reads_seconds_dates_and_reset_headers():
    now = 1_800_000_000.0  # Fri, 15 Jan 2027 08:00:00 GMT
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "3"})) == 3.0
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "0.5"})) == 0.5
    dated = httpx.Response(429, headers={"Retry-After": "Fri, 15 Jan 2027 08:00:10 GMT"})
    assert retry_after_seconds(dated, now=now) == 10.0
    past = httpx.Response(429, headers={"Retry-After": "Fri, 15 Jan 2027 07:59:00 GMT"})
    assert retry_after_seconds(past, now=now) == 0.0
    epoch = httpx.Response(429, headers={"X-RateLimit-Reset": str(int(now) + 7)})
    assert retry_after_seconds(epoch, now=now) == 7.0
    assert retry_after_seconds(httpx.Response(429)) is None


def test_faults_are_retried_and_counted(data_dir, tmp_path):
    faults = FaultConfig(seed=3, error_rate=0.3, burst_every=4, burst_length=2,
                         retry_after_s=0.05, drop_rate=0.2, malformed_rate=0.1)
    waits: list[float] = []
    with running_sandbox(data_dir, tmp_path / "j.jsonl", faults) as info:
        client = _hubspot(info, sleep=waits.append)
        pages = [client.request("GET", "/crm/v3/objects/contacts", params={"limit": 10})
                 for _ in range(12)]
        client.close()
    stats = client.stats
    assert all(len(p["results"]) == 10 for p in pages)
    assert stats.throttles >= 2 and stats.server_errors >= 1 and stats.dropped >= 1
    assert stats.retries == stats.requests - 12
    assert 0.05 in waits  # the Retry-After value itself was honoured
    assert all(b["reason"].startswith("invalid JSON") for b in stats.malformed_bodies)


def test_rotated_credential_is_re_read_on_401(data_dir, tmp_path):
    with running_sandbox(data_dir, tmp_path / "j.jsonl") as info:
        current = {"token": info["hubspot"]["access_token"]}
        client = _hubspot(info, tokens=CallableToken(lambda: current["token"]))
        client.request("GET", "/crm/v3/objects/contacts")
        current["token"] = admin(info, "hubspot", "rotate", {})["access_token"]
        page = client.request("GET", "/crm/v3/objects/contacts")
        client.close()
    assert page["results"] and client.stats.token_refreshes == 1


def test_errors_name_the_call_but_never_the_secret(data_dir, tmp_path):
    with running_sandbox(data_dir, tmp_path / "j.jsonl") as info:
        secret = "pat-wrong-secret-value"
        client = _hubspot(info, tokens=StaticToken(secret))
        with pytest.raises(VendorAPIError) as caught:
            client.request("GET", "/crm/v3/objects/contacts")
        client.close()
    message = str(caught.value)
    assert "401" in message and "/crm/v3/objects/contacts" in message
    assert secret not in message


def test_request_budget_stops_before_the_vendor_quota(data_dir, tmp_path):
    with running_sandbox(data_dir, tmp_path / "j.jsonl") as info:
        client = _hubspot(info, budget=RequestBudget(2))
        client.request("GET", "/crm/v3/objects/contacts")
        client.request("GET", "/crm/v3/objects/contacts")
        with pytest.raises(BudgetExceededError):
            client.request("GET", "/crm/v3/objects/contacts")
        client.close()


def test_a_long_throttle_is_refused_rather_than_slept(data_dir, tmp_path):
    faults = FaultConfig(burst_every=1, burst_length=1, retry_after_s=600)
    with running_sandbox(data_dir, tmp_path / "j.jsonl", faults) as info:
        client = _hubspot(info, sleep=lambda s: pytest.fail(f"must not sleep {s} s"))
        with pytest.raises(VendorAPIError, match="throttled for 600s"):
            client.request("GET", "/crm/v3/objects/contacts")
        client.close()
    # refused on the first answer: one request, no wait (not a wall-clock bound)
    assert (client.stats.requests, client.stats.throttles, client.stats.waited_s) == (1, 1, 0.0)


def test_budget_is_shared_per_account_and_resets_each_period():
    now = [0.0]
    daily = RequestBudget(2, period_s=86_400, clock=lambda: now[0])
    daily.spend("hubspot")
    daily.spend("hubspot")
    with pytest.raises(BudgetExceededError):
        daily.spend("hubspot")
    now[0] = 86_400.0
    daily.spend("hubspot")  # a new day, a new quota
    assert shared_budget("hubspot:acct", 5) is shared_budget("hubspot:acct", 5)
    assert shared_budget("hubspot:acct", 5) is not shared_budget("hubspot:other", 5)


def test_quota_headers_pace_requests_instead_of_bouncing_off_429(data_dir, tmp_path):
    # One clock for the simulator's one-second windows and the client's pauses: a window
    # closes only when the client waits, however slow the machine is.
    clock = FakeClock()
    sandbox = Sandbox(data_dir, tmp_path / "j.jsonl", FaultConfig(rate_limit_per_s=15))
    sandbox.hubspot.app.clock = clock
    info = sandbox.start()
    try:
        client = _hubspot(info, sleep=clock.sleep, clock=clock)
        for _ in range(40):
            client.request("GET", "/crm/v3/objects/contacts", params={"limit": 1})
        client.close()
    finally:
        sandbox.stop()
    # 15 + 15 + 10 requests: held back twice, one second each, and never refused
    assert (client.stats.paced, client.stats.throttles, client.stats.requests) == (2, 0, 40)
    assert clock.slept == [1.0, 1.0]


def test_resource_credentials_start_from_config_and_rotate_from_the_environment(
        data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-stale-from-an-old-run")
    with running_sandbox(data_dir, tmp_path / "j.jsonl") as info:
        resource = HubSpotResource(**info["hubspot"], retry_base_delay_s=0.01)
        client = resource.client()
        assert client.count("contacts") == 120  # the configured token, not the stale variable
        rotated = admin(info, "hubspot", "rotate", {})["access_token"]
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", rotated)
        assert client.count("contacts") == 120  # 401 -> the rotated value from the environment
        client.close()
    assert client.http.stats.token_refreshes == 1
