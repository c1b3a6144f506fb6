"""Does each configured connection work? Auth, permissions, and the list or audience we use.

One check per vendor, each a couple of cheap reads a real account answers the same way (like the
"test connection" of integration tools). A result names what failed and how (the HTTP status's
meaning), never a credential or a response body.
"""

from collections.abc import Callable
from dataclasses import dataclass

from email_data_platform.lib.connectors.http import RetryPolicy, VendorAPIError

# A check should answer in seconds: two attempts, short waits.
CHECK_POLICY = RetryPolicy(max_attempts=2, base_delay_s=0.2, max_wait_s=5.0, timeout_s=15.0)
_MEANING = {401: "credentials refused", 403: "permission missing (scope or profile)",
            404: "not found", 429: "rate limited"}


@dataclass(frozen=True)
class CheckResult:
    connection: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{self.connection:<13} {'ok' if self.ok else 'FAILED':<7} {self.detail}"


def check_hubspot(client) -> str:
    for objects in ("contacts", "deals"):
        client.http.request("GET", f"/crm/v3/objects/{objects}", params={"limit": 1})
    return "token accepted; contacts and deals readable"


def check_salesforce(client) -> str:
    client.http.tokens.token()
    contacts, opportunities = client.count("contacts"), client.count("opportunities")
    return (f"token issued; Contact ({contacts}) and Opportunity ({opportunities}) readable "
            f"on {client.api}")


def check_mailchimp(client, list_id: str) -> str:
    found = client.http.request("GET", f"/lists/{list_id}/members",
                                params={"count": 1, "fields": "total_items"},
                                allow_status=(404,))
    if found.get("_status") == 404:
        raise LookupError(f"key accepted, but audience {list_id} not found")
    return f"key accepted; audience {list_id} exists ({found.get('total_items', '?')} members)"


def check_sendgrid(client) -> str:
    count = client.contact_count()
    client.http.request("GET", "/v3/suppression/unsubscribes", params={"limit": 1})
    return f"key accepted; marketing contacts ({count}) and suppressions readable"


def check_consent_feed(client) -> str:
    client.http.request("GET", "/v1/consent-events", params={"limit": 1})
    return "key accepted; consent events readable"


def run_check(connection: str, check: Callable[[], str],
              secrets: tuple[str, ...] = ()) -> CheckResult:
    """Run one check; any failure becomes a one-line reason, `secrets` masked if echoed."""
    try:
        return CheckResult(connection, True, check())
    except VendorAPIError as error:
        meaning = _MEANING.get(error.status or 0, "request failed")
        return CheckResult(connection, False,
                           f"{meaning}: {error.status} on {error.method} {error.path}")
    except LookupError as error:
        return CheckResult(connection, False, str(error))
    except Exception as error:  # noqa: BLE001 - unreachable host, bad configuration, ...
        return CheckResult(connection, False,
                           f"{type(error).__name__}: {_first_line(error, secrets)}")


def _first_line(error: Exception, secrets: tuple[str, ...]) -> str:
    line = (str(error).splitlines() or [""])[0][:200]
    for secret in secrets:
        if secret and len(secret) >= 4:
            line = line.replace(secret, "***")
    return line
