"""The resources the ESP sync needs, bound to running simulators (shared by tests that run it)."""

from email_data_platform.defs.connections import MailchimpResource, SendGridResource
from email_data_platform.defs.privacy.resources import PseudonymisationResource
from email_data_platform.defs.warehouse import WarehouseResource


def esp_sync_resources(path: str, info: dict, **mailchimp_extra) -> dict:
    """warehouse, mailchimp, sendgrid and pseudonymisation for `path` and the sandbox `info`."""
    chimp, grid = info["mailchimp"], info["sendgrid"]
    return {"warehouse": WarehouseResource(path=path),
            "mailchimp": MailchimpResource(base_url=chimp["base_url"], api_key=chimp["api_key"],
                                           list_id=chimp["list_id"], **mailchimp_extra),
            "sendgrid": SendGridResource(base_url=grid["base_url"], api_key=grid["api_key"]),
            "pseudonymisation": PseudonymisationResource(local_keyfile=f"{path}.keys.json")}
