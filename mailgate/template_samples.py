"""Sample variables for each kind of template, in the variants ``Renderer.check`` renders.

Each kind of mail gets exactly the variables its call site passes (``ack`` and
``merged``: respond.welcome; ``notification``, ``relay``, ``command_error``,
``relay_notice``: conversation; ``reminder``: reminders; ``waiting`` and ``resolved``:
resolution), so a template using another kind's variable (``files`` in the
acknowledgement) fails the check as it would fail on a customer's mail. Then
each optional value is set to what a real mail may give (None, "", []) one at a
time, and each value of a switch (``what``, ``auto``, ``sla.breached``) is
tried, so a typo in a branch the full sample never takes is found as well.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

OPENED = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)

# Values that real mail may leave empty, per kind (dotted paths into the context).
_TICKET_OPTIONAL: dict[str, Any] = {"ticket.requester_name": None, "ticket.assignee": None,
                    "ticket.category": None, "ticket.sla_level": None,
                    "ticket.first_response_due": None, "ticket.fields": {},
                    "ticket.subject": ""}
_MESSAGE_OPTIONAL: dict[str, Any] = {"message.from_name": None, "message.subject": "",
                                     "message.text": ""}
OPTIONAL: dict[str, dict[str, Any]] = {
    "ack": {**_TICKET_OPTIONAL, **_MESSAGE_OPTIONAL, "related": None,
            "ticket.sla_description": "", "sla.description": "", "sla.resolution": None,
            "sla.resolution_within": None},
    "notification": {**_TICKET_OPTIONAL, **_MESSAGE_OPTIONAL, "reason": "", "files": [],
                     "message.copied": []},
    "relay": {**_TICKET_OPTIONAL, "files": [], "engineer.name": ""},
    "command_error": {**_TICKET_OPTIONAL, "subject": ""},
    "relay_notice": {**_TICKET_OPTIONAL, "subject": ""},
    "reminder": {"ticket.subject": ""},
    "waiting": {**_TICKET_OPTIONAL},
    "resolved": {**_TICKET_OPTIONAL, "rating": {"asked": False, "links": []}},
}
OPTIONAL["ack"]["recipient.name"] = None
OPTIONAL["merged"] = OPTIONAL["ack"]
# Values that choose a branch: each is tried.
SWITCHES: dict[str, dict[str, tuple[Any, ...]]] = {
    "ack": {"sla.working_time_only": (True, False)},
    "notification": {"what": ("new", "reply", "duplicate", "thanks", "bounce", "held",
                              "notice")},
    "reminder": {"sla.breached": (False, True),
                 "sla.clock": ("first response", "resolution")},
    "resolved": {"auto": (False, True)},
    "relay_notice": {"relayed": (False, True)},
}
SWITCHES["merged"] = SWITCHES["ack"] | {"colleague": (False, True)}


def sample_contexts(kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(what is special about it, variables) for each variant of ``kind``; a file of no
    known kind (an included part, say) gets ``union_context`` once."""
    if kind not in OPTIONAL:
        yield "", union_context()
        return
    full = _full(kind)
    yield "", full
    empty = copy.deepcopy(full)
    for path, value in OPTIONAL[kind].items():
        yield f"{path} is {value!r}", _with(full, path, value)
        _set(empty, path, value)
    yield "every optional value is empty", empty
    for path, values in SWITCHES.get(kind, {}).items():
        for value in values:
            yield f"{path} is {value!r}", _with(full, path, value)
            yield f"{path} is {value!r} and every optional value is empty", \
                _with(empty, path, value)


def _with(context: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(context)
    _set(changed, path, value)
    return changed


def _set(context: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for key in parents:
        context = context[key]
    context[last] = copy.deepcopy(value)


def _full(kind: str) -> dict[str, Any]:
    """Every variable the call site of ``kind`` passes, each with a value."""
    union = union_context()
    base = {"gateway": union["gateway"], "ticket": _ticket(union)}
    if kind in ("ack", "merged"):
        ticket = base["ticket"] | {"sla_description": union["ticket"]["sla_description"]}
        sla = {k: v for k, v in union["sla"].items()
               if k not in ("clock", "due", "point", "breached", "overdue")}
        message = {k: v for k, v in union["message"].items() if k != "copied"}
        return base | {"ticket": ticket, "sla": sla, "message": message,
                       "related": union["related"], "recipient": union["recipient"],
                       "colleague": False}
    if kind == "notification":
        return base | {"what": "new", "reason": "Likely related to SUP-000122",
                       "message": union["message"], "files": union["files"]}
    if kind == "relay":
        return base | {"engineer": union["engineer"], "text": union["text"],
                       "files": union["files"]}
    if kind == "command_error":
        return base | {"errors": union["errors"], "subject": union["subject"]}
    if kind == "relay_notice":
        return base | {"subject": union["subject"], "relayed": True,
                       "problems": union["problems"]}
    if kind == "reminder":
        ticket = {k: base["ticket"][k] for k in ("reference", "subject", "status", "requester")}
        sla = {k: union["sla"][k] for k in ("level", "clock", "due", "point", "breached",
                                            "overdue")}
        return base | {"ticket": ticket, "sla": sla}
    if kind == "waiting":
        return base | {"close_at": union["close_at"]}
    return base | {"auto": False, "rating": union["rating"]}  # resolved


def _ticket(union: dict[str, Any]) -> dict[str, Any]:
    """The ``ticket`` variable as ``conversation.ticket_context`` builds it."""
    keys = ("reference", "subject", "status", "sla_level", "requester", "requester_name",
            "priority", "category", "assignee", "first_response_due", "created_at", "fields")
    return {k: union["ticket"][k] for k in keys} | {"assignee": "alice@example.com"}


def union_context() -> dict[str, Any]:
    """Every variable of every kind together, for previews and template parts."""
    opened = OPENED
    return {
        "gateway": {"name": "Example Support", "address": "support@example.com"},
        "ticket": {
            "reference": "SUP-000123",
            "subject": "Printer on floor 3 prints blank pages",
            "status": "open",
            "sla_level": "standard", "priority": "normal", "category": "incident",
            "assignee": None, "fields": {"version": "8.3.1"},
            "sla_description": "Standard support",
            "first_response_due": opened + timedelta(hours=8),
            "created_at": opened,
            "requester": "customer@example.org",
            "requester_name": "Casey Customer",
        },
        "sla": {
            "level": "standard", "description": "Standard support",
            "first_response": "8 working hours", "resolution": "40 working hours",
            "first_response_within": "within 8 working hours",
            "resolution_within": "within 40 working hours",
            "timezone": "Europe/Moscow", "calendar": "moscow", "working_time_only": True,
            "clock": "first response", "due": opened + timedelta(hours=8), "point": 0.75,
            "breached": False, "overdue": "2 h 5 min",
        },
        "what": "new",
        "related": {"reference": "SUP-000122"},  # ack: linked as likely the same problem
        "recipient": {"name": "Casey Customer"},  # ack, merged: whom the mail greets
        "colleague": False,  # merged: a colleague's report joined the requester's ticket
        "reason": "",  # notification: why a mail was held, or what a new ticket is linked to
        "close_at": opened + timedelta(days=7),  # waiting: when auto-close will close it
        "auto": False,  # resolved: closed by auto-close rather than by a person
        "rating": {"asked": True, "links": [
            {"value": n, "label": label, "mailto": f"mailto:support@example.com?subject="
             f"%5BSUP-000123%5D%20{n}&body={n}"}
            for n, label in ((5, "excellent"), (4, "good"), (3, "fair"), (2, "poor"),
                             (1, "bad"))]},
        "engineer": {"name": "Alice"},
        "text": "We replaced the toner; please try again.",
        "errors": ["unknown command #stauts"],
        "relayed": True,  # relay_notice: the rest of the reply reached the customer
        "problems": ["setup.exe (1843200 bytes): not passed on: .exe files can run code "
                     "(outbound.blocked_extensions)"],
        "subject": "Re: [SUP-000123] Printer on floor 3 prints blank pages",
        "files": [
            {"number": 1, "filename": "screenshot.png", "content_type": "image/png",
             "size": 48213, "attached": True, "why": ""},
            {"number": 2, "filename": "setup.exe", "content_type": "application/x-msdownload",
             "size": 1843200, "attached": False,
             "why": "not passed on: .exe files can run code (outbound.blocked_extensions)"},
        ],
        "message": {
            "copied": ["tech@example.org"],  # notification only
            "from_addr": "customer@example.org",
            "from_name": "Casey Customer",
            "subject": "Printer on floor 3 prints blank pages",
            "text": "Hello,\nthe printer prints blank pages since this morning.\n",
        },
    }
