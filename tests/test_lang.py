"""The customer's language, auto-close and the satisfaction vote, through the SMTP listener."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from freezegun import freeze_time

from mailgate import autoclose, locales
from mailgate.config import Target, load_config
from mailgate.defaults import TEMPLATES
from mailgate.logs import configure_logging
from mailgate.render import Renderer, sample_context
from tests.configs import merge, update_config, write_config
from tests.conftest import RunningDaemon, make_mail
from tests.support import wait_until
from tests.test_conversation import CUSTOMER, OUR_MTA_PASS, TEAM, body, deliver, mails, reply
from tests.test_ops import scrape
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


@pytest.mark.parametrize(("language", "target", "phrase"), [
    ("en", "4m", "within 4 minutes"),
    ("de", "3wd", "innerhalb von 3 Tagen"),
    ("fr", "1.5h", "dans un délai de 1,5 heure"),
    ("es", "30m", "en un plazo de 30 minutos"),
    ("nl", "8h", "binnen 8 uur"),
    ("sv", "2wd", "inom 2 dagar"),
    ("ru", "21h", "в течение 21 часа"),
    ("ru", "5m", "в течение 5 минут"),
])
def test_sla_wording_on_a_24x7_calendar(language: str, target: str, phrase: str) -> None:
    """On a 24x7 calendar every minute counts: no "working" minutes, hours or days."""
    amount, unit = (target[:-2], "wd") if target.endswith("wd") else (target[:-1], target[-1])
    assert locales.within(Target(float(amount), unit), language, working=False) == phrase


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
    renderer = Renderer(TEMPLATES)
    assert renderer.check() == []
    for name in ("ack", "merged", "relay", "waiting", "resolved"):
        for language in locales.LANGUAGES:
            assert renderer.language_of(name, language) == language, (name, language)
            assert renderer.render(name, sample_context(), language).text.strip()


# -- auto-close ----------------------------------------------------------------------------

AUTO_CLOSE = merge(TEAM, {"conversation": {"auto_close_after": "7d",
                                           "resolved_mail": "notice"}})


def _to_awaiting_reply(daemon: RunningDaemon, customer: str) -> None:
    """A German customer's request, then the engineer's question with #status awaiting_reply."""
    deliver(daemon, make_mail("Drucker druckt leere Seiten", body=GERMAN, sender=customer))
    deliver(daemon, make_mail("Re: [SUP-000001] Drucker druckt leere Seiten",
                              sender="Alice <alice@example.com>",
                              Authentication_Results=OUR_MTA_PASS,
                              body="#status awaiting_reply\n\nKönnen Sie uns bitte das "
                                   "Protokoll des Druckers schicken?\n"))


def fired(daemon: RunningDaemon) -> list[float]:
    """The auto-close points sent after a reminder pass (the daemon's scheduler may have run
    one already: rows are counted, not the pass's result)."""
    daemon.run_reminders()
    return sorted(r["point"] for r in daemon.store().reminders(1)
                  if r["kind"] == autoclose.KIND and r["state"] == "sent")


def test_auto_close_reminds_at_half_and_closes_across_a_restart(tmp_path: Path) -> None:
    """awaiting_reply for 7 days: at 3.5 days the customer is reminded (in German, with the
    close date); the close falls due while the daemon is down and happens once at start,
    with the auto-close notice."""
    config = load_config(write_config(tmp_path, AUTO_CLOSE))
    configure_logging(config.logging)
    customer = "Jörg Weber <joerg@example.de>"
    with freeze_time("2026-03-02 09:00:00", ignore=REAL_TIME) as frozen:  # a Monday
        daemon = RunningDaemon(config).start()
        try:
            _to_awaiting_reply(daemon, customer)
            assert daemon.store().ticket(1).status == "awaiting_reply"
            frozen.move_to("2026-03-05 20:00:00")  # 3.46 days: nothing yet
            assert fired(daemon) == []
            frozen.move_to("2026-03-05 21:30:00")  # past half of the 7 days
            assert fired(daemon) == [autoclose.REMIND]
            daemon.wait_outbox_idle()
        finally:
            daemon.stop()
        [waiting] = [m for m in mails(daemon, "joerg@example.de")
                     if "warten noch auf Ihre Antwort" in body(m)]
        assert "schließen wir das Ticket am Montag, 9. März 2026, 09:00 Uhr UTC" \
            in body(waiting)
        assert waiting["Auto-Submitted"] == "auto-generated"
        assert waiting["Subject"] == "[SUP-000001] Drucker druckt leere Seiten"
        frozen.move_to("2026-03-10 08:00:00")  # the close fell due while the daemon was down
        daemon = RunningDaemon(config).start()  # its startup pass closes the ticket
        try:
            assert fired(daemon) == [autoclose.REMIND, autoclose.CLOSE]  # each once
            daemon.wait_outbox_idle()
            store = daemon.store()
            assert store.ticket(1).status == "closed"
            kinds = [e["kind"] for e in store.events(1)]
        finally:
            daemon.stop()
    assert kinds.count("auto_close_reminder") == 1 and kinds.count("auto_closed") == 1
    [closed] = [m for m in mails(daemon, "joerg@example.de") if "geschlossen" in body(m)]
    assert "da wir nichts mehr von Ihnen gehört haben, haben wir Ticket SUP-000001" \
        in body(closed)
    assert "Bewertung" not in body(closed) and "mailto:" not in body(closed)  # a notice


def test_daemon_down_for_the_whole_period_closes_without_a_late_reminder(
        tmp_path: Path) -> None:
    """Both the reminder and the close fell due while the daemon was down: the ticket is
    closed once at start, and no "we will close it" mail goes out after the fact."""
    config = load_config(write_config(tmp_path, AUTO_CLOSE))
    configure_logging(config.logging)
    with freeze_time("2026-03-02 09:00:00", ignore=REAL_TIME) as frozen:
        daemon = RunningDaemon(config).start()
        try:
            _to_awaiting_reply(daemon, "Jörg Weber <joerg@example.de>")
        finally:
            daemon.stop()
        frozen.move_to("2026-03-20 09:00:00")
        daemon = RunningDaemon(config).start()
        try:
            assert fired(daemon) == [autoclose.CLOSE]
            daemon.wait_outbox_idle()
            states = {r["point"]: r["state"] for r in daemon.store().reminders(1)
                      if r["kind"] == autoclose.KIND}
            assert daemon.store().ticket(1).status == "closed"
        finally:
            daemon.stop()
    assert states == {autoclose.REMIND: "dropped", autoclose.CLOSE: "sent"}
    texts = [body(m) for m in mails(daemon, "joerg@example.de")]
    assert not [t for t in texts if "warten noch" in t]
    assert len([t for t in texts if "haben wir Ticket SUP-000001" in t]) == 1


@pytest.mark.parametrize(("on_reply", "status"), [
    ("reopen", "open"),  # the default policy: the reply reopens the ticket
    ("keep", "awaiting_reply"),  # the status stays, the auto-close is cancelled all the same
])
def test_customer_reply_cancels_the_auto_close(tmp_path: Path, on_reply: str,
                                               status: str) -> None:
    """The customer answers before the reminder: no reminder and no close follow."""
    policy = {"conversation": {"on_reply": {"awaiting_reply": {"requester": on_reply}}}}
    config = load_config(write_config(tmp_path, merge(AUTO_CLOSE, policy)))
    configure_logging(config.logging)
    with freeze_time("2026-03-02 09:00:00", ignore=REAL_TIME) as frozen:
        daemon = RunningDaemon(config).start()
        try:
            _to_awaiting_reply(daemon, "Jörg Weber <joerg@example.de>")
            planned = [r["kind"] for r in daemon.store().reminders(1) if r["state"] == "pending"]
            assert planned.count("auto_close") == 2
            frozen.move_to("2026-03-03 10:00:00")
            deliver(daemon, make_mail("Re: [SUP-000001] Drucker druckt leere Seiten",
                                      sender="Jörg Weber <joerg@example.de>",
                                      body="Das Protokoll hängt an. Was sehen Sie darin?\n"))
            frozen.move_to("2026-03-12 10:00:00")
            assert fired(daemon) == []
            store = daemon.store()
            assert store.ticket(1).status == status
            assert not [r for r in store.reminders(1) if r["kind"] == "auto_close"]
        finally:
            daemon.stop()
    assert not [m for m in mails(daemon, "joerg@example.de") if "warten noch" in body(m)]


def test_auto_close_setting_is_checked() -> None:
    """A malformed period names the key; "5wd" counts working days; off by default."""
    from mailgate.config.policy import ConversationSection

    assert ConversationSection().auto_close_after is None
    assert ConversationSection(auto_close_after="5wd").auto_close_days() == 5
    with pytest.raises(ValueError, match="auto_close_after"):
        ConversationSection(auto_close_after="soon")


# -- the resolved mail and the satisfaction vote ------------------------------------------

RATING = merge(TEAM, {"conversation": {"resolved_mail": "rating"},
                      "security": {"token_secret_env": "MAILGATE_TEST_RATING_SECRET"},
                      "http": {"enabled": True, "host": "127.0.0.1", "port": 0}})


@pytest.fixture
def rating_desk(tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[RunningDaemon, Path]]:
    monkeypatch.setenv("MAILGATE_TEST_RATING_SECRET", "rating-secret-for-tests")
    path = write_config(tmp_path, RATING)
    config = load_config(path)
    configure_logging(config.logging)
    running = RunningDaemon(config).start()
    yield running, path
    running.stop()


def _resolved(daemon: RunningDaemon, number: int, customer: str) -> EmailMessage:
    """Ticket ``number`` from ``customer``, closed by Alice's #close; its resolved mail."""
    address = customer.split("<")[1].rstrip(">")
    subject = f"Printer {number} prints blank pages"
    deliver(daemon, make_mail(subject, sender=customer))
    deliver(daemon, make_mail(f"Re: [SUP-{number:06d}] {subject}",
                              sender="Alice <alice@example.com>",
                              Authentication_Results=OUR_MTA_PASS,
                              body="#close\n\nThe toner cartridge was faulty; we replaced it.\n"))
    [resolved] = [m for m in mails(daemon, address) if "as resolved" in body(m)]
    return resolved


def _cli(path: Path, *args: str) -> Any:
    result = subprocess.run([sys.executable, "-m", "mailgate", *args, "-c", str(path),
                             "--json"], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


def test_rating_reply_and_link_are_recorded_and_counted(rating_desk: Any) -> None:
    """A customer answers the resolved mail with "5"; a colleague clicks the "2" link of
    another ticket. Both tickets stay closed, nobody is notified, each shows its rating, and
    `mailgate sla` and /metrics count them."""
    daemon, path = rating_desk
    first = _resolved(daemon, 1, CUSTOMER)
    text = body(first)
    assert "Reply with a number from 1 (bad) to 5 (excellent)" in text
    assert first["Auto-Submitted"] == "auto-generated"
    deliver(daemon, reply(first, "5"))
    second = _resolved(daemon, 2, "Dana Doe <dana@example.org>")
    link = next(line for line in body(second).splitlines() if line.strip().startswith("2 ("))
    query = parse_qs(urlsplit(link.split(": ", 1)[1]).query)
    assert re.search(r"\[r2-[a-z2-7]{8}\]$", query["subject"][0])
    team_before = len(mails(daemon, "team@example.com"))
    deliver(daemon, make_mail(query["subject"][0], body=query["body"][0],
                              sender="Boss <boss@example.org>"))
    assert len(mails(daemon, "team@example.com")) == team_before
    store = daemon.store()
    assert [store.ticket(n).status for n in (1, 2)] == ["closed", "closed"]
    shown = _cli(path, "show", "SUP-000001")
    assert shown["rating"]["rating"] == 5 and shown["rating"]["how"] == "digit"
    assert _cli(path, "show", "SUP-000002")["rating"]["how"] == "token"
    assert _cli(path, "sla")["satisfaction"] == {
        "requested": 2, "rated": 2, "average": 3.5,
        "counts": {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}}
    metrics = scrape(daemon.daemon.http.port)
    assert metrics[("mailgate_ticket_ratings", (("rating", "5"),))] == 1
    assert metrics[("mailgate_ticket_ratings", (("rating", "2"),))] == 1
    assert metrics[("mailgate_ratings_received_total", ())] == 2


def test_rating_with_a_question_is_recorded_and_reopens(rating_desk: Any) -> None:
    """"3" and a question: the rating counts, and the ticket reopens as any question does;
    the team hears of it."""
    daemon, _ = rating_desk
    resolved = _resolved(daemon, 1, CUSTOMER)
    team_before = len(mails(daemon, "team@example.com"))
    deliver(daemon, reply(resolved, "3\n\nIt prints again, but why does it take ten "
                                    "minutes per page now?"))
    store = daemon.store()
    assert store.ticket(1).status == "open"
    assert store.rating(1)["rating"] == 3  # type: ignore[index]
    assert len(mails(daemon, "team@example.com")) == team_before + 1


def test_a_colleague_clicking_the_unsigned_rating_link_opens_nothing(tmp_path: Path) -> None:
    """No token secret (as `mailgate init` writes it): a colleague the resolved mail was
    forwarded to clicks "5 (excellent)". It opened a new ticket, acknowledged to the
    colleague, with SLA clocks running. Now it is noted on the closed ticket, not counted
    as its rating, and nobody gets mail; the requester's own click still counts."""
    path = write_config(tmp_path, merge(TEAM, {"conversation": {"resolved_mail": "rating"}}))
    config = load_config(path)
    configure_logging(config.logging)
    daemon = RunningDaemon(config).start()
    try:
        resolved = _resolved(daemon, 1, CUSTOMER)
        link = next(line for line in body(resolved).splitlines()
                    if line.strip().startswith("5 ("))
        query = parse_qs(urlsplit(link.split(": ", 1)[1]).query)
        assert "[r5-" not in query["subject"][0]  # unsigned: no proof of who clicks
        sent_before = len(mails(daemon))
        deliver(daemon, make_mail(query["subject"][0], body=query["body"][0],
                                  sender="Fernanda Lima <fernanda@example.org>"))
        store = daemon.store()
        assert [m["To"] for m in mails(daemon)[sent_before:]] == []
        assert store.ticket(1).status == "closed"
        assert store.rating(1) is None
        assert "rating_not_counted" in [e["kind"] for e in store.events(1)]
        assert _cli(path, "sla")["satisfaction"]["rated"] == 0
        assert [t["reference"] for t in _cli(path, "tickets")] == ["SUP-000001"]
        deliver(daemon, make_mail(query["subject"][0], body=query["body"][0],
                                  sender=CUSTOMER))
        assert daemon.store().rating(1)["rating"] == 5  # type: ignore[index]
    finally:
        daemon.stop()


@pytest.mark.parametrize(("answer", "value"), [("５", 5), ("評価：４　とても助かりました", 4),
                                              ("평점: 5 감사합니다", 5)])
def test_a_full_width_or_labelled_cjk_rating_is_recorded(rating_desk: Any, answer: str,
                                                          value: int) -> None:
    """A Japanese or Korean keyboard types "５"; a label says the digit is the rating even
    with words after it: recorded, and the ticket stays closed (it reopened before)."""
    daemon, _ = rating_desk
    resolved = _resolved(daemon, 1, CUSTOMER)
    deliver(daemon, reply(resolved, answer))
    store = daemon.store()
    assert store.rating(1)["rating"] == value  # type: ignore[index]
    assert store.ticket(1).status == "closed"


def test_a_bare_digit_without_a_rating_request_is_an_ordinary_reply(tmp_path: Path) -> None:
    """With resolved_mail = "notice" nothing asks for a rating: "5" reopens as before."""
    config = load_config(write_config(tmp_path, merge(TEAM, {
        "conversation": {"resolved_mail": "notice"}})))
    configure_logging(config.logging)
    daemon = RunningDaemon(config).start()
    try:
        resolved = _resolved(daemon, 1, CUSTOMER)
        assert "mailto:" not in body(resolved) and "1 (bad)" not in body(resolved)
        deliver(daemon, reply(resolved, "5"))
        store = daemon.store()
        assert store.ticket(1).status == "open" and store.rating(1) is None
    finally:
        daemon.stop()


def test_check_config_wants_the_templates_the_settings_send(tmp_path: Path) -> None:
    """With resolved_mail on, a template folder without resolved.txt.j2 fails check-config
    (else closing a ticket would fail at run time); without the setting it passes."""
    path = write_config(tmp_path, TEAM)
    (tmp_path / "templates" / "resolved.txt.j2").unlink()
    ok = subprocess.run([sys.executable, "-m", "mailgate", "check-config", "-c", str(path)],
                        capture_output=True, timeout=60)
    assert ok.returncode == 0, ok.stderr.decode()
    update_config(path, {"conversation": {"resolved_mail": "notice"}})
    bad = subprocess.run([sys.executable, "-m", "mailgate", "check-config", "-c", str(path)],
                         capture_output=True, timeout=60)
    assert bad.returncode == 78 and b"resolved.txt.j2: missing" in bad.stderr


def test_a_template_folder_from_before_relay_notice_gets_the_packaged_one(
        tmp_path: Path) -> None:
    """relay_notice came later: a folder copied before it passes check-config, and the
    engineer's notice is rendered from the packaged template, not reported as failed."""
    path = write_config(tmp_path, TEAM)
    (tmp_path / "templates" / "relay_notice.txt.j2").unlink()
    ok = subprocess.run([sys.executable, "-m", "mailgate", "check-config", "-c", str(path)],
                        capture_output=True, timeout=60)
    assert ok.returncode == 0, ok.stderr.decode()
    context = sample_context() | {"relayed": False, "problems": ["no text"]}
    rendered = Renderer(tmp_path / "templates").render_or_default("relay_notice", context)
    assert rendered.failure is None
    assert "Nothing of your mail on SUP-000123 was sent" in rendered.text


@pytest.mark.parametrize(("text", "language"), [
    ("Guten Tag, der Drucker druckt nicht. Bitte helfen Sie uns, danke.", "de"),
    ("Bonjour, nous ne pouvons pas imprimer depuis ce matin. Merci pour votre aide.", "fr"),
    ("Hola, no podemos imprimir desde esta mañana. Gracias por su ayuda.", "es"),
    ("Buongiorno, la stampante non funziona e abbiamo bisogno di aiuto. Grazie.", "it"),
])
def test_languages_told_from_the_text(text: str, language: str) -> None:
    """The first mail's words pick German, French, Spanish and Italian."""
    from mailgate.language import detect

    assert detect(text) == language


@pytest.mark.parametrize(("text", "language"), [
    ("L'imprimante ne fonctionne plus depuis hier. Pouvez-vous nous aider ?", "fr"),
    ("La stampante non funziona da ieri. Potete aiutarci?", "it"),
    ("La impresora no funciona desde ayer. ¿Pueden ayudarnos?", "es"),
    ("Skrivaren fungerar inte sedan igår. Kan ni hjälpa oss?", "sv"),
    ("De printer werkt sinds gisteren niet. Kunnen jullie ons helpen?", "nl"),
    ("Servers die randomly since the update", "en"),  # "die" is no German here
])
def test_a_short_request_gets_its_own_language(text: str, language: str) -> None:
    """A two-sentence request (a phone's) is answered in its language, not the default."""
    from mailgate.language import detect

    assert detect(text) == language


@pytest.mark.parametrize(("text", "value", "rest"), [
    ("5", 5, ""), ("4 - thanks!", 4, "thanks!"), ("Rating: 3", 3, ""), ("5/5", 5, ""),
    ("Sehr gut!\ndanke", 5, "danke"), ("Отлично!", 5, ""), ("Excellent ⭐⭐⭐⭐⭐", 5, ""),
    ("Perfetto.", 5, ""), ("  parfait !!", 5, ""), ("Bueno", 4, ""), ("2\nIt is slow again.", 2,
                                                            "It is slow again."),
    # as people write it in pt, pl, nl, ko, ar, zh, sv (a user's run: each reopened)
    ("Nota 5", 5, ""), ("Ocena: 5/5", 5, ""), ("4 van de 5", 4, ""), ("5점", 5, ""),
    ("평점 5점 드립니다", 5, "드립니다"), ("تقييم 5", 5, ""), ("٥", 5, ""), ("评分：5分", 5, ""),
    ("5/5 tack!", 5, "tack!"), ("5分，谢谢", 5, "谢谢"), ("5 من 5، شكرا", 5, "شكرا"),
])
def test_rating_read_from_the_first_line(text: str, value: int, rest: str) -> None:
    """A digit or a rating word in any shipped language, and what follows it."""
    from mailgate.satisfaction import read

    found = read(text, "de")
    assert found is not None and (found.value, found.rest) == (value, rest)


@pytest.mark.parametrize("text", ["3 printers are broken", "OK, thanks", "Good morning, "
                                  "the printer is off", "Thanks a lot!",
                                  "2 of 5 servers are down", "5 of the 12 PCs are off"])
def test_no_rating_in_ordinary_replies(text: str) -> None:
    """A number that counts something, an acknowledgement or a greeting is no rating."""
    from mailgate.satisfaction import read

    assert read(text, "en") is None


@pytest.mark.parametrize(("text", "language"), [
    ("Super, danke für die schnelle Hilfe!", "de"), ("Sehr gut, danke", "de"),
    ("Perfekt, läuft. Danke!\nP.S. Könnten Sie auch noch den Scanner prüfen?", "de"),
    ("Parfait, merci !", "fr"), ("Perfetto, grazie per la disponibilità.", "it"),
    ("Perfecto, gracias. Ya podéis cerrar la incidencia.", "es"),
    ("Great, thanks for the quick fix!", "en"), ("Отлично, спасибо!", "ru"),
])
def test_a_praise_word_opening_a_thank_you_is_no_rating(text: str, language: str) -> None:
    """A user's run: each of these thank-yous was recorded as a 5-star rating and `mailgate
    sla` showed "rated 4, average 5.0" with no rating given. A rating word counts only as the
    whole first line (the answer to the rating question); a digit still counts anywhere."""
    from mailgate.satisfaction import read

    assert read(text, language) is None
    assert read(f"5 - {text}", language) is not None


def test_cli_close_sends_the_resolved_mail_in_the_customer_s_language(tmp_path: Path) -> None:
    """`mailgate close` asks the German customer for a rating in German (their words as the
    link labels); the running daemon sends it."""
    path = write_config(tmp_path, merge(TEAM, {"conversation": {"resolved_mail": "rating"}}))
    config = load_config(path)
    configure_logging(config.logging)
    daemon = RunningDaemon(config).start()
    try:
        deliver(daemon, make_mail("Drucker druckt leere Seiten", body=GERMAN,
                                  sender="Jörg Weber <joerg@example.de>"))
        result = subprocess.run([sys.executable, "-m", "mailgate", "close", "SUP-000001",
                                 "-c", str(path)], capture_output=True, timeout=60)
        assert result.returncode == 0, result.stderr.decode()
        resolved = wait_until(lambda: [m for m in mails(daemon, "joerg@example.de")
                                       if "als gelöst markiert" in body(m)])
    finally:
        daemon.stop()
    text = body(resolved[0]).replace("\r\n", "\n")
    assert "Antworten Sie mit einer Zahl von\n1 (sehr schlecht) bis 5 (ausgezeichnet)" in text
    assert "  5 (ausgezeichnet): mailto:support@example.com?subject=" in text
    assert "[r5-" not in text  # no token secret configured: unsigned links


def test_german_dates_say_mez_and_mesz() -> None:
    """Central European time reads "MEZ"/"MESZ" in German, "CET"/"CEST" in English."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    winter = datetime(2026, 3, 16, 12, 30, tzinfo=berlin)
    summer = datetime(2026, 7, 6, 17, 0, tzinfo=berlin)
    assert locales.when(winter, "de") == "Montag, 16. März 2026, 12:30 Uhr MEZ"
    assert locales.when(summer, "de").endswith("17:00 Uhr MESZ")
    assert locales.when(winter, "en").endswith("CET")
