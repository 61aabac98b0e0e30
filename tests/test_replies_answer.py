"""Short answers to the engineer's closing question (``mailgate.replies.answer``, #16).

Each text is a reply to a closed ticket, top-posted above the engineer's quoted mail; what
a user notices is whether the ticket stays closed (thanks) or reopens. The same answer
word means "all is well" below one question and "not done" below another; an answer with
more than thanks after it, a pleasantry that starts with an answer word ("No problem")
and a word that is "yes" in one language and "thanks" in another are read the usual way.
"""

from __future__ import annotations

import json

import pytest

from mailgate.message import parse
from mailgate.replies import Understanding, understand


@pytest.fixture(scope="module")
def understanding() -> Understanding:
    return Understanding.load()


def _reply(answer: str, question: str) -> bytes:
    quoted = "\n".join(f"> {line}" for line in (
        "Hi Karin,", "", "we replaced the fuser unit; the printer prints again.", question,
        "", "Anna"))
    return ("From: Karin Lund <karin@acme.se>\nTo: support@example.com\n"
            "Subject: Re: [SUP-000001] Printer\nMessage-ID: <a-1@acme.se>\nMIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n"
            f"{answer}\n\nOn Tue, 3 Mar 2026 at 08:40, Example Support <support@example.com>"
            f" wrote:\n{quoted}\n").encode()


CASES = [  # (answer, question, stays closed)
    ("Yes", "Can we close the ticket?", True),
    ("Ja, passt", "Können wir das Ticket schließen?", True),
    ("はい、ありがとうございます。", "チケットをクローズしてもよろしいでしょうか？", True),
    ("Evet", "Talebi kapatabilir miyiz?", True),
    ("Nope, all good", "Is there anything else we can do for you?", True),
    ("Nei takk", "Er det noe mer vi kan hjelpe med?", True),
    ("Nej tack", "Ska vi uppdatera de andra datorerna också?", True),
    ("No, all good now. Thanks!", "Do you still get the error?", True),
    ("Tak", "Er der andet, vi kan hjælpe med?", True),  # Danish "thanks", not Polish "yes"
    ("No problem, thanks!", "Is there anything else we can do for you?", True),
    ("Ok, thanks", "Is there anything else we can do for you?", True),
    ("No, not yet", "Can we close the ticket?", False),
    ("Не совсем", "Теперь у всех работает?", False),
    ("Ещё нет, спасибо", "Можно закрыть заявку?", False),
    ("No", "Did the new invoice arrive?", False),
    ("Tak", "Czy możemy pomóc w czymś jeszcze?", False),  # Polish "yes": something else
    ("Ja tack", "Ska vi uppdatera de andra datorerna också?", False),
    ("Yes", "Do you still get the error?", False),
    ("Yes, but only in Chrome", "Does it work for all users now?", False),
    ("Yes", "Which browser do you use?", False),  # no known kind: no thanks, reopens
    ("Yes. We also need a second licence for Tom", "Can we close the ticket?", False),
]


@pytest.mark.parametrize(("answer", "question", "closed"), CASES,
                         ids=[f"{c[0][:20]}|{c[1][:20]}" for c in CASES])
def test_answer_read_with_its_question(understanding: Understanding, answer: str,
                                       question: str, closed: bool) -> None:
    verdict = understand(understanding, parse(_reply(answer, question)))
    assert verdict.thanks_only is closed, verdict.reason


def test_reason_names_the_answer_and_the_question(understanding: Understanding) -> None:
    """``mailgate explain`` and the ticket's event say which answer to which question."""
    verdict = understand(understanding, parse(_reply("Yes", "Can we close the ticket?")))
    assert "'Yes'" in verdict.reason and "Can we close the ticket?" in verdict.reason


def test_unquoted_answer_reads_our_last_mail(understanding: Understanding) -> None:
    """A "Yes" that quotes nothing answers the question of the latest mail we sent."""
    raw = _reply("Yes", "x").split(b"\n\nOn Tue")[0] + b"\n"
    ours = ["Hi Karin,\n\nthe printer prints again. Does it work for everyone now?\n\nAnna"]
    assert understand(understanding, parse(raw), ours=ours).thanks_only
    assert not understand(understanding, parse(raw)).thanks_only


def _mail(head: str, body: bytes) -> bytes:
    return (b"From: Karin Lund <karin@acme.se>\nTo: support@example.com\nSubject: Re: x\n"
            b"Message-ID: <r-1@acme.se>\nMIME-Version: 1.0\n" + head.encode() + b"\n\n" + body)


@pytest.mark.parametrize(("emoji", "closed"), [("👍", True), ("👍🏽", True), ("🙏", True),
                                               ("👎", False), ("😡", False), ("😢", False)])
def test_reaction_part_alone(understanding: Understanding, emoji: str, closed: bool) -> None:
    """A reaction that is the whole message (no text part at all) says its emoji."""
    raw = _mail("Content-Type: text/vnd.google.email-reaction+json; charset=UTF-8\n"
                "Content-Transfer-Encoding: 8bit",
                json.dumps({"emoji": emoji, "version": 1}).encode())
    assert understand(understanding, parse(raw)).thanks_only is closed


@pytest.mark.parametrize(("text", "closed"), [
    ("Karin Lund reacted to your message:\n\n👍", True),
    ("Karin Lund hat auf Ihre Nachricht reagiert: 🙏", True),
    ("Karin Lund reacted to your message:\n\n👎", False),
    ("Karin reacted to your fix 👍 but the printer in room 4 still jams", False),
])
def test_reaction_notice_without_its_part(understanding: Understanding, text: str,
                                          closed: bool) -> None:
    """A notice with no machine-readable part is read by its emoji, and only when it
    holds nothing else."""
    raw = _mail("Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit",
                text.encode())
    assert understand(understanding, parse(raw)).thanks_only is closed


@pytest.mark.parametrize(("answer", "question", "closed"), [
    ("Yes", "Is there anything that still does not work?", False),
    ("No", "Is there anything that still does not work?", True),
    ("Yes", "Can we close the ticket, or is the error still there?", False),
    ("Ja", "Gibt es nichts mehr zu tun?", False),  # a negative question: "ja" is open
])
def test_question_that_asks_about_a_fault(understanding: Understanding, answer: str,
                                          question: str, closed: bool) -> None:
    """A question about a remaining fault turns "yes" into a report of it; one that mixes
    it with the close, or asks in the negative, leaves the bare answer unread (reopens)."""
    verdict = understand(understanding, parse(_reply(answer, question)))
    assert verdict.thanks_only is closed, verdict.reason
