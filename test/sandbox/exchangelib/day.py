"""
A day's mail work with exchangelib in its default configuration, against the sandbox.

Default configuration: Credentials of the service account, Account(autodiscover=True, access_type=IMPERSONATION),
no auth_type (exchangelib picks the most secure scheme the server offers, NTLM before Basic), no version (it
guesses, newest first), and the default field lists (which ask for the fields of every item class a folder can
hold).

Each step runs on its own and prints one JSON line: {"step", "ok", "value"} or {"step", "ok": false, "error",
"type"}; a failed step does not stop the others. The last line is {"done": true, "failed": [...]}, and the exit
status is 1 when any step failed.

Environment: SANDBOX_HOSTS, SANDBOX_PORT, SANDBOX_HTTP_PORT (see sandbox_names.py), REQUESTS_CA_BUNDLE (the
sandbox's CA), SANDBOX_CONTROL (the control API's URL), SANDBOX_USER and SANDBOX_PASSWORD (the service account),
SANDBOX_MAILBOX (the mailbox to work in), SANDBOX_PEER (a second mailbox to send to). For development only,
EXL_DEV_BASIC_ONLY=1 hides every scheme but Basic from exchangelib (the server's offers are filtered on arrival),
EXL_DEV_MESSAGE_FIELDS=1 asks for the fields of messages only, and EXL_TRACE=<file> writes exchangelib's debug log
(every request and response) there: to see past one defect to the next. The test never sets them.
"""
import datetime
import json
import os
import sys
import time
import traceback
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sandbox_names  # noqa: E402  (must come before any connection is made)

import requests  # noqa: E402

if os.environ.get("EXL_TRACE"):
    # Development aid: exchangelib's own debug log (every request and response) to a file.
    import logging

    logging.basicConfig(filename=os.environ["EXL_TRACE"], level=logging.DEBUG)

if os.environ.get("EXL_DEV_BASIC_ONLY") == "1":
    import requests.adapters

    _build_response = requests.adapters.HTTPAdapter.build_response

    def _basic_only(self, req, resp):
        response = _build_response(self, req, resp)
        offers = response.headers.get("WWW-Authenticate")
        if offers is not None:
            response.headers["WWW-Authenticate"] = ", ".join(
                o.strip() for o in offers.split(",") if o.strip().lower().startswith(("basic", "realm"))
            )
        return response

    requests.adapters.HTTPAdapter.build_response = _basic_only

from exchangelib import (  # noqa: E402
    IMPERSONATION,
    Account,
    Credentials,
    EWSDateTime,
    EWSTimeZone,
    ExtendedProperty,
    FileAttachment,
    Folder,
    HTMLBody,
    ItemAttachment,
    Mailbox,
    Message,
)

if os.environ.get("EXL_DEV_MESSAGE_FIELDS") == "1":
    # Development aid: ask for the fields of messages only, to see past the refusal of other item classes' fields.
    from exchangelib.folders.base import BaseFolder

    def _subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from _subclasses(sub)

    for _cls in [BaseFolder, *_subclasses(BaseFolder)]:
        if Message in _cls.__dict__.get("supported_item_models", ()):
            _cls.supported_item_models = (Message,)

MAILBOX = os.environ.get("SANDBOX_MAILBOX", "alice@contoso.test")
PEER = os.environ.get("SANDBOX_PEER", "bob@contoso.test")
CONTROL = os.environ["SANDBOX_CONTROL"].rstrip("/")
RUN = os.environ.get("SANDBOX_RUN") or uuid.uuid4().hex[:8]
UTC = EWSTimeZone("UTC")

results = []
state = {}


def emit(line):
    sys.stdout.write(json.dumps(line, default=str) + "\n")
    sys.stdout.flush()


def step(name, needs=()):
    """Runs a step, prints its result; a step whose prerequisite failed says which one."""

    def decorate(fn):
        missing = [n for n in needs if n not in state]
        if missing:
            line = {"step": name, "ok": False, "type": "Skipped", "error": f"needs {', '.join(missing)}"}
        else:
            try:
                line = {"step": name, "ok": True, "value": fn()}
            except Exception as e:  # every failure is reported, then the next step runs
                line = {
                    "step": name,
                    "ok": False,
                    "type": type(e).__name__,
                    "error": str(e)[:2000],
                    "where": traceback.format_exc().strip().splitlines()[-3][:300],
                }
        results.append(line)
        emit(line)
        return fn

    return decorate


def control(method, path, body=None):
    r = requests.request(method, CONTROL + path, json=body, timeout=30)
    r.raise_for_status()
    return r.json() if r.text else None


def deliver(subject, **extra):
    payload = {"from": "jane.doe@fabrikam.test", "to": [MAILBOX], "subject": subject, "body": f"Body of {subject}"}
    payload.update(extra)
    return control("POST", f"/mailboxes/{MAILBOX}/messages", payload)


def wait_for(query, what, seconds=10):
    """Re-runs query until it returns something true (the server may file a sent message a moment later)."""
    deadline = time.monotonic() + seconds
    while True:
        value = query()
        if value or time.monotonic() > deadline:
            if not value:
                raise AssertionError(f"{what} did not happen within {seconds}s")
            return value
        time.sleep(0.2)


def check(condition, message):
    if not condition:
        raise AssertionError(message)


# ---- connecting ----


@step("autodiscover")
def _():
    credentials = Credentials(os.environ["SANDBOX_USER"], os.environ["SANDBOX_PASSWORD"])
    account = Account(primary_smtp_address=MAILBOX, credentials=credentials, autodiscover=True, access_type=IMPERSONATION)
    state["account"] = account
    return {"ews": account.protocol.service_endpoint, "address": account.primary_smtp_address}


@step("version", needs=["account"])
def _():
    account = state["account"]
    version = account.version
    state["version"] = version
    return {"api": version.api_version, "build": str(version.build), "auth": account.protocol.auth_type}


# ---- folders ----


@step("root tree", needs=["version"])
def _():
    account = state["account"]
    names = [f.name for f in account.root.walk()]
    check("Inbox" in names, f"no Inbox in the tree: {names}")
    return {"count": len(names), "names": sorted(set(names))}


@step("inbox children", needs=["version"])
def _():
    account = state["account"]
    return sorted(f.name for f in account.inbox.children)


@step("folder create, rename, delete", needs=["version"])
def _():
    account = state["account"]
    folder = Folder(parent=account.inbox, name=f"exl {RUN}")
    folder.save()
    created = folder.id is not None
    folder.name = f"exl {RUN} renamed"
    folder.save()
    account.root.refresh()
    names = [f.name for f in account.inbox.children]
    check(f"exl {RUN} renamed" in names, f"renamed folder not found among {names}")
    folder.delete()
    account.root.refresh()
    names_after = [f.name for f in account.inbox.children]
    check(f"exl {RUN} renamed" not in names_after, "folder still there after delete")
    return {"created": created, "renamed": True, "deleted": True}


# ---- reading ----


@step("inbox all fields", needs=["version"])
def _():
    account = state["account"]
    items = list(account.inbox.all().order_by("-datetime_received")[:50])
    check(len(items) > 0, "the inbox listed no items")
    kinds = sorted({type(i).__name__ for i in items})
    state["inbox"] = items
    return {"count": len(items), "kinds": kinds, "subjects": [i.subject for i in items[:5]]}


@step("filters", needs=["version"])
def _():
    account = state["account"]
    deliver(f"Filter target {RUN}")
    inbox = account.inbox
    unread = inbox.filter(is_read=False).count()
    read = inbox.filter(is_read=True).count()
    total = inbox.all().count()
    check(unread + read == total, f"unread {unread} + read {read} != total {total}")
    matches = [i.subject for i in inbox.filter(subject__contains=f"target {RUN}")]
    check(matches == [f"Filter target {RUN}"], f"subject__contains found {matches}")
    now = EWSDateTime.now(tz=UTC)
    recent = [
        i.subject
        for i in inbox.filter(datetime_received__range=(now - datetime.timedelta(hours=1), now + datetime.timedelta(minutes=5)))
    ]
    check(f"Filter target {RUN}" in recent, f"datetime_received range did not find the new message: {recent}")
    return {"unread": unread, "read": read, "total": total, "contains": matches, "recent": len(recent)}


@step("mime", needs=["version"])
def _():
    account = state["account"]
    deliver(f"Mime {RUN}")
    item = account.inbox.filter(subject=f"Mime {RUN}").only("subject", "mime_content")[0]
    mime = item.mime_content
    check(mime and f"Mime {RUN}".encode() in mime, "mime_content lacks the subject")
    return {"bytes": len(mime)}


# ---- writing ----


@step("send and save", needs=["version"])
def _():
    account = state["account"]
    subject = f"Sent {RUN}"
    Message(account=account, folder=account.sent, subject=subject, body="Hello from exchangelib", to_recipients=[Mailbox(email_address=PEER)]).send_and_save()
    sent = wait_for(lambda: list(account.sent.filter(subject=subject)), "the sent copy")
    peer = wait_for(
        lambda: [i for i in control("GET", f"/mailboxes/{PEER}/folders/inbox/items") if i["subject"] == subject], "delivery to the peer"
    )
    return {"sent": len(sent), "peerInbox": len(peer)}


@step("draft with attachments", needs=["version"])
def _():
    account = state["account"]
    subject = f"Draft {RUN}"
    draft = Message(account=account, folder=account.drafts, subject=subject, body=HTMLBody("<p>See attached</p>"), to_recipients=[Mailbox(email_address=PEER)])
    draft.attach(FileAttachment(name="notes.txt", content=b"file attachment content"))
    draft.attach(ItemAttachment(name="Inner message", item=Message(subject="Inner message", body="inner body")))
    draft.save()
    state["draft"] = draft
    fetched = account.drafts.get(subject=subject)
    names = sorted(a.name for a in fetched.attachments)
    check(names == ["Inner message", "notes.txt"], f"attachments read back: {names}")
    files = [a for a in fetched.attachments if isinstance(a, FileAttachment)]
    check(files[0].content == b"file attachment content", "file attachment content differs")
    inner = [a for a in fetched.attachments if isinstance(a, ItemAttachment)][0]
    check(inner.item is not None and inner.item.subject == "Inner message", f"item attachment read back: {inner.item}")
    return {"attachments": names}


@step("attachment add and remove", needs=["draft"])
def _():
    account = state["account"]
    draft = account.drafts.get(subject=f"Draft {RUN}")
    extra = FileAttachment(name="later.bin", content=bytes(range(256)))
    draft.attach(extra)  # CreateAttachment on a saved item
    names = sorted(a.name for a in account.drafts.get(subject=f"Draft {RUN}").attachments)
    check("later.bin" in names, f"CreateAttachment: {names}")
    draft.detach(extra)  # DeleteAttachment
    names_after = sorted(a.name for a in account.drafts.get(subject=f"Draft {RUN}").attachments)
    check("later.bin" not in names_after, f"DeleteAttachment: {names_after}")
    return {"after add": names, "after remove": names_after}


@step("move", needs=["version"])
def _():
    account = state["account"]
    deliver(f"Move me {RUN}")
    item = account.inbox.get(subject=f"Move me {RUN}")
    target = Folder(parent=account.inbox, name=f"exl move {RUN}")
    target.save()
    item.move(to_folder=target)
    moved = list(target.all())
    check([i.subject for i in moved] == [f"Move me {RUN}"], f"target holds {[i.subject for i in moved]}")
    check(account.inbox.filter(subject=f"Move me {RUN}").count() == 0, "still in the inbox")
    state["move target"] = target
    return {"moved": 1}


@step("mark read", needs=["version"])
def _():
    account = state["account"]
    deliver(f"Read me {RUN}")
    item = account.inbox.get(subject=f"Read me {RUN}")
    check(item.is_read is False, "a delivered message is unread")
    item.is_read = True
    item.save(update_fields=["is_read"])
    back = account.inbox.get(subject=f"Read me {RUN}")
    listed = [i for i in control("GET", f"/mailboxes/{MAILBOX}/folders/inbox/items") if i["subject"] == f"Read me {RUN}"]
    check(back.is_read is True, "is_read reads back False")
    check(listed and listed[0]["isRead"] is True, f"the sandbox holds {listed}")
    return {"isRead": back.is_read}


@step("bulk create", needs=["version"])
def _():
    account = state["account"]
    items = [Message(account=account, folder=account.drafts, subject=f"Bulk {RUN} {n}", body=f"bulk {n}") for n in range(5)]
    created = account.bulk_create(folder=account.drafts, items=items)
    errors = [str(c) for c in created if isinstance(c, Exception)]
    check(not errors, f"bulk_create errors: {errors}")
    found = account.drafts.filter(subject__startswith=f"Bulk {RUN}").count()
    check(found == 5, f"{found} of 5 drafts found")
    return {"created": len(created)}


@step("delete", needs=["version"])
def _():
    account = state["account"]
    items = list(account.drafts.filter(subject__startswith=f"Bulk {RUN}"))
    check(len(items) == 5, f"{len(items)} bulk drafts to delete")
    trashed = items[1].subject
    items[0].delete()
    items[1].move_to_trash()
    items[2].soft_delete()
    account.bulk_delete(ids=items[3:])
    left = account.drafts.filter(subject__startswith=f"Bulk {RUN}").count()
    check(left == 0, f"{left} left after delete")
    in_trash = account.trash.filter(subject=trashed).count()
    check(in_trash == 1, "move_to_trash did not put it in Deleted Items")
    return {"left": left, "inTrash": in_trash}


# ---- sync ----


@step("sync items", needs=["version"])
def _():
    account = state["account"]
    inbox = account.inbox
    first = list(inbox.sync_items())
    check(len(first) > 0, "the first sync returned nothing")
    deliver(f"Sync {RUN}")
    second = list(inbox.sync_items(sync_state=inbox.item_sync_state))
    kinds = [(change, getattr(item, "subject", None)) for change, item in second]
    check(("create", f"Sync {RUN}") in kinds, f"incremental sync: {kinds}")
    return {"first": len(first), "second": kinds}


@step("sync hierarchy", needs=["version"])
def _():
    account = state["account"]
    root = account.msg_folder_root
    first = list(root.sync_hierarchy())
    check(len(first) > 0, "the first hierarchy sync returned nothing")
    folder = Folder(parent=account.inbox, name=f"exl sync {RUN}")
    folder.save()
    second = [(change, getattr(f, "name", None)) for change, f in root.sync_hierarchy(sync_state=root.folder_sync_state)]
    folder.delete()
    check(("create", f"exl sync {RUN}") in second, f"incremental hierarchy sync: {second}")
    return {"first": len(first), "second": second}


# ---- notifications ----


def event_names(notification):
    return [type(e).__name__ for e in notification.events]


@step("pull subscription", needs=["version"])
def _():
    account = state["account"]
    subscription_id, watermark = account.inbox.subscribe_to_pull()
    deliver(f"Pull {RUN}")
    seen = []
    deadline = time.monotonic() + 10
    while not any(n in ("NewMailEvent", "CreatedEvent") for n in seen) and time.monotonic() < deadline:
        for notification in account.inbox.get_events(subscription_id, watermark):
            watermark = notification.events[-1].watermark if notification.events else watermark
            seen += event_names(notification)
        time.sleep(0.2)
    account.inbox.unsubscribe(subscription_id)
    check("NewMailEvent" in seen or "CreatedEvent" in seen, f"events seen: {seen}")
    return {"events": seen}


@step("streaming subscription", needs=["version"])
def _():
    account = state["account"]
    subscription_id = account.inbox.subscribe_to_streaming()
    deliver(f"Stream {RUN}")
    seen = []
    stream = account.inbox.get_streaming_events(subscription_id, connection_timeout=1)
    for notification in stream:
        seen += event_names(notification)
        if "NewMailEvent" in seen or "CreatedEvent" in seen:
            break
    stream.close()
    account.inbox.unsubscribe(subscription_id)
    check("NewMailEvent" in seen or "CreatedEvent" in seen, f"events seen: {seen}")
    return {"events": seen}


# ---- directory and server ----


@step("resolve names", needs=["version"])
def _():
    account = state["account"]
    found = account.protocol.resolve_names([PEER.split("@")[0]])
    addresses = [getattr(m, "email_address", None) for m in found]
    check(PEER in addresses, f"resolve_names found {found}")
    full = account.protocol.resolve_names([PEER], return_full_contact_data=True)
    return {"found": addresses, "full": len(full)}


@step("server time zones", needs=["version"])
def _():
    account = state["account"]
    zones = list(account.protocol.get_timezones())
    check(len(zones) > 10, f"{len(zones)} time zones")
    return {"count": len(zones), "first": str(zones[0])[:80]}


# ---- more of a day's work ----


@step("reply and forward", needs=["version"])
def _():
    account = state["account"]
    deliver(f"Question {RUN}")
    original = account.inbox.get(subject=f"Question {RUN}")
    original.reply(subject=f"Re: Question {RUN}", body="An answer")
    original.forward(subject=f"Fw: Question {RUN}", body="See below", to_recipients=[Mailbox(email_address=PEER)])
    sent = wait_for(lambda: sorted(i.subject for i in account.sent.filter(subject__contains=f"Question {RUN}")), "the sent reply and forward")
    check(len(sent) == 2, f"sent items: {sent}")
    outbound = [o for o in control("GET", "/outbound") if f"Question {RUN}" in o["subject"]]
    check(outbound, "the reply did not go out to the sender")
    return {"sent": sent, "outbound": len(outbound)}


@step("extended property", needs=["version"])
def _():
    account = state["account"]

    class LiaisonTag(ExtendedProperty):
        distinguished_property_set_id = "PublicStrings"
        property_name = "LiaisonTag"
        property_type = "String"

    try:
        Message.register("liaison_tag", LiaisonTag)
    except ValueError:
        pass
    try:
        item = Message(account=account, folder=account.drafts, subject=f"Tagged {RUN}", liaison_tag="crm-42")
        item.save()
        back = account.drafts.get(subject=f"Tagged {RUN}")
        check(back.liaison_tag == "crm-42", f"extended property reads back {back.liaison_tag!r}")
        return {"liaison_tag": back.liaison_tag}
    finally:
        Message.deregister("liaison_tag")


@step("empty folder", needs=["move target"])
def _():
    target = state["move target"]
    target.empty()
    check(target.all().count() == 0, "items left after empty()")
    target.delete()
    return {"emptied": True}


@step("mark as junk", needs=["version"])
def _():
    account = state["account"]
    deliver(f"Junk {RUN}")
    item = account.inbox.get(subject=f"Junk {RUN}")
    item.mark_as_junk(is_junk=True, move_item=True)
    check(account.junk.filter(subject=f"Junk {RUN}").count() == 1, "not in Junk Email")
    return {"junk": True}


@step("out of office", needs=["version"])
def _():
    account = state["account"]
    oof = account.oof_settings
    return {"state": oof.state}


@step("version guess from the newest", needs=["version"])
def _():
    # What exchangelib does without the hint Autodiscover gives: ask with the newest version it knows
    # (Exchange2019) and step down on the answer Exchange gives to a version it does not know.
    from exchangelib.version import Version

    protocol = state["account"].protocol
    known = protocol.config.version
    try:
        guessed = Version.guess(protocol, api_version_hint=None)
        check(guessed.api_version == "Exchange2016", f"guessed {guessed.api_version}")
        return {"api": guessed.api_version, "build": str(guessed.build)}
    finally:
        protocol.config.version = known


failed = [r["step"] for r in results if not r["ok"]]
emit({"done": True, "failed": failed, "connections": sorted({f"{h}:{p}" for h, p in sandbox_names.CONNECTIONS})})
sys.exit(1 if failed else 0)
