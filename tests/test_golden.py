"""Golden decision tests: each folder of ``tests/golden/`` is a conversation and its verdicts.

A case is a folder with ``case.toml`` and the ``.eml`` files it names. Each
``[[mail]]`` is run through the real pipeline steps against a fresh SQLite
store in a temporary folder, with no daemon (milliseconds a mail), and its
``expect`` table is compared with what the steps decided. Adding a case is
adding a folder. Keys of ``case.toml``:

- ``description``: what a user would notice;
- ``config``: TOML text added to the test config (e.g. a ``[conversation]`` policy);
- ``[[mail]]``: ``file`` (an ``.eml`` of the folder), ``rcpt`` (the envelope recipients
  it was delivered for; default the support address), ``at`` (ISO instant it is
  handled at; default one minute after the previous mail), ``before`` (actions
  done half a minute after the previous mail: ``"close SUP-000001"``,
  ``"status SUP-000001 awaiting_reply"``, ``"merge SUP-000002 SUP-000001"``,
  ``"assign SUP-000001 anna"``),
  ``from`` (envelope sender), and ``expect``:
  ``action`` (created, appended, merged, correlated, bounce, duplicate,
  quarantined), ``method`` (token, tag, in-reply-to, references, alert, none,
  duplicate), ``ticket`` (reference the mail landed on), ``role``, ``route``
  (append, reopen, thanks, new, automatic), ``status`` (of that ticket after),
  ``sent`` (kinds of the mail queued, in order), ``reason`` (a part of the
  quarantine reason), ``events`` (kinds that must be among the ticket's new
  events), ``steps`` (names of the steps that recorded a decision, in order),
  ``says`` (a table kind = text, or a list of texts: the text part of the first queued
  mail of that kind contains each, line ends as ``\n``: what its reader is told),
  ``never_says`` (the same, none of the texts: what its reader must not be told),
  ``participants`` (the ticket's people after the mail, sorted addresses: who gets its
  relays).

An ``.eml`` may say ``{{sent:N:KIND}}``: the Message-ID of the first mail of
that kind queued for the N-th mail of the case (to write a reply to it), and
``{{reply:N}}`` the reply-token address of ticket N (with ``reply_tokens`` on; the
secret is in ``GOLDEN_TOKEN_SECRET``), ``{{engineer:N:ADDRESS}}`` the per-engineer reply
address of ticket N that a notification to ADDRESS carries. The desk trusts the
``Authentication-Results`` of ``mx.example.com``: an engineer's mail gives proof with
``Authentication-Results: mx.example.com; dkim=pass header.d=example.com``. A held
(``quarantined``) mail reports ``sent`` and ``events`` too: the team's notice.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mailgate import desk
from mailgate.config import Config, load_config
from mailgate.message import parse
from mailgate.pipeline import Pipeline, Quarantine
from mailgate.render import Renderer
from mailgate.security import engineer_reply_address, reply_address
from mailgate.store import SpoolItem, Store, open_store
from mailgate.store.ops import events_since, high_water, outbox_since
from tests.configs import write_config

GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "case.toml").is_file())
START = datetime.fromisoformat("2026-03-02T09:00:00+01:00")  # a Monday, working hours

GOLDEN_CONFIG = {"team": {"address": "team@example.com",
                           "engineers": {"anna": "anna@example.com", "bo": "bo@example.com"}},
                 "security": {"trusted_authserv_ids": ["mx.example.com"]}}


@dataclass
class Desk:
    """A pipeline, its store and what each mail of the case queued."""

    config: Config
    store: Store
    pipeline: Pipeline
    sent: dict[int, list[dict[str, Any]]]


@pytest.fixture
def make_desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    made: list[Store] = []
    monkeypatch.setenv("GOLDEN_TOKEN_SECRET", "golden-secret-not-for-production")

    def make(extra: str) -> Desk:
        config = load_config(write_config(tmp_path, GOLDEN_CONFIG, tomllib.loads(extra)))
        store = open_store(config)
        made.append(store)
        renderer = Renderer(config.templates_dir)
        return Desk(config, store, Pipeline(config, renderer), {})

    yield make
    for store in made:
        store.close()


@pytest.mark.parametrize("name", CASES)
def test_golden_case(name: str, make_desk: Any) -> None:
    """Every mail of the case is decided as its ``expect`` says."""
    case = tomllib.loads((GOLDEN / name / "case.toml").read_text(encoding="utf-8"))
    assert case.get("description"), f"{name}: case.toml needs a description"
    gate: Desk = make_desk(case.get("config", ""))
    at = START
    for number, mail in enumerate(case["mail"], start=1):
        for action in mail.get("before", []):  # a minute after the previous mail
            _act(gate, action, at + timedelta(seconds=30))
        at = datetime.fromisoformat(mail["at"]) if "at" in mail else at + timedelta(minutes=1)
        raw = _substitute((GOLDEN / name / mail["file"]).read_bytes(), gate)
        got = _run(gate, number, raw, mail.get("from"), at, mail.get("rcpt"))
        expect = mail.get("expect", {})
        wrong = {key: (want, got.get(key)) for key, want in expect.items()
                 if not _matches(key, want, got.get(key))}
        assert not wrong, f"{name}, mail {number} ({mail['file']}): " + "; ".join(
            f"{key}: expected {want!r}, got {have!r}" for key, (want, have) in wrong.items())


def _run(gate: Desk, number: int, raw: bytes, mail_from: str | None,
         now: datetime, rcpt: list[str] | None = None) -> dict[str, Any]:
    """Handle one mail as the processor does, and describe what happened."""
    store, config = gate.store, gate.config
    inbound = parse(raw)
    item = SpoolItem(id=number, received_at=now, channel="smtp", source="smtp",
                     mail_from=mail_from or inbound.from_addr,
                     rcpt_tos=rcpt or [config.support_address], size=len(raw), attempts=1)
    with store.transaction():
        before = {"events": _high(store, "events"), "outbox": _high(store, "outbox")}
        try:
            with store.savepoint("message"):
                outcome = gate.pipeline.handle(store, item, inbound, now,
                                               gate.pipeline.prepare(item, inbound, now))
        except Quarantine as exc:  # held; the team's notice queued as the processor does
            if exc.notice is not None:
                with store.savepoint("notice"):
                    exc.notice(store)
            held = outbox_since(store, before["outbox"])
            gate.sent[number] = held
            return {"action": "quarantined", "reason": str(exc),
                    "sent": [row["kind"] for row in held], "says": _texts(held),
                    "never_says": _texts(held),
                    "events": [e["kind"] for e in events_since(store, before["events"])]}
        sent = outbox_since(store, before["outbox"])
    gate.sent[number] = sent
    got: dict[str, Any] = {"action": outcome.action, "method": outcome.method,
                           "sent": [row["kind"] for row in sent], "says": _texts(sent),
                           "never_says": _texts(sent),
                           "steps": [step for step, _ in outcome.trace],
                           "decisions": dict(outcome.trace)}
    got["role"] = next((what.split(" is the ")[1].split(" ")[0]
                        for step, what in outcome.trace if step == "identify"), None)
    got["route"] = next((what.split(":")[0] for step, what in outcome.trace
                         if step == "route"), None)
    if outcome.ticket_id is not None:
        ticket = store.ticket(outcome.ticket_id)
        got.update(ticket=ticket.reference, status=ticket.status)
        got["participants"] = sorted(p["address"] for p in store.participants(ticket.id))
        got["events"] = [e["kind"] for e in events_since(store, before["events"])
                         if e["ticket"] == ticket.reference]
    return got


def _texts(sent: list[dict[str, Any]]) -> dict[str, str]:
    """The text part of the first queued mail of each kind, as its reader sees it."""
    texts: dict[str, str] = {}
    for row in sent:
        message = message_from_bytes(bytes(row["raw"]), policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        if row["kind"] not in texts and isinstance(body, EmailMessage):
            texts[row["kind"]] = body.get_content()
    return texts


def _matches(key: str, want: Any, have: Any) -> bool:
    if key in ("says", "never_says"):
        found = [part in have.get(kind, "").replace("\r\n", "\n")
                 for kind, texts in want.items()
                 for part in ([texts] if isinstance(texts, str) else texts)]
        return have is not None and (all(found) if key == "says" else not any(found))
    if key == "reason":
        return have is not None and str(want) in have
    if key == "events":
        return have is not None and all(kind in have for kind in want)
    return bool(want == have)


def _high(store: Store, table: str) -> int:
    return int(high_water(store)[table])


def _act(gate: Desk, action: str, now: datetime) -> None:
    verb, *refs = action.split()
    store = gate.store
    tickets = [store.ticket_by_reference(ref) for ref in refs if "-" in ref]
    with store.transaction():
        if verb == "close":
            desk.set_status(gate.config, store, tickets[0], "closed", actor="golden",
                            why="case setup", now=now)
        elif verb == "status":
            status = refs.pop()
            desk.set_status(gate.config, store, store.ticket_by_reference(refs[0]), status,
                            actor="golden", why="case setup", now=now)
        elif verb == "assign":  # "assign SUP-000001 anna": notices go to that engineer
            desk.assign(gate.config, store, tickets[0], refs[-1], actor="golden", now=now)
        elif verb == "merge":
            desk.merge(gate.config, store, tickets[0], tickets[1], actor="golden",
                       why="case setup", now=now)
        else:
            raise AssertionError(f"unknown action {action!r}")


def _substitute(raw: bytes, gate: Desk) -> bytes:
    """``{{sent:N:KIND}}`` -> the Message-ID of that queued mail; ``{{reply:N}}`` -> the
    reply-token address of ticket N."""
    while b"{{reply:" in raw:
        head, _, rest = raw.partition(b"{{reply:")
        number, _, tail = rest.partition(b"}}")
        ticket = int(number)
        address = reply_address(gate.config, ticket, gate.pipeline.tags.reference(ticket))
        raw = head + address.encode() + tail
    while b"{{engineer:" in raw:
        head, _, rest = raw.partition(b"{{engineer:")
        spec, _, tail = rest.partition(b"}}")
        number, recipient = spec.decode().split(":")
        address = engineer_reply_address(gate.config, int(number),
                                         gate.pipeline.tags.reference(int(number)), recipient)
        raw = head + address.encode() + tail
    while b"{{sent:" in raw:
        head, _, rest = raw.partition(b"{{sent:")
        spec, _, tail = rest.partition(b"}}")
        number, kind = spec.decode().split(":")
        row = next(r for r in gate.sent[int(number)] if r["kind"] == kind)
        raw = head + row["message_id"].encode() + tail
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
