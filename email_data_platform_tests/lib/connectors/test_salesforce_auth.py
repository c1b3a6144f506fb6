"""Salesforce's OAuth flows against a token endpoint that checks what Salesforce checks: the JWT
bearer assertion's RS256 signature and claims, the refresh token, the client credentials."""

import base64
import json
import threading
import time
from urllib.parse import parse_qs

import pytest
import uvicorn
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from email_data_platform.lib.connectors.http import VendorAPIError
from email_data_platform.lib.connectors.salesforce import SalesforceClient, api_path
from email_data_platform.lib.connectors.salesforce_auth import JWT_GRANT, SalesforceOAuth
from email_data_platform_tests.waiting import wait_until

CLIENT_ID, USERNAME = "3MVG9-app", "integration@acme.example"
PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = PRIVATE_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class TokenEndpoint:
    def __init__(self):
        self.refresh_tokens, self.seen = {"rt-1"}, []

    def valid_assertion(self, assertion: str, audience: str) -> bool:
        header, claims, signature = assertion.split(".")
        try:
            PRIVATE_KEY.public_key().verify(_unb64(signature), f"{header}.{claims}".encode(),
                                            padding.PKCS1v15(), hashes.SHA256())
        except Exception:
            return False
        body = json.loads(_unb64(claims))
        return (json.loads(_unb64(header))["alg"] == "RS256" and body["iss"] == CLIENT_ID
                and body["sub"] == USERNAME and body["aud"] == audience
                and time.time() < body["exp"] <= time.time() + 300)

    async def token(self, request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        self.seen.append(form["grant_type"])
        audience = str(request.base_url).rstrip("/")
        ok = {JWT_GRANT: lambda: self.valid_assertion(form["assertion"], audience),
              "refresh_token": lambda: form.get("refresh_token") in self.refresh_tokens,
              }.get(form["grant_type"], lambda: False)()
        if not ok:
            return JSONResponse({"error": "invalid_grant", "error_description": "refused"}, 400)
        return JSONResponse({"access_token": f"tok-{len(self.seen)}", "instance_url": audience})


@pytest.fixture(scope="module")
def endpoint():
    state = TokenEndpoint()
    app = Starlette(routes=[Route("/services/oauth2/token", state.token, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 30, "the token endpoint to start")
    port = server.servers[0].sockets[0].getsockname()[1]
    state.url = f"http://127.0.0.1:{port}"
    yield state
    server.should_exit = True
    thread.join(timeout=5)


def test_jwt_bearer_flow_signs_an_assertion_salesforce_accepts(endpoint):
    auth = SalesforceOAuth(endpoint.url, CLIENT_ID, lambda: PEM, flow="jwt_bearer",
                           username=USERNAME)
    assert auth.token().startswith("tok-")
    assert endpoint.seen[-1] == JWT_GRANT


def test_jwt_signed_with_another_key_is_refused_without_leaking_it(endpoint):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    auth = SalesforceOAuth(endpoint.url, CLIENT_ID, lambda: other, flow="jwt_bearer",
                           username=USERNAME)
    with pytest.raises(VendorAPIError, match="jwt_bearer token request refused: invalid_grant") \
            as refused:
        auth.token()
    assert "PRIVATE KEY" not in str(refused.value)


def test_refresh_token_flow_reads_the_rotated_token_on_refresh(endpoint):
    current = {"token": "rt-1"}
    auth = SalesforceOAuth(endpoint.url, CLIENT_ID, lambda: current["token"],
                           flow="refresh_token")
    first = auth.token()
    endpoint.refresh_tokens = {"rt-2"}  # revoked and reissued in Salesforce
    current["token"] = "rt-2"
    assert auth.refresh() != first


def test_jwt_flow_needs_the_username():
    with pytest.raises(ValueError, match="username"):
        SalesforceOAuth("https://login.salesforce.com", CLIENT_ID, lambda: PEM, flow="jwt_bearer")


def test_api_version_is_configurable_and_checked():
    assert api_path("61.0") == api_path("v61.0") == "/services/data/v61.0"
    client = SalesforceClient("https://acme.my.salesforce.com", CLIENT_ID, "s", api_version="v62.0")
    assert client.api == "/services/data/v62.0"
    with pytest.raises(ValueError, match="API version"):
        api_path("latest")
