"""The customer's language, auto-close and the satisfaction vote, through the SMTP listener."""

from __future__ import annotations

from pathlib import Path

import pytest
from freezegun import freeze_time

from mailgate import locales
from mailgate.config import Target, load_config
from mailgate.logs import configure_logging
from mailgate.render import Renderer, sample_context
from tests.configs import ROOT, merge, write_config
from tests.conftest import RunningDaemon, make_mail
from tests.test_conversation import TEAM, body, deliver, mails
from tests.test_sla import REAL_TIME, SLA

GERMAN = ("Guten Tag,\n\nseit heute Morgen druckt der Drucker im dritten Stock nur leere "
          "Seiten. Wir haben den Toner schon gewechselt, aber es ist nicht besser. Bitte "
          "helfen Sie uns, das ist dringend für die Buchhaltung.\n\nMit freundlichen Grüßen\n"
          "Jörg Weber\n")


def test_german_customer_gets_german_ack_with_german_sla_wording(tmp_path: Path) -> None:
    """A German mail on Friday 13:30 Moscow time is acknowledged in German: "innerhalb von
    8 Arbeitsstunden, spätestens Montag, 16. März 2026, 12:30 Uhr MSK"."""
    config = load_config(write_config(tmp_path, merge(SLA, TEAM)))
    configure_logging(config.logging)
    with freeze_time("2026-03-13 10:30:00", ignore=REAL_TIME):
        daemon = RunningDaemon(config).start()
        try:
            deliver(daemon, make_mail("Drucker druckt leere Seiten", body=GERMAN,
                                      sender="Jörg Weber <joerg@example.de>"))
            [ack] = mails(daemon, "joerg@example.de")
        finally:
            daemon.stop()
    text = body(ack)
    assert text.startswith("Guten Tag Jörg Weber,")
    assert "unter der Ticketnummer SUP-000001 erfasst" in text
    assert "innerhalb von 8 Arbeitsstunden, spätestens Montag, 16. März 2026, 12:30 Uhr MSK" \
        in text
    assert "es zählen nur unsere Arbeitszeiten, Zeitzone Europe/Moscow" in text
    assert "working" not in text and "within" not in text


@pytest.mark.parametrize(("language", "target", "phrase"), [
    ("en", "1h", "within 1 working hour"),
    ("de", "3wd", "innerhalb von 3 Arbeitstagen"),
    ("fr", "1.5h", "dans un délai de 1,5 heure ouvrée"),
    ("es", "30m", "en un plazo de 30 minutos laborables"),
    ("it", "1wd", "entro 1 giorno lavorativo"),
    ("nl", "8h", "binnen 8 werkuren"),
    ("sv", "2wd", "inom 2 arbetsdagar"),
    ("ru", "21h", "в течение 21 рабочего часа"),
    ("ru", "3h", "в течение 3 рабочих часов"),
])
def test_sla_wording_per_language(language: str, target: str, phrase: str) -> None:
    """The "within ..." phrase takes each language's plural and case."""
    amount, unit = (target[:-2], "wd") if target.endswith("wd") else (target[:-1], target[-1])
    assert locales.within(Target(float(amount), unit), language) == phrase


def test_russian_counts_and_french_first_of_month() -> None:
    """Russian counts agree with their number; French says "1er" on the first of a month."""
    from datetime import UTC, datetime

    words = [locales.working_time(Target(n, "h"), "ru") for n in (1, 2, 5, 11, 22)]
    assert words == ["1 рабочий час", "2 рабочих часа", "5 рабочих часов",
                     "11 рабочих часов", "22 рабочих часа"]
    first = datetime(2026, 6, 1, 9, 5, tzinfo=UTC)
    assert locales.when(first, "fr") == "lundi 1er juin 2026 à 09 h 05 UTC"
    assert locales.when(first, "ru") == "1 июня 2026 г. (понедельник), 09:05 UTC"


def test_every_shipped_template_renders_in_every_language() -> None:
    """Each customer-facing mail exists in the eight languages and renders without error."""
    renderer = Renderer(ROOT / "templates")
    assert renderer.check() == []
    for name in ("ack", "merged", "relay", "waiting", "resolved"):
        for language in locales.LANGUAGES:
            assert renderer.language_of(name, language) == language, (name, language)
            assert renderer.render(name, sample_context(), language).text.strip()
