"""A "still" with a negation right after it in the text ("immer noch nicht öffnen") is a
persisting fault: the same sender's reminder within the hour joins the open ticket (user8
U12), in each language of the lexicon; an asset tag is a thing, not an error code (U3)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from mailgate.repeats import Mail, compare

AT = datetime(2026, 3, 2, 9, 0)
SENDER = "kim.berg@kunde.example"

#: (first subject, first text, second subject, second text) per language.
STILL_NOT = {
    "en": ("Outlook crashes on startup", "Outlook crashes as soon as I start it.",
           "Outlook not working", "Outlook still doesn't open, it shows an error now."),
    "de": ("Outlook stürzt beim Start ab", "Seit dem Update stürzt Outlook beim Start ab.",
           "Outlook geht nicht", "Outlook lässt sich immer noch nicht öffnen."),
    "fr": ("Outlook plante au démarrage", "Outlook plante dès que je le lance.",
           "Outlook ne marche pas", "Outlook ne s'ouvre toujours pas, j'ai un message."),
    "es": ("Outlook se cierra al abrir", "Outlook se cierra nada más abrirlo.",
           "Outlook no funciona", "Outlook todavía no abre, sale un aviso."),
    "nl": ("Outlook crasht bij opstarten", "Outlook crasht meteen bij het opstarten.",
           "Outlook werkt niet", "Outlook gaat nog steeds niet open."),
    "sv": ("Outlook kraschar vid start", "Outlook kraschar direkt när jag startar det.",
           "Outlook fungerar inte", "Outlook går fortfarande inte att öppna."),
    "ru": ("Outlook падает при запуске", "Outlook падает сразу при запуске.",
           "Outlook не работает", "Outlook всё ещё не открывается."),
}


@pytest.mark.parametrize("lang", sorted(STILL_NOT))
def test_still_not_in_the_text_within_the_hour_merges(lang: str) -> None:
    """One crash, two mails minutes apart: one ticket, not a second one linked."""
    subject1, text1, subject2, text2 = STILL_NOT[lang]
    verdict = compare(Mail(SENDER, subject1, text1, AT),
                      Mail(SENDER, subject2, text2, AT + timedelta(minutes=3)))
    assert verdict.same, verdict.reason


def test_still_not_of_another_matter_does_not_merge() -> None:
    """A "still not" about the signature under a subject of its own is another request."""
    verdict = compare(
        Mail(SENDER, "Outlook stürzt beim Start ab", "Outlook stürzt beim Start ab.", AT),
        Mail(SENDER, "Outlook Signatur", "In Outlook ist immer noch nicht meine neue "
             "Signatur hinterlegt, bitte ändern.", AT + timedelta(minutes=3)))
    assert not verdict.same, verdict.reason


@pytest.mark.parametrize("text", [
    "Could you send a new mouse for PC-0042?",
    "Könnten Sie für den PC-0042 noch eine zweite Tastatur bestellen?",
])
def test_request_for_a_tagged_device_does_not_merge(text: str) -> None:
    """A request for something new for the device named in a fault is not that fault."""
    verdict = compare(
        Mail(SENDER, "PC-0042 does not boot", "PC-0042 at reception does not boot.", AT),
        Mail(SENDER, "Request for PC-0042", text, AT + timedelta(minutes=20)))
    assert not verdict.same, verdict.reason


def test_same_error_code_still_merges() -> None:
    """An error code shown by a message stays strong evidence (not an asset tag)."""
    verdict = compare(
        Mail(SENDER, "Fehler beim Buchen", 'Beim Buchen kommt "Fehler BU-4021".', AT),
        Mail(SENDER, "Buchung", "Jetzt wieder Fehler BU-4021 bei der Buchung.",
             AT + timedelta(hours=3)))
    assert verdict.same, verdict.reason
    assert "a shared code (bu-4021)" in verdict.reason
