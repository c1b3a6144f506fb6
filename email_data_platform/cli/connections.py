"""`edp connections check`: one line per configured vendor connection (auth, permissions, the
list or audience), exit status 1 if any fails. Reads the same environment a run would."""

import argparse
import os
import sys

from email_data_platform.lib.connectors.connection_checks import (
    CHECK_POLICY,
    check_consent_feed,
    check_hubspot,
    check_mailchimp,
    check_salesforce,
    check_sendgrid,
    run_check,
)

CHECKS = {
    "hubspot": lambda resource, client: check_hubspot(client),
    "salesforce": lambda resource, client: check_salesforce(client),
    "mailchimp": lambda resource, client: check_mailchimp(client, resource.list_id),
    "sendgrid": lambda resource, client: check_sendgrid(client),
    "consent_feed": lambda resource, client: check_consent_feed(client),
}
SECRET_FIELDS = ("access_token", "api_key", "client_secret", "private_key", "refresh_token")


def register(commands: argparse._SubParsersAction) -> None:
    group = commands.add_parser("connections", help="vendor connections")
    sub = group.add_subparsers(dest="connections_command", required=True)
    check = sub.add_parser("check", help="verify each configured connection, one line each")
    check.add_argument("--only", action="append", choices=sorted(CHECKS),
                       help="check just this connection (repeatable)")


def check_connections(only: list[str] | None = None) -> list:
    from email_data_platform.defs.connections import api_unused, bind_connections

    results = []
    for name, resource in bind_connections(os.environ).items():
        if only and name not in only:
            continue
        if api_unused(name, os.environ):
            results.append(run_check(name, lambda n=name: _check_elt(n)))
            continue
        results.append(run_check(name, lambda r=resource, n=name: _check(n, r),
                                 _secrets(resource)))
    return results


def _check(name: str, resource) -> str:
    unset = [value.env_var_name for value in _env_vars(resource)
             if not os.environ.get(value.env_var_name)]
    if unset:
        raise LookupError(f"not configured: {', '.join(unset)} not set")
    resolved = resource.process_config_and_initialize()  # reads the EnvVars, as a launch does
    client = resolved.client()
    client.http.policy = CHECK_POLICY
    try:
        return CHECKS[name](resolved, client)
    finally:
        client.close()


def _check_elt(name: str) -> str:
    """A CRM an ELT tool lands: its tables are readable in the configured warehouse."""
    from email_data_platform.cli.warehouse_option import configured_warehouse
    from email_data_platform.defs.sources.resources import crm_sources_resource
    from email_data_platform.lib.sources.elt import source_total

    sources = crm_sources_resource(os.environ).process_config_and_initialize()
    tables = [sources.table(name, obj) for obj in ("contacts", "orders")]
    with configured_warehouse(None) as warehouse:
        found = [f"{table.table} ({source_total(warehouse, table)} live)" for table in tables]
    return f"{sources.tool(name)} tables readable: {', '.join(found)}; the API is not called"


def _env_vars(resource) -> list:
    fields = (getattr(resource, name, None) for name in type(resource).model_fields)
    return [value for value in fields if hasattr(value, "env_var_name")]


def _secrets(resource) -> tuple[str, ...]:
    """The current values of the secret fields, masked should an error echo one."""
    variables = (getattr(resource, name, None) for name in SECRET_FIELDS)
    return tuple(os.environ.get(v.env_var_name, "") for v in variables
                 if hasattr(v, "env_var_name"))


def dispatch(args: argparse.Namespace) -> int:
    results = check_connections(args.only)
    for result in results:
        sys.stdout.write(result.line() + "\n")
    return 0 if all(result.ok for result in results) else 1
