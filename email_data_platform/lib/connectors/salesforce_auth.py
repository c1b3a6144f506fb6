"""Salesforce OAuth 2.0 flows: client credentials, JWT bearer, refresh token.

Each flow is a token provider (`token()`, `refresh()`): a token is requested on first use and
again when the API refuses it (401), when each flow reads its secret anew (a rotated client
secret, private key or refresh token is picked up without a restart). Secrets never appear in
errors: a refused request names the flow and Salesforce's error code only.
"""

import base64
import json
import time
from collections.abc import Callable

import httpx

from email_data_platform.lib.connectors.http import VendorAPIError

TOKEN_PATH = "/services/oauth2/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FLOWS = ("client_credentials", "jwt_bearer", "refresh_token")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_jwt(claims: dict, private_key_pem: str) -> str:
    """An RS256-signed JWT (what Salesforce's JWT bearer flow expects)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    signing_input = ".".join(_b64url(json.dumps(part, separators=(",", ":")).encode())
                             for part in ({"alg": "RS256", "typ": "JWT"}, claims))
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


class SalesforceOAuth:
    """A token provider for one flow. `secret` returns the flow's secret (client secret, PEM
    private key or refresh token), read again for every token request."""

    def __init__(self, login_url: str, client_id: str, secret: Callable[[], str],
                 flow: str = "client_credentials", username: str | None = None,
                 client_secret: Callable[[], str] | None = None):
        if flow not in FLOWS:
            raise ValueError(f"Salesforce auth flow must be one of {', '.join(FLOWS)}, "
                             f"not {flow!r}")
        if flow == "jwt_bearer" and not username:
            raise ValueError("the Salesforce JWT bearer flow needs the integration user's username")
        self.login_url = login_url.rstrip("/")
        self.url = self.login_url + TOKEN_PATH
        self.client_id, self.flow, self.username = client_id, flow, username
        self._secret, self._client_secret = secret, client_secret
        self._token: str | None = None

    def _form(self) -> dict:
        if self.flow == "client_credentials":
            return {"grant_type": "client_credentials", "client_id": self.client_id,
                    "client_secret": self._secret()}
        if self.flow == "jwt_bearer":
            claims = {"iss": self.client_id, "sub": self.username, "aud": self.login_url,
                      "exp": int(time.time()) + 180}
            return {"grant_type": JWT_GRANT, "assertion": signed_jwt(claims, self._secret())}
        form = {"grant_type": "refresh_token", "client_id": self.client_id,
                "refresh_token": self._secret()}
        if self._client_secret is not None:
            form["client_secret"] = self._client_secret()
        return form

    def _fetch(self) -> str:
        form = self._form()
        for _ in range(3):
            response = httpx.post(self.url, data=form, timeout=30)
            if response.status_code < 500:
                break
        if response.status_code != 200:
            raise VendorAPIError("salesforce", "POST", TOKEN_PATH, response.status_code,
                                 f"{self.flow} token request refused: {_error_code(response)}")
        return response.json()["access_token"]

    def token(self) -> str:
        if self._token is None:
            self._token = self._fetch()
        return self._token

    def refresh(self) -> str:
        self._token = self._fetch()
        return self._token


def _error_code(response: httpx.Response) -> str:
    """Salesforce's error code (`invalid_grant`, ...), never the request or a description
    that could echo a credential."""
    try:
        code = response.json().get("error")
    except ValueError:
        code = None
    return code if isinstance(code, str) and code.isidentifier() else "unknown error"
