"""Repeat reports, public mail domains, colleagues: the pieces below the pipeline steps.

The decisions themselves are golden cases (``repeat-*``, ``colleague-*``,
``message-id-reused``); here: the comparison's verdicts and reasons, the public
domain list and its extension by the admin, the config keys, and the two store
queries (on SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from mailgate import clock
from mailgate.config import Config, load_config
from mailgate.domains import is_public, organisation
from mailgate.duplicates import repeats
from mailgate.errors import ConfigError
from mailgate.message import parse
from mailgate.pipeline import Pipeline
from mailgate.render import Renderer
from mailgate.repeats import Mail, asks_anew, compare, concepts
from mailgate.store import SpoolItem, Store, open_store
from tests.configs import write_config
from tests.pgserver import PgServer

AT = datetime.fromisoformat("2026-03-02T09:00:00+01:00")


def _mail(subject: str, text: str, minutes: int = 0,
          sender: str = "tom.baker@brightwave.co.uk") -> Mail:
    return Mail(sender, subject, text, AT + timedelta(minutes=minutes))


FIRST = _mail("VPN drops every 10 minutes",
              "Our VPN connection to vpn2.brightwave.co.uk drops every ten minutes since "
              "the client update to 5.2.1. The finance team has to log in each time.\n\n"
              "Best regards,\nTom Baker\nBrightwave Ltd")


def test_a_reworded_repeat_is_the_same_problem_with_its_score_and_terms() -> None:
    """A short reminder in other words joins; the reason names the score and shared terms."""
    verdict = compare(FIRST, _mail("disconnects on vpn2",
                                   "Still getting kicked off vpn2 every few minutes.", 40))
    assert verdict.same
    assert "score" in verdict.reason and "vpn2" in verdict.reason


def test_a_host_named_in_part_and_a_plural_code_are_the_same_identifiers() -> None:
    """"gw2" names the gateway vpn-gw2.example.com; "502s" are 502 errors."""
    first = _mail("API returns 502", "Since 03:12 api.eu-west.example.com answers 502 Bad "
                  "Gateway for a third of our calls; gateway vpn-gw2.brightwave.co.uk too.")
    verdict = compare(first, _mail("502s continuing", "Still 502s, now on most calls, and "
                                   "gw2 keeps timing out.", 30))
    assert verdict.same and "502" in verdict.reason and "gw2" in verdict.reason


def test_another_problem_with_the_same_host_is_not() -> None:
    """Same person, same VPN host, another matter (the certificate): no merge."""
    verdict = compare(FIRST, _mail("VPN certificate expires next week",
                                   "The certificate of vpn2.brightwave.co.uk expires on "
                                   "14 March. Can you renew it in time?", 30))
    assert not verdict.same


def test_a_mail_announcing_another_matter_is_never_merged() -> None:
    """'Separate issue' wins over any likeness."""
    verdict = compare(FIRST, _mail("VPN drops every 10 minutes",
                                   "Separate issue: the VPN client 5.2.1 asks for a licence.",
                                   20))
    assert not verdict.same and "another matter" in verdict.reason


@pytest.mark.parametrize("subject, text", [
    ("Schichtplan für März", "Könnt ihr den Schichtplan für März im Portal freischalten? "
     "Unabhängig davon bricht das VPN zu vpn2 immer noch alle zehn Minuten ab, Client 5.2.1."),
    ("Nieuwe medewerker", "Voor de nieuwe collega hebben we een account nodig. Los daarvan "
     "valt de VPN naar vpn2 nog steeds elke tien minuten weg (client 5.2.1)."),
    ("Доступ для стажёра", "Нужен доступ к порталу для стажёра. VPN vpn2 по-прежнему "
     "отключается каждые 10 минут (клиент 5.2.1), но это отдельная заявка."),
])
def test_the_first_problem_mentioned_beside_a_new_request_is_no_merge(
        subject: str, text: str) -> None:
    """A mail about something new that mentions, apart from that, that the first problem
    persists ("still", "nog steeds", "по-прежнему") is another matter, not a follow-up
    (without "unabhängig davon", "los daarvan", "отдельная заявка" each of these merges)."""
    verdict = compare(FIRST, _mail(subject, text, 60))
    assert not verdict.same and "another matter" in verdict.reason


def test_a_colleagues_equal_generic_subject_is_not_the_same_problem() -> None:
    """Two people of one office writing "Scanner not working" may mean two scanners; a
    colleague's "AW:" to that subject, or a subject naming the device, does join."""
    first = {"requester": "lena.ritter@ritter-bau.de", "subject": "Scanner not working",
             "text": "The scanner on the 3rd floor jams on every page.",
             "created_at": AT}
    other = Mail("max.kurz@ritter-bau.de", "Scanner not working",
                 "My new laptop does not list any scanner at all.", AT + timedelta(minutes=20))
    verdict = repeats(0.85, first, other)
    assert verdict is None or not verdict[2]
    answered = Mail(other.sender, "AW: Scanner not working", other.text, other.at)
    assert repeats(0.85, first, answered) == (2.0, "same subject ('scanner not working')",
                                              True)
    named = repeats(0.85, dict(first, subject="Scanner SCN-3F-01 not working"),
                    Mail(other.sender, "Scanner SCN-3F-01 not working", other.text, other.at))
    assert named is not None and named[2]


@pytest.mark.parametrize("text, topic, symptom", [
    ("Drucker druckt nicht mehr", "printer", "printing"),
    ("can't print anything since the update", "printer", "printing"),
    ("Storing betaalautomaten in de winkel", "payment", "down"),
    ("Внешние письма не доходят", "email", "delivery"),
    ("Mejl kommer inte fram sedan i morse", "email", "delivery"),
    ("Le VPN est très lent depuis ce matin", "vpn", "slow"),
    ("No puedo iniciar sesión, la contraseña caducada", "login", "login"),
])
def test_concepts_are_named_in_each_language(text: str, topic: str, symptom: str) -> None:
    """The lexicon finds the thing and the symptom whatever the language's words."""
    found = concepts(text)
    assert topic in found.topics and symptom in found.symptoms


def test_a_shared_thing_and_symptom_links_reworded_mail_and_says_so() -> None:
    """Two mails sharing hardly a word but the thing (payment terminal) and the symptom
    (down) are likely one problem: linked with a notice, not merged (the concept lexicon
    alone merged different problems on fresh pairs); the reason names the concepts."""
    first = _mail("Card terminal down at till 2", "Since ten the card terminal at till 2 "
                  "declines every card: 'host unreachable'.")
    verdict = compare(first, _mail("shop on Mill Road", "The PDQ machine shows offline, "
                                   "customers pay cash. Saturday is our busiest day!", 30))
    assert not verdict.same and verdict.related
    assert "shared concepts: down, payment" in verdict.reason
    assert "linked, not merged" in verdict.reason


def test_one_thing_with_other_symptoms_raises_the_bar() -> None:
    """The VPN slow, then the VPN certificate expiring: one thing, two problems."""
    first = _mail("VPN very slow", "The VPN is very slow since this morning, opening a "
                  "drawing takes minutes.")
    verdict = compare(first, _mail("VPN certificate", "The VPN client says its certificate "
                                   "expires on Friday, please renew it.", 20))
    assert not verdict.same and "the same vpn, other symptoms" in verdict.reason


def test_the_signature_and_the_company_are_no_evidence() -> None:
    """Two mails sharing only greetings, the closing, the name and 'not working since this
    morning' are two problems."""
    first = _mail("Problem since this morning", "Hello, the label printer is not working "
                  "since this morning, urgent please.\n\nKind regards\nAnna Kerr\nPinecrest")
    second = _mail("Not working since this morning - urgent", "Hello, urgent: the card "
                   "terminal is not working since this morning.\n\nKind regards\nAnna Kerr\n"
                   "Pinecrest", 30)
    assert not compare(first, second).same


def test_a_colleagues_outage_report_minutes_later_is_related_not_merged() -> None:
    """Two people of one company report one outage in other words ten minutes apart: no
    shared word, one shared concept (a drive, a shared folder: file storage), so no merge,
    but likely enough to link; two hours apart it is just new. Without the shared concept
    ("alles op de server"), nothing ties the two: no link (user7 U7)."""
    first = _mail("P-schijf niet bereikbaar", "De P-schijf is niet bereikbaar: \"Het "
                  "netwerkpad is niet gevonden\".", sender="j.vandam@sluisbouw.nl")
    text = "Ik kan geen enkele tekening meer openen in AutoCAD, alles in de gedeelde map " \
        "op de server geeft een melding."
    soon = compare(first, _mail("Kan tekeningen niet openen", text, 10,
                                sender="a.kok@sluisbouw.nl"))
    assert not soon.same and soon.related and "a colleague reports a problem" in soon.reason
    assert "(both about: files)" in soon.reason
    apart = compare(first, _mail("Kan tekeningen niet openen", "Ik kan geen enkele tekening "
                                 "meer openen in AutoCAD, alles op de server geeft een "
                                 "melding.", 10, sender="a.kok@sluisbouw.nl"))
    assert not apart.same and not apart.related
    late = compare(first, _mail("Kan tekeningen niet openen", text, 120,
                                sender="a.kok@sluisbouw.nl"))
    assert not late.same and not late.related


def test_a_weaker_likeness_is_related_and_says_so() -> None:
    """The same sender, a shared identifier and words, below the merge bar: a link."""
    first = _mail("Nightly stock import failed", "The nightly stock import did not run: "
                  "job 4417 aborted after 212 of 480 rows with \"weight field out of "
                  "range\". Our shop shows yesterday's stock.")
    verdict = compare(first, _mail("question about the import", "The weight unit of the new "
                                   "pallets is kg, the others use grams. Could that be why "
                                   "job 4417 stops?", 120))
    assert not verdict.same and verdict.related
    assert "4417" in verdict.reason and "60% of what a merge needs" in verdict.reason


def test_too_aggressive_is_no_me_too() -> None:
    """A colleague's "too" that ends a clause ("for us too.") is a same-here cue; "too
    aggressive" is not, and a shared workspace ID does not make a new question a repeat."""
    first = _mail("Webhooks - add second endpoint", "How can we register a second webhook "
                  "endpoint for workspace ws_8841c2? The dashboard only edits the existing "
                  "one.", sender="priya@quillstack.io")
    verdict = compare(first, _mail("Webhooks - retries too aggressive", "Your webhook "
                                   "retries hit our endpoint 400 times per minute for "
                                   "ws_8841c2. Can the retry schedule use backoff?", 90,
                                   sender="marcus@quillstack.io"))
    assert not verdict.same and "follows up" not in verdict.reason


def test_a_forward_is_no_follow_up() -> None:
    """"Fwd:" passes on someone else's mail (often another matter): unlike "Re:" it does not
    lower the bar."""
    first = _mail("Fwd: Your DocuSign envelope has been voided", "Why was this envelope "
                  "voided? Buyer needs to sign today.\n\nEnvelope 5E0B7C21 Purchase Agreement "
                  "was voided by the sender.")
    second = ("The signed PDF of this envelope never got attached to the deal in the CRM. "
              "Usually it shows under Documents.\n\nAll parties have completed the "
              "DocuSign envelope Listing Agreement.")
    forwarded = compare(first, _mail("Fwd: Your DocuSign envelope has been completed",
                                     second, 180))
    answered = compare(first, _mail("Re: Your DocuSign envelope has been completed",
                                    second, 180))
    assert "follows up" not in forwarded.reason and not forwarded.same
    assert "follows up" in answered.reason


def test_a_linked_report_is_acknowledged_with_the_other_ticket(tmp_path: Path) -> None:
    """Through the pipeline: the colleague's report opens SUP-000002, both tickets get a
    ``repeat_linked`` event with the score, the team's notice says why, and the
    colleague's acknowledgement does not name the other person's SUP-000001."""
    config = load_config(write_config(tmp_path, {"conversation": {
        "duplicate_scope": "domain"}, "team": {"address": "team@example.com"}}))
    store = open_store(config)
    pipeline = Pipeline(config, Renderer(config.path(config.templates.directory)))
    try:
        for number, (sender, subject, text) in enumerate((
                ("j.vandam@sluisbouw.nl", "P-schijf niet bereikbaar",
                 "De P-schijf is niet bereikbaar: het netwerkpad is niet gevonden."),
                ("a.kok@sluisbouw.nl", "Kan tekeningen niet openen",
                 "Ik kan geen tekening meer openen, alles in de gedeelde map geeft een "
                 "melding.")),
                start=1):
            _handle(store, pipeline, config, number, sender, subject, text,
                    AT + timedelta(minutes=10 * number))
        linked = [e["detail"] for ticket in (1, 2) for e in store.events(ticket)
                  if e["kind"] == "repeat_linked"]
        sent = store.outbox_since(0)
        ack = [r for r in sent if r["kind"] == "ack"][-1]
        notice = [r for r in sent if r["kind"] == "notification"][-1]
    finally:
        store.close()
    assert len(linked) == 2 and all("score" in detail for detail in linked)
    assert "SUP-000001" in linked[1] and "SUP-000002" in linked[0]
    body = message_from_bytes(ack["raw"]).get_payload(decode=True).decode()
    # a colleague's ticket is the colleague's: the ack names only the new ticket
    assert "SUP-000002" in body and "SUP-000001" not in body
    told = message_from_bytes(notice["raw"]).get_payload(decode=True).decode()
    assert "Likely related to SUP-000001, linked: likely related: score" in told


def _handle(store: Store, pipeline: Pipeline, config: Config, number: int, sender: str,
            subject: str, text: str, at: datetime) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "support@example.com", subject
    msg["Date"], msg["Message-ID"] = format_datetime(at), f"<m{number}@sluisbouw.nl>"
    msg.set_content(text)
    raw = msg.as_bytes()
    inbound = parse(raw)
    item = SpoolItem(id=number, received_at=at, channel="smtp", source="smtp",
                     mail_from=sender, rcpt_tos=[config.support_address], size=len(raw),
                     attempts=1)
    with store.transaction():
        pipeline.handle(store, item, inbound, at)


def test_public_domains_shipped_and_extended() -> None:
    """gmail.com and a provider's subdomain are public; an admin's domain is added."""
    assert is_public("gmail.com") and is_public("mail.yandex.ru")
    assert not is_public("acme.se")
    assert is_public("example-isp.net", ["example-isp.net"])
    assert organisation("Karin.Lund@ACME.se") == "acme.se"
    assert organisation("someone@gmx.de") is None
    assert organisation("someone@example-isp.net", ["example-isp.net"]) is None


def test_config_keys_are_checked(tmp_path: Path) -> None:
    """A wrong colleagues value or a public domain that is not one names the key and file."""
    path = tmp_path / "bad.toml"
    path.write_text('[conversation]\ncolleagues = "everyone"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"(?s)bad\.toml.*conversation\.colleagues"):
        load_config(path)
    path.write_text('[conversation]\npublic_domains = ["localhost"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"conversation\.public_domains"):
        load_config(path)
    path.write_text('[conversation]\npublic_domains = ["@Example-ISP.net"]\n',
                    encoding="utf-8")
    assert load_config(path).conversation.public_domains == ["example-isp.net"]


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        opened = Store.open(tmp_path / "mailgate.db", busy_timeout=5)
    else:
        from mailgate.store.postgres import PgStore

        server: PgServer = request.getfixturevalue("pg_server")
        opened = PgStore.open_url(server.database(), password=server.password,
                                  busy_timeout=5)
    yield opened
    opened.close()


def _ticket(store: Store) -> int:
    with store.transaction():
        ticket = store.create_ticket(reference_of="SUP-{:06d}".format, status="open",
                                     subject="s", requester="karin@acme.se",
                                     requester_name=None, sla_level="standard",
                                     now=clock.now())
    return ticket.id


def test_addressed_on_ticket(store: Store) -> None:
    """Cc of an engineer's mail and To of our own count; To/Cc of automatic mail do not."""
    ticket_id, now = _ticket(store), clock.now()
    with store.transaction():
        store.add_message(ticket_id=ticket_id, message_id="<e@x>", direction="in",
                          kind="engineer", now=now, to_addrs=["support@example.com"],
                          cc_addrs=["Lars@Partner.example"])
        store.add_message(ticket_id=ticket_id, message_id="<o@x>", direction="out",
                          kind="reply", now=now, to_addrs=["per@acme.se"])
        store.add_message(ticket_id=ticket_id, message_id="<a@x>", direction="in",
                          kind="automatic", now=now, cc_addrs=["bot@else.example"])
    assert store.addressed_on_ticket(ticket_id, "lars@partner.example")
    assert store.addressed_on_ticket(ticket_id, "per@acme.se")
    assert not store.addressed_on_ticket(ticket_id, "bot@else.example")
    assert not store.addressed_on_ticket(ticket_id, "mallory@other.example")
    later = now + timedelta(minutes=5)
    with store.transaction():  # an engineer's "#cc -per@acme.se": earlier mail counts no more
        store.add_event(ticket_id, "participant_removed", actor="anna@example.com",
                        now=later, detail="per@acme.se removed")
    assert not store.addressed_on_ticket(ticket_id, "per@acme.se")
    with store.transaction():
        store.add_message(ticket_id=ticket_id, message_id="<o2@x>", direction="out",
                          kind="reply", now=later + timedelta(minutes=1), to_addrs=["per@acme.se"])
    assert store.addressed_on_ticket(ticket_id, "per@acme.se")


def test_message_content(store: Store) -> None:
    """What a stored message said, to tell a redelivery from a reused Message-ID."""
    ticket_id = _ticket(store)
    with store.transaction():
        row = store.add_message(ticket_id=ticket_id, message_id="<m@x>", direction="in",
                                kind="customer", now=clock.now(), from_addr="karin@acme.se",
                                subject="Export", body_text="It fails.")
        store.add_attachment(message_row=row, filename="a.txt", content_type="text/plain",
                             data=b"log", sha256="ab" * 32)
    assert store.message_content("<m@x>") == {
        "ticket_id": ticket_id, "direction": "in", "from_addr": "karin@acme.se",
        "subject": "Export", "text": "It fails.", "attachments": ["ab" * 32]}
    assert store.message_content("<none@x>") is None


def test_a_merge_names_its_strong_evidence() -> None:
    """A merge says which strong evidence carried it (here: the same host, "still")."""
    verdict = compare(FIRST, _mail("disconnects on vpn2",
                                   "Still getting kicked off vpn2 every few minutes.", 40))
    assert verdict.same and "strong evidence: the same thing (vpn2" in verdict.reason


@pytest.mark.parametrize(("said", "merged"), [
    ("The VPN on vpn2 works again, thanks. But now Outlook asks for my password every "
     "ten minutes.", False),
    ("VPN on vpn2 still drops every ten minutes, the finance team cannot work.", True),
])
def test_a_problem_said_to_be_over_is_not_merged(said: str, merged: bool) -> None:
    """"works again" says the first problem is over: the mail reports another one (linked
    with the reason); the same words saying it persists merge."""
    verdict = compare(FIRST, _mail("vpn2", said, 60))
    assert verdict.same is merged
    if not merged:
        assert verdict.related and "first problem is over ('works again')" in verdict.reason


def test_still_merges_only_when_a_problem_persists() -> None:
    """"still works" (or "fungerar fortfarande") says nothing persists: with only a shared
    thing and generic words, the pair is linked, not merged."""
    first = _mail("Printer floor 2 jammed", "The big Ricoh printer on floor 2 by the kitchen "
                  "is jammed in the finisher, error SC 792.")
    request = _mail("Printer driver for my new laptop", "Could you install the Ricoh printer "
                    "floor 2 by the kitchen on my new laptop? The old desktop still works.",
                    120)
    verdict = compare(first, request)
    assert not verdict.same
    persists = compare(first, _mail("Printer floor 2", "The Ricoh printer on floor 2 by "
                                    "the kitchen is still jammed, nobody can print.", 120))
    assert persists.same


@pytest.mark.parametrize(("said", "minutes", "linked"), [
    ("Any news? Nobody here can get anything done.", 180, True),
    ("Any news? Nobody here can get anything done.", 14 * 60, False),
    ("My email signature still has the old phone number, can you change it?", 180, False),
])
def test_a_follow_up_sharing_no_word_is_linked_the_same_day(said: str, minutes: int,
                                                             linked: bool) -> None:
    """A sender's "any news?" hours later names nothing of the first mail: linked (not
    merged) the same day; next day, or a "still" that reports no problem, it is not."""
    verdict = compare(FIRST, _mail("Urgent", said, minutes))
    assert not verdict.same
    assert verdict.related is linked
    if linked:
        assert "follows up ('any news')" in verdict.reason


def test_the_comparison_remembers_short_words_and_texts_only() -> None:
    """The repeat comparison remembers stems, token kinds and concepts (an open ticket's first
    mail meets every new mail of its sender), with the same answers; a hostile mail's 20 KB
    "word" or a huge text is worked out but never kept in memory."""
    from mailgate import repeats

    text = "The printer on floor 3 is down again, error E-4711 on PRN-03.\n" * 3
    repeats.concepts.cache_clear()  # type: ignore[attr-defined]  # earlier tests may fill it
    repeats.stem.cache_clear()  # type: ignore[attr-defined]
    before = repeats.concepts.cache_info().currsize  # type: ignore[attr-defined]
    assert repeats.concepts(text) == repeats.concepts(text)
    assert repeats.concepts.cache_info().currsize == before + 1  # type: ignore[attr-defined]
    assert repeats.concepts(text).topics and repeats.concepts(text).symptoms
    huge = "printer down " * 3000  # 39,000 characters
    assert repeats.concepts(huge) == repeats.concepts.__wrapped__(huge)  # type: ignore[attr-defined]
    assert repeats.concepts.cache_info().currsize == before + 1  # type: ignore[attr-defined]
    word = "x" * 20_000
    stems = repeats.stem.cache_info().currsize  # type: ignore[attr-defined]
    assert repeats.stem(word) == word[:repeats.STEM]
    assert repeats.stem("quuxifying") == repeats.stem("quuxifying") == "quuxi"
    assert repeats.stem.cache_info().currsize == stems + 1  # type: ignore[attr-defined]


def test_a_signature_both_mails_end_with_is_no_shared_code() -> None:
    """An inline logo's ``[cid:image001.png@01DA4C2E.5E1A3B90]`` and a footer that close
    both mails are the sender's, not the problem's: another request is no merge, while a
    real shared code above the same signature still merges."""
    footer = ("\n\nTom Baker\nBrightwave Ltd\n\nThis e-mail is confidential.\n\n"
              "[cid:image001.png@01DA4C2E.5E1A3B90]\nFollow us on LinkedIn")
    first = _mail("Payroll export", "The payroll export to the bank stops at 80 % and "
                  "shows nothing else." + footer)
    other = _mail("Meeting room screen", "Could someone move the screen in meeting room "
                  "2 to the other wall?" + footer, 90)
    assert not compare(first, other).same
    coded = _mail("Payroll export", "The payroll export fails with PX-4471." + footer)
    again = compare(coded, _mail("PX-4471", "The export gives PX-4471 again." + footer, 90))
    assert again.same and "px-4471" in again.reason and "01da4c2e" not in again.reason


@pytest.mark.parametrize("text", [
    "Hallo, wir möchten für die neue Filiale in Kiel ein zweites Kassenkonto. Geht das bis "
    "Freitag?",
    "Hej, vi skulle vilja ha ett nytt konto för vår sommarvikarie från måndag.",
])
def test_a_reply_to_an_old_mail_asking_for_something_new_is_not_merged(text: str) -> None:
    """Answering one's own mail ("Re:" its subject) to ask for something new is another
    matter: linked at most, whatever the subject; the same reply saying the problem persists
    still merges."""
    first = {"requester": FIRST.sender, "subject": FIRST.subject, "text": FIRST.text,
             "created_at": AT}
    asked = repeats(0.85, first, _mail("Re: VPN drops every 10 minutes", text, 60))
    assert asked is None or (not asked[2] and "something new" in asked[1])
    persists = repeats(0.85, first, _mail("Re: VPN drops every 10 minutes",
                                          "It still drops, any news?", 60))
    assert persists is not None and persists[2]


def test_a_still_of_a_new_matter_or_of_what_works_is_no_persisting_problem() -> None:
    """A "still" with shared words only (the thing's name) merges only when it is the first
    problem that persists: not under a subject adding its own matter ("- invoice export
    broken"), not in "can still open" (it works); a linked pair either way."""
    first = _mail("Room booking portal - rooms missing", "Since this morning the room "
                  "booking portal lists no rooms for the Leeds office. Yesterday all twelve "
                  "were there.")
    other = compare(first, _mail("Room booking portal - invoice export broken", "The "
                                 "invoice export of the room booking portal still produces "
                                 "an empty spreadsheet for every month.", 120))
    assert not other.same and other.related
    works = compare(first, _mail("Room booking portal", "Colleagues in York can still open "
                                 "the room booking portal and book there.", 120))
    assert not works.same and works.related
    same = compare(first, _mail("Room booking portal", "The room booking portal still "
                                "lists nothing for Leeds, we have to phone around.", 120))
    assert same.same


def test_an_asset_name_says_no_symptom() -> None:
    """The "LAG" of a printer's asset name ZEBRA-LAG-02 (the warehouse, "Lager") is no
    "lag", slow: the engineer's event must not say "the same printer, other symptoms
    (printing against slow)" of a colleague's printer that does not print either (user7
    U7). The numbers of a name still count ("HTTP-503" is a server fault)."""
    first = _mail("Drucker druckt nicht", "Hallo,\n\nder Drucker im Empfang (PRN-EMP-01) "
                  "druckt nicht.\n\nPetra", sender="petra.schmidt@agentur.example")
    second = _mail("Drucker druckt nicht", "Hallo,\n\nbei uns im Lager druckt der "
                   "Etikettendrucker (ZEBRA-LAG-02) auch nicht.\n\nJan", 2,
                   sender="jan.vogel@agentur.example")
    verdict = compare(first, second)
    assert "slow" not in verdict.reason and "other symptoms" not in verdict.reason
    assert "slow" not in concepts("ZEBRA-LAG-02 im Lager").symptoms
    assert "slow" in concepts("the app is laggy today").symptoms
    assert "down" in concepts("the portal answers HTTP-503 since 9:00").symptoms


@pytest.mark.parametrize(("text", "asks"), [
    ("The new PC doesn't have any printers yet. Could you add WG-PRN02? Not urgent.",
     "could you add"),
    ("Der neue Rechner hat noch keinen Drucker. Könnten Sie ihn hinzufügen? Keine Eile.",
     "hinzufügen"),
    ("Нового сотрудника ещё нет в системе, не могли бы вы добавить его? Не срочно.",
     "добавить"),
    ("Outlook won't open on the new laptop, can you install it again?", None),
    ("Принтер не печатает, можете установить драйвер заново?", None),
    ("Impossible d'ouvrir la caisse, pourriez-vous la configurer à nouveau ?", None),
])
def test_a_negation_alone_reports_no_problem_beside_a_request(text: str,
                                                              asks: str | None) -> None:
    """A mail asking for something new ("could you add", "hinzufügen") that says "not
    urgent" or "doesn't have any printers yet" reports no problem: a negation by itself is
    none (tenth session, blind eval9: a printer to set up on a new PC merged into that
    printer's jam); a problem phrase or a symptom of the lexicon ("won't open", "не
    печатает") is one, and such a mail is no new request."""
    assert asks_anew(text) == asks
