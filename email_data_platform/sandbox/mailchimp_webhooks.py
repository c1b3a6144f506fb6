"""Mailchimp audience webhooks: registered per list, fired on member events (see
`esp_webhooks.py` for the delivery and payload shape)."""

import uuid

from email_data_platform.sandbox.esp_webhooks import deliver, mailchimp_form

EVENTS = ("subscribe", "unsubscribe", "profile", "cleaned", "upemail", "campaign")
SOURCES = ("user", "admin", "api")


class MailchimpWebhooks:
    def __init__(self, list_id: str):
        self.list_id = list_id
        self.hooks: dict[str, dict] = {}

    def snapshot(self) -> dict:
        return {"webhooks": list(self.hooks.values())}

    def restore(self, saved: dict | None) -> None:
        self.hooks = {h["id"]: h for h in (saved or {}).get("webhooks") or []}

    def register(self, body: dict) -> dict:
        url = str(body.get("url") or "")
        if not url.startswith(("http://", "https://")):
            raise ValueError("url must be an http(s) URL")
        events = {e: bool((body.get("events") or {}).get(e, True)) for e in EVENTS}
        sources = {s: bool((body.get("sources") or {}).get(s, s != "api")) for s in SOURCES}
        hook = {"id": uuid.uuid4().hex[:10], "url": url, "list_id": self.list_id,
                "events": events, "sources": sources}
        self.hooks[hook["id"]] = hook
        return hook

    def listed(self) -> list[dict]:
        return list(self.hooks.values())

    def delete(self, hook_id: str) -> bool:
        return self.hooks.pop(hook_id, None) is not None

    def send(self, event: str, member: dict, source: str, extra: dict | None = None) -> None:
        """Fire `event` (a Mailchimp webhook type) to every hook that wants it from `source`.
        API changes (upserts, tags, archives) map to no webhook type unless they unsubscribe."""
        kind = event.removeprefix("user:")
        if kind not in EVENTS:
            kind = {"unsubscribed": "unsubscribe", "cleaned": "cleaned"}.get(kind, "")
        if not kind:
            return
        extras = {"data[reason]": str((extra or {}).get("reason", "hard"))} \
            if kind == "cleaned" else {}
        if kind == "upemail":
            extras = {"data[old_email]": member["email_address"],
                      "data[new_email]": str((extra or {}).get("new_email") or "")}
        if kind == "unsubscribe":
            extras = {"data[action]": "unsub", "data[reason]": "manual"}
        body = mailchimp_form(kind, member, self.list_id, extras)
        for hook in list(self.hooks.values()):
            if hook["events"].get(kind) and hook["sources"].get(source):
                deliver(hook["url"], body,
                        {"Content-Type": "application/x-www-form-urlencoded",
                         "User-Agent": "MailChimp"})


def add_webhook_routes(sim) -> None:
    """`/lists/{id}/webhooks` (register, list, delete) and the admin `/_sandbox/member-event`
    (the person acts: unsubscribe, cleaned, profile, upemail; webhooks fire with source user)."""
    from email_data_platform.sandbox.mailchimp_members import MemberError
    from email_data_platform.sandbox.vendor import Reply, VendorError

    async def webhooks_endpoint(request):
        sim._check_list(request)
        if request.method == "GET":
            hooks = sim.webhooks.listed()
            return Reply({"webhooks": hooks, "list_id": sim.list_id,
                          "total_items": len(hooks)}, returned=len(hooks))
        try:
            hook = sim.webhooks.register(await request.json())
        except ValueError as error:
            raise VendorError(400, "InvalidResource", str(error)) from None
        sim.state.mark_changed()
        return Reply(hook, written=1)

    async def delete_webhook(request):
        sim._check_list(request)
        if not sim.webhooks.delete(request.path_params["webhook_id"]):
            raise VendorError(404, "ResourceNotFound", "The requested resource could not be found.")
        sim.state.mark_changed()
        return Reply(None, status=204, written=1)

    async def member_event(request):
        body = await request.json()
        kind = str(body.get("type") or "")
        if kind not in ("unsubscribe", "cleaned", "profile", "upemail"):
            raise VendorError(400, "InvalidResource", f"unknown member event {kind!r}")
        try:
            member = sim.store.get(str(body.get("email") or ""))
        except MemberError as error:
            raise VendorError(error.status, error.code, error.message) from None
        status = {"unsubscribe": "unsubscribed", "cleaned": "cleaned"}.get(kind)
        if status:
            sim.store.set_status(member["id"], status, "user:" + kind)
        sim.webhooks.send(kind, member, source="user", extra=body.get("data") or {})
        return Reply({"sent": kind})

    lists = "/3.0/lists/{list_id}"
    sim.app.route(lists + "/webhooks", webhooks_endpoint, ["GET", "POST"])
    sim.app.route(lists + "/webhooks/{webhook_id}", delete_webhook, ["DELETE"])
    sim.app.route("/_sandbox/member-event", member_event, ["POST"], faults=False)
