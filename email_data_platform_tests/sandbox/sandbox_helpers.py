"""Shared helpers for tests that run the vendor simulators (real servers on 127.0.0.1)."""

from pathlib import Path

import httpx

from email_data_platform.sandbox.generator import generate_dataset, write_dataset


def write_small_dataset(directory: Path, contacts: int = 300, seed: int = 7) -> Path:
    write_dataset(generate_dataset(contacts, seed), directory)
    return directory


def write_salesforce_dataset(directory: Path, contacts: int, seed: int) -> Path:
    """A generated data set whose contacts and orders also make up the Salesforce org."""
    write_small_dataset(directory, contacts, seed)
    for name in ("contacts", "orders"):
        (directory / f"salesforce_{name}.parquet").write_bytes(
            (directory / f"{name}.parquet").read_bytes())
    return directory


def hubspot_headers(info: dict) -> dict:
    return {"Authorization": f"Bearer {info['hubspot']['access_token']}"}


def mailchimp_auth(info: dict) -> tuple[str, str]:
    return ("anyone", info["mailchimp"]["api_key"])


def consent_headers(info: dict) -> dict:
    return {"X-API-Key": info["consent"]["api_key"]}


def admin(info: dict, vendor: str, action: str, body: dict | None = None) -> dict:
    """Call a simulator's `/_sandbox/<action>` endpoint with that vendor's credentials."""
    base = info[vendor]["base_url"].removesuffix("/3.0")
    auth = {"hubspot": dict(headers=hubspot_headers(info)),
            "mailchimp": dict(auth=mailchimp_auth(info)),
            "consent": dict(headers=consent_headers(info))}[vendor]
    if body is None and action == "stats":
        response = httpx.get(f"{base}/_sandbox/{action}", **auth)
    else:
        response = httpx.post(f"{base}/_sandbox/{action}", json=body, **auth)
    response.raise_for_status()
    return response.json()
