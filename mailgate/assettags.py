"""Which letters-dash-digits tokens of a mail name a thing (a device, an asset) rather
than an error.

The repeat comparison (``mailgate.repeats``) weighs a token of letters and four digits or
more as an error code, and a shared error code is strong evidence that two mails report
one problem. An asset tag has the same shape: "LT-0815", "PC-0042". One person's laptop
that is slow and the docking station they ask for that same laptop share the tag, not a
problem (user8 U3: "Dockingstation für LT-0815" merged into "Laptop LT-0815 extrem
langsam" on "a shared code"). What tells them apart is how the mail uses the token: an
error code is what a message shows ("Fehler E-4021", "code TA-0422", "(felkod VB-1207)"),
a thing is owned, named by its kind or something is done for it ("mein LT-0815", "Laptop
LT-0815", "for PC-0042", "an PC-0042"), or its prefix says the kind of device ("PC-",
"LT-", "NB-", "SRV-"). Such a tag is an identifier of a thing: it still ties two
reports of one fault of that device (the same identifier with the same symptom), never
on its own.
"""

from __future__ import annotations

import re

#: A tag: two letters or more, a hyphen, digits (more parts may follow: "PC-0042-B").
_TAG = re.compile(r"(?<![\w-])([^\W\d_]{2,})-(\d[\w-]*)(?![\w-])")
#: Prefixes that name a kind of device (laptop, PC, notebook, workstation, desktop, server,
#: printer, monitor, tablet, phone, thin client, NAS), with four digits at most: "WS-448120"
#: is an order, "MON-7781432" an alert.
DEVICE_PREFIXES = frozenset({
    "lt", "lap", "nb", "nbk", "pc", "ws", "wks", "dt", "dsk", "srv", "sv", "prn", "pr",
    "mon", "tab", "tb", "mob", "tel", "ph", "tc", "nas", "cl", "client"})
#: Words right before a tag that make it a thing: possessives, "for", "an"/"am" (de),
#: and device nouns, in the seven languages of the comparison (en, de, nl, sv, ru, fr,
#: es) and pt, it, pl.
_THING_WORDS = """
my our your his her for
mein meine meinen meinem meiner meines unser unsere unseren unserem für fürs an am vom
mijn onze ons voor
min mitt mina vår vårt våra för
мой моя моё мои моего моему моим нашего наш наша для
mon ma mes notre nos pour
mi mis nuestro nuestra para
meu minha nosso nossa
mio mia nostro nostra per
mój moja mojego dla
laptop laptops notebook computer pc desktop workstation device asset tag machine server
printer scanner monitor screen tablet phone client thinclient
rechner gerät geräts arbeitsplatz arbeitsplatzrechner inventarnummer drucker bildschirm
telefon handy
laptopen computern datorn datorer dator skrivaren skrivare skärmen
ноутбук ноутбука компьютер компьютера пк принтер принтера монитор сервер
ordinateur portable poste imprimante écran téléphone serveur
ordenador portátil equipo impresora pantalla teléfono servidor
computador impressora
"""
_THING_BEFORE = frozenset(_THING_WORDS.split())
#: Words around a tag that make it an error code whatever else the mail says.
_ERROR_NEAR = re.compile(
    r"(?<!\w)(error\w*|err|fehler\w*|meldung\w*|code\w*|fout\w*|melding\w*|fel|felkod\w*|"
    r"felmeddelande\w*|ошибк\w*|код\w*|erreur\w*|código\w*|codigo\w*|mensaje\w*|erro|"
    r"errore|błąd\w*|exception|status|http)(?!\w)")


_QUOTES = frozenset("\"'«»“”„")


def thing_tags(text: str) -> frozenset[str]:
    """The casefolded tags ``text`` uses as names of things (see the module's docstring),
    none that it also shows as an error (an error word right before or after it, or the
    tag inside quotes)."""
    low = text[:20_000].casefold().replace("’", "'")
    things: set[str] = set()
    errors: set[str] = set()
    for found in _TAG.finditer(low):
        tag = found.group(0)
        before = re.findall(r"[\w#]+|[\"'«»“”„]", low[max(0, found.start() - 40):found.start()])
        after = re.findall(r"[\w]+|[\"'«»“”„:]", low[found.end():found.end() + 20])
        last = before[-1].lstrip("#") if before else ""
        if any(_ERROR_NEAR.fullmatch(w) for w in before[-2:]) or last in _QUOTES or \
                (after and (after[0] == ":" or _ERROR_NEAR.fullmatch(after[0]))):
            errors.add(tag)
        elif last in _THING_BEFORE or (found.group(1) in DEVICE_PREFIXES and
                                        sum(c.isdigit() for c in found.group(2)) <= 4):
            things.add(tag)
    return frozenset(things - errors)
