"""Is a reply to a closed ticket only a thank-you? Read its structure, then its clauses.

Why: a reply that only thanks must not reopen a ticket (seed 000), and a reply
that asks for anything must. Recall comes from the shape of a reply, not from a
list of sentences:

1. **Where the new text is** (``mailgate.quotes.reply_parts``): quoted history
   (attribution lines and header blocks in any language), the ``-- `` signature
   and disclaimers are cut away; text the customer wrote *below* the signature or
   the quoted history (a "P.S.", a line after a rule) is kept as such. Where an old
   message that Outlook quotes without quote marks ends is read from its sign-off
   (``bottom_posted``): what follows is the new text when nothing stands above the
   history (bottom posting), else text below the quote.
2. **Zones of the new text**: a greeting line ("Hallo Anna,", "Servus Stefan,"),
   the body, a closing formula after which only the signature follows (names,
   titles, company, phone numbers, addresses, notices). A line with a phone
   number, a web or mail address, a register number or a rule starts the
   signature too, and so does the writer's own name ("Бойко І.П.", "Л.М.
   Степаненко", "i. A. Klaus Hoffmann", "事務長 中村 恵子"). Below it, a clause
   that asks, reports a problem or says something does not work still counts.
3. **Clauses** of the body (split at . ! ? ; , and line ends, 。！？ too), each
   read with the lexicon (``lexicon.py``): a question mark, a contrast ("but"),
   a request ("please", "could you"), a problem that is not negated ("error",
   but not "no more errors"), a negated success ("doesn't work"), or "again"
   without a success, thanks, apology or greeting in the same clause ("Danke,
   wir sind wieder ausgesperrt") make the reply substantive. Some words are read by
   their neighbours: a wanting word that governs thanks ("ich möchte mich bedanken"), an
   "in advance" beside a wish ("Fijne feestdagen alvast"), "encore"/"só" beside thanks
   or an apology, pt "mais" after "não" ("não trava mais": any more) say nothing asked.
   Clauses of gratitude, success, apology, closings, pleasantries and greetings are harmless; other
   words are unknown, and only a few are tolerated (a name, "the export").
4. **The sentence judge** (``model.py``): a clause the rules leave open (not
   anchored by thanks, success, apology or greeting and not a name, or with too
   many unknown words, or with only a free negation or a time word: "Alla bilar
   är nedladdade nu", "без зсуву") is harmless when a small classifier trained
   offline is confident (thresholds in its file, each chosen on held-out halves of
   the tuning replies). A clause naming a problem word must clear the file's problem
   threshold, one with "again" and only fillers beside it the "again" threshold, and
   one the rules reopen only for a word cue (a request, "still" or interrogative word
   with no question mark: "Fijn weekend alvast", "Vad skönt", "Laat het gerust weten
   als je nog vragen hebt") the cue threshold; a file without one leaves those to the
   rules. It never overrules a question mark, a live problem, a negated success, a
   partial success or "gone", and reads a clause of more than ``JUDGE_WORDS``
   words in parts (at "and", "that" and their kin in each language, else in
   overlapping runs): harmless only when every part is.
5. **Verdict**: thanks-only when no clause is substantive, one says thanks or
   that it works, and little is unknown. Anything else, including text in the
   signature that asks something, is substantive: when unsure, reopen.

``Verdict.reason`` names the clause that decided (and each clause the judge
cleared, with its score), for the ticket's event and ``mailgate explain``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path

from mailgate.footers import (
    firm_notice,
    legal_sentence,
    strip_disclaimers,
    strip_signature,
    without_notices,
)
from mailgate.message import Inbound
from mailgate.quotes import AFTERTHOUGHT, ReplyParts, is_separator, quoted_messages, reply_parts
from mailgate.replies.asides import POINTER_CUES, PURPOSE, promises, without_attaching
from mailgate.replies.consent import by_language, consenting, praised
from mailgate.replies.lexicon import HARMLESS, Hit, Lexicon, fold, load_tables
from mailgate.replies.model import SentenceModel

MAX_TEXT = 3000  # new text longer than this is never a bare thank-you
UNKNOWN_WORDS = 12  # words the lexicon does not know, tolerated in all
UNKNOWN_IN_CLAUSE = 7  # ... in a clause that thanks, says it works or apologises
UNKNOWN_ELSEWHERE = 4  # ... in a sentence with none of those (a name, "Anna Berg, ACME")
#: "5.B", "v2.1" and "firma.cz" are one word: a full stop inside a word ends nothing
_CLAUSE = re.compile(r"[!;,。！；，、…\n]+|\.+(?![^\W_])|:(?=\s|$)|(?<=[?？؟])|\s[-–—]\s")
_SENTENCE = re.compile(r"[.!。！\n]+(?=\s|$)|(?<=[?？؟])")
_QUESTION = re.compile(r"[?？؟]")
_CONTACT = re.compile(r"(?:\+?\d[\d ()./-]{6,}\d)|https?://|www\.|[\w.+-]+@[\w-]+\.[\w.]+"
                      r"|\b(?:tel|fax|mob|phone|tlf|puh|тел)\b", re.IGNORECASE)
_DEVICE = re.compile(r"\b(?:iphone|ipad|android|galaxy|huawei|xiaomi|samsung|outlook for|"
                     r"blackberry|smartphone)", re.IGNORECASE)  # "iPhonu", "iPhonesta" too
#: a company register, tax or VAT number: a signature's line, never the customer's words
_REGISTER = re.compile(
    r"\b(?:NIP|KRS|REGON|HRB|HRA|KvK|Org\.?\s?nr|CVR|Y-tunnus|IČO|DIČ|ИНН|ОГРН|КПП|ЄДРПОУ"
    r"|USt-IdNr|Amtsgericht|Handelsregister|Geschäftsführer(?:in)?|P\.\s?IVA|CIF|NIF|SIRET|RCS"
    r"|Vergi\s?No|Mersis|VAT\s?(?:No|Reg)|Company\s?(?:No|Reg)|Registered in)\b")
#: a postal address in CJK and Korean writing: a number with a street, block or floor word
_ADDRESS = re.compile(r"\d+\s?(?:号|號|楼|樓|室|丁目|番地|番|階|번지|층|호|길|로)"
                      r"|(?:地址|住所|주소)\s?[:：]"
                      # a line that is only a city, a district and a street ("杭州市西湖区文三路",
                      # "大阪府東大阪市高井田中1-2-3"); with 的, 了 or が it is a sentence
                      r"|^\s*(?:(?![的了是在不没がをはで])[\u4e00-\u9fff]){1,5}[省市都府県]"
                      r"(?:(?![的了是在不没がをはで])[\u4e00-\u9fff]){1,5}[区市町村县郡]"
                      r"(?:(?![的了是在不没がをはで])[\u4e00-\u9fff]){0,6}[\d\-－ 号號]*\s*$")
_RULE = re.compile(r"^\s*[-_=*~━─═#+.]{3,}\s*$")
_NUMBER = re.compile(r"^\d+$")
_CLOCK = re.compile(r"(?<!\d)\d{1,2}:\d{2}(?!\d)")
_JOINED_CHARS = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\u0600-\u06ff]")
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Verdict:
    """What the reply says: thanks only, or substantive; ``reason`` says why."""

    thanks_only: bool
    reason: str
    matched: tuple[str, ...] = ()


@dataclass(frozen=True)
class Clause:
    """One clause as read: the categories it holds, its unknown words, and what its
    negations bind to (the nearest problem or success word: "no more errors" is a
    negated problem, "doesn't work" a negated success, "no worries" neither)."""

    text: str
    categories: frozenset[str]
    unknown: int
    question: bool
    negated: frozenset[str] = frozenset()  # "problem" and/or "solved" under a negation
    free_negation: bool = False  # a negation that binds to neither
    live_problems: int = 0  # problem words no negation or resolution word cancels
    judged: float | None = None  # the sentence judge's P(harmless), when it cleared it


class Understanding:
    """The loaded lexicon; one per pipeline (reloaded with the config)."""

    def __init__(self, lexicon: Lexicon, model: SentenceModel | None = None) -> None:
        self.lexicon = lexicon
        self.model = model

    @classmethod
    def load(cls, extra_file: str | Path | None = None,
             model: SentenceModel | None = None, *, judge: bool = True) -> Understanding:
        """The packaged lexicon (plus an admin file) and sentence judge (or ``model``;
        none when not ``judge``: ``[conversation] sentence_judge = false``)."""
        return cls(Lexicon(load_tables(extra_file)),
                   (model or _packaged_model()) if judge else None)

    def clause(self, text: str, names: frozenset[str] = frozenset(), *,
               languages: bool = False) -> Clause:
        """Read one clause; the sender's own ``names`` are names, not words ("Tom" is no
        Swedish "empty"); with ``languages``, a cue word of another language than the
        clause's does not count (``consent.by_language``: the body's clauses; the sentence
        judge's training reads clauses without it)."""
        folded = fold(text)
        hits, words = self.lexicon.hits(folded)
        if names:
            hits = [h for h in hits if folded[h.start:h.end] not in names]
        if languages:  # Swedish "ni" (you) is no French "ni" (nor)
            hits = by_language(hits, folded, self.lexicon)
        first = next((h for h in hits if h.category == "interrogative"), None)
        asks = first is not None and not folded[:first.start].strip(" \t'\"«»„“”-") \
            and len(words) >= 2
        hits = [h for h in hits if h.category != "interrogative" or (h is first and asks)]
        if hits and hits[-1].category == "contrast" and folded[hits[-1].start:] == "mais" and any(
                h.category == "negation" for h in hits):  # pt "não travou mais", not fr "mais"
            hits = hits[:-1]
        hits = _softened(hits, folded)
        hits = _fused_but(_unchanged(hits, folded), folded)
        hits = [h for h in hits if not _since_yesterday(h, folded)]
        hits = _wanting(hits, folded, self.lexicon.volition)
        hits = _wished_ahead(hits, folded, self.lexicon.advance)
        hits = _disappearing(hits, folded, self.lexicon.gone)
        negated, free, live = _bind_negations(hits, folded)
        covered = [(h.start, h.end) for h in hits]
        unknown = sum(1 for s, e in words if not _NUMBER.match(folded[s:e])
                      and not any(cs <= s and e <= ce for cs, ce in covered))
        if _JOINED_CHARS.search(folded):
            rest = _JOINED_CHARS.findall(_uncovered(folded, covered))
            unknown = unknown - _joined_words(folded, covered) + len(rest) // 3
        if unknown >= 3:  # an emoji ending a sentence of words says "please" or adorns it:
            # "…の分もお願いできればと思います🙏", "… kurulum lazım 🙏" ask for something
            hits = [h for h in hits if not _EMOJI.fullmatch(folded[h.start:h.end])]
        categories = frozenset(h.category for h in hits)
        if "once" in categories:  # "worked only once" is partial, "not even once" is none
            categories -= {"once"}
            if not _negated_clause(categories, folded, words):
                categories |= {"qualifier"}
        if _delivered(folded, words):
            categories |= {"delivery"}
        return Clause(text.strip(), categories, max(0, unknown),
                      bool(_QUESTION.search(text)) or asks, negated, free, live_problems=live)


def _negated_clause(categories: frozenset[str], folded: str,
                    words: list[tuple[int, int]]) -> bool:
    """A clause with a negation word or a negated verb form ("ani jednou nezamrzla", "não
    falhou uma única vez", "bir kere bile takılmadı"): a "once" in it means "never"."""
    return "negation" in categories or any(
        _NEGATED_FORM.match(folded[s:e]) for s, e in words)


#: folded hands: "thank you" alone, "please" after a request (ja, ko, zh, tr, ar, hi)
_EMOJI = re.compile("\U0001f64f")

_GAP = r"[^.!?,;。！？，]{0,40}?"  # words between a sending verb and the team it went to
#: the customer says they have sent something to the team ("Ich habe Ihnen das Log gestern
#: geschickt", "Jag skickade loggen till er", "Я вчера отправил вам лог", "发给您了",
#: "お送りしました"): the team must go and look at it, so it is news, not thanks. The team
#: is the one it went to (a second-person object: "sent you", "vous ai envoyé", "te he
#: enviado", "heb je ... gestuurd"), never the one that sent it ("the log you sent", "die
#: Anleitung, die Sie geschickt haben", "送っていただいた"). Past forms only: "I'm sending
#: you a photo" / "Te mando foto" speaks of this mail, whose file the team gets with the
#: notice when it carries one (and "给您寄一罐茶" promises a gift)
_DELIVERED = re.compile("|".join((
    # en: "sent you", "sent it to you", "forwarded it to your team"
    r"\b(?:sent|e-?mailed|mailed|forwarded|uploaded)\s+(?:(?:it|them|this|that|these|those|"
    r"the\s+\w+|\w+)\s+)?(?:over\s+)?(?:to\s+)?(?:you|your\s+team|y'all)\b",
    # de: "Ihnen … geschickt", "an Sie weitergeleitet"
    rf"\b(?:ihnen|dir|euch|an\s+sie|an\s+euch|an\s+dich)\b{_GAP}\b(?:\w*geschickt|"
    rf"\w*gesendet|\w*gesandt|gemailt|weitergeleitet|übermittelt|hochgeladen)\b",
    # fr: "je vous ai envoyé", "je t'ai transmis"
    rf"\b(?:vous|t')\s?(?:ai|avons|avais|avions)\b{_GAP}\b(?:envoy|transmis|renvoy|"
    rf"fait suivre|fait parvenir|mailé|déposé)",
    # es: "te he enviado", "le mandé"; it: "vi ho inviato", "te l'ho mandato"; pt: "te
    # enviei", "enviei-lhe", "mandei para você"
    r"\b(?:te|le|les|os)\s+(?:he|hemos|había|habíamos)\s+(?:enviado|mandado|reenviado|"
    r"pasado|adjuntado)\b",
    r"\b(?:te|le|les|os)\s+(?:envié|mandé|reenvié|pasé)\b",
    r"\b(?:ti|vi|le)\s+(?:ho|abbiamo|avevo)\s+(?:già\s+)?(?:inviat|mandat|inoltrat|girat|"
    r"spedit)\w*",
    r"\b(?:te|ve|glie)\s?l[oaie']\s?(?:ho|abbiamo)\s+(?:già\s+)?(?:inviat|mandat|inoltrat|"
    r"girat)\w*",
    r"\b(?:te|lhe|lhes|vos)\s+(?:enviei|mandei|encaminhei|reenviei|passei)\b",
    r"\b(?:enviei|mandei|encaminhei|reenviei)-(?:lhe|lhes|te|vos)\b",
    rf"\b(?:enviei|mandei|encaminhei|reenviei)\b{_GAP}\b(?:para|pra|a)\s+(?:você|vocês|vós|"
    rf"o senhor|a senhora|os senhores)\b",
    # nl: "heb ik je de log gestuurd", "naar jullie gestuurd"
    rf"\b(?:heb|had|hebben|hadden)\s+(?:ik\s+|we\s+|wij\s+)?(?:u|je|jou|jullie)\b{_GAP}"
    rf"\b(?:\w*gestuurd|gemaild|\w*verstuurd)\b",
    rf"\bnaar\s+(?:u|jou|jullie)\b{_GAP}\b(?:\w*gestuurd|gemaild|\w*verstuurd)\b",
    # sv, da, nb: "skickade loggen till er", "sendte jer filen", "har sendt deg"
    r"\b(?:skickade|skickat|mejlade|mejlat|mailade|mailat|vidarebefordrade|vidarebefordrat|"
    r"sendte|sendt|videresendte|videresendt|mailede|mailet)\s+(?:(?:över|over|\w+)\s+)?"
    r"(?:till\s+er|till\s+dig|til\s+jer|til\s+dig|til\s+deg|til\s+dere|dig|jer|deg|dere)\b",
    r"\b(?:skickade|skickat|mejlade|vidarebefordrade|sendte|sendt|videresendt)\s+(?:er)\s+\w",
    # fi: "lähetin teille lokin" (either order); pl, cs: "wysłałem Panu", "poslal jsem vám";
    # ru, uk: "отправил вам", "вам надіслала"; tr: "size gönderdim"
    rf"\b(?:lähetin|lähetimme|laitoin|välitin|toimitin)\b{_GAP}\b(?:teille|sinulle)\b",
    rf"\b(?:teille|sinulle)\b{_GAP}\b(?:lähetin|lähetimme|laitoin|välitin|toimitin)\b",
    rf"\b(?:wysłał\w*|przesłał\w*|podesłał\w*|przekazał\w*|poslal\w*|zaslal\w*|"
    rf"přeposlal\w*|odeslal\w*|отправил\w*|отослал\w*|выслал\w*|переслал\w*|скинул\w*|"
    rf"направил\w*|надісла[вл]\w*|відправи[вл]\w*|пересла[вл]\w*|скину[вл]\w*|висла[вл]\w*|gönderdim|"
    rf"gönderdik|yolladım|yolladık|ilettim|ilettik)\b{_GAP}\b(?:panu|pani|państwu|wam|tobie|"
    rf"vám|tobě|вам|тебе|тобі|size|sana|sizlere)\b",
    rf"\b(?:panu|pani|państwu|wam|ci|vám|ti|вам|тебе|тобі|size|sana|sizlere)\b{_GAP}"
    rf"\b(?:wysłał\w*|przesłał\w*|podesłał\w*|przekazał\w*|poslal\w*|zaslal\w*|"
    rf"přeposlal\w*|odeslal\w*|отправил\w*|выслал\w*|переслал\w*|скинул\w*|надісла[вл]\w*|"
    rf"відправи[вл]\w*|пересла[вл]\w*|скину[вл]\w*|gönderdim|gönderdik|yolladım|yolladık|ilettim|"
    rf"ilettik)\b",
)))
#: the same in the scripts matched inside words: ar "أرسلت لكم", "بعتلك"; ja humble past
#: sending (to the reader); zh "发给您了", "已经发给你"; ko "보내드렸습니다"
_DELIVERED_JOINED = re.compile("|".join((
    r"(?:أرسلت|ارسلت|أرسلنا|ارسلنا|بعثت|بعتت|حولت|حوّلت)\w*\s*(?:لك|لكم|إليك|إليكم|لحضرتك)|"
    r"بعتل\w+",
    r"お送りしました|お送りいたしました|お送りしております|ご送付しました|送付しました|"
    r"送付いたしました|転送しました|転送いたしました",
    r"(?:发|传|转|寄|转发)(?:给|到)(?:你|您)(?:了|过)|已经?(?:发|传|转|寄|转发)(?:给|到)(?:你|您)|"
    r"给(?:你|您)(?:发|传|转|寄)(?:了|过)",
    r"(?:보내|전달|송부|전송)\s?드렸",
)))

#: the first four letters of the sending verbs above: the patterns (slow: a gap between
#: the verb and the team) are tried only on a clause holding a word that starts so
_SENDING_STEMS = frozenset([
    "sent", "mail", "emai", "forw", "uplo",  # en
    "gesc", "zuge", "gese", "gesa", "gema", "weit", "über", "hoch",  # de
    "envo", "tran", "renv", "fait", "dépo",  # fr
    "envi", "mand", "reen", "pasa", "adju", "pasé",  # es
    "invi", "inol", "gira", "sped", "enca", "pass",  # it pt
    "gest", "opge", "door", "vers", "toeg",  # nl
    "skic", "mejl", "vida", "send", "vide",  # sv da nb
    "lähe", "lait", "väli", "toim",  # fi
    "wysł", "prze", "pode", "posl", "zasl", "přep", "odes",  # pl cs
    "отпр", "отос", "высл", "пере", "скин", "напр", "наді", "відп", "висл",  # ru uk
    "gönd", "yoll", "ilet",  # tr
])


def _delivered(folded: str, words: list[tuple[int, int]]) -> bool:
    """Whether a folded clause says something was sent to the team (``_DELIVERED``)."""
    if any(folded[s:s + 4] in _SENDING_STEMS for s, _ in words) and _DELIVERED.search(folded):
        return True
    return bool(_JOINED_CHARS.search(folded)) and bool(_DELIVERED_JOINED.search(folded))


#: "yesterday" is a qualifier ("worked yesterday"), but not after "since": "seit gestern
#: keine Abbrüche mehr", "od včera to jede", "с вчерашнего" is how long it has worked
_YESTERDAY = frozenset({"yesterday", "gestern", "hier", "ayer", "ieri", "ontem", "gisteren",
                        "igår", "i går", "eilen", "wczoraj", "včera", "вчера", "вчора",
                        "أمس", "امس"})
_SINCE = frozenset({"since", "seit", "depuis", "desde", "da", "dal", "dalla", "sinds", "sedan",
                    "sen", "siden", "od", "ode", "с", "со", "з", "із", "від", "منذ"})


#: Portuguese negations after which "mais" is "any more", not "but" ("não fica mais
#: travando", "sem mais alertas")
_PT_NEGATION = frozenset({"não", "nao", "sem", "nunca"})
#: "still", "only", "again" words of the contrast lists that, beside thanks or an apology,
#: only strengthen it ("Mi scuso ancora", "Désolée encore", "Passando só para agradecer",
#: "Halusin vielä erikseen kiittää")
_INTENSIFIERS = frozenset({"só", "apenas", "vielä", "ancora", "encore"})


def _softened(hits: list[Hit], folded: str) -> list[Hit]:
    """Contrast words read by their neighbours: pt "mais" a word after "não"/"sem" says
    "no more", and the two are one "gone" word, as de "nicht mehr" is ("não trava mais":
    the problem is over; "não lê mais", with no problem word: something is gone); an
    intensifier at most a word from thanks or an apology strengthens it (a pleasantry)."""
    out: list[Hit] = []
    for k, hit in enumerate(hits):
        text = folded[hit.start:hit.end]
        negation = next((h for h in hits[:k] if h.category == "negation" and folded[
            h.start:h.end] in _PT_NEGATION and len(_WORD.findall(folded, h.end, hit.start)) <= 1
                         ), None) if hit.category == "contrast" and text == "mais" else None
        if negation is not None:
            out = [h for h in out if h is not negation]
            hit = replace(hit, category="gone")
        elif hit.category == "contrast" and text in _INTENSIFIERS and any(
                h.category in ("gratitude", "apology") and len(_WORD.findall(
                    folded, min(h.end, hit.end), max(h.start, hit.start))) <= 1
                for h in hits if h is not hit):
            hit = replace(hit, category="pleasantry")
        out.append(hit)
    return out


def _wanting(hits: list[Hit], folded: str, volition: frozenset[str]) -> list[Hit]:
    """Wanting words ("möchte", "chciałbym", "istiyorum") read where they stand: beside a
    word of thanks that is what is wanted ("I wanted to say a massive thank you", "Хочу от
    души поблагодарить", "teşekkür etmek istiyorum"): a pleasantry; elsewhere a request
    word stays one, and a word only the volition lists hold says nothing."""
    thanks = [h for h in hits if h.category == "gratitude"]
    out = []
    for hit in hits:
        if hit.category == "gratitude" and set(_WORD.findall(folded, hit.start, hit.end)) & \
                volition and _asks_after(hit, hits, folded):  # "wanted to thank you and ask
            hit = replace(hit, category="request")  # for a new account": a second want
        if hit.category in ("request", "volition") and folded[hit.start:hit.end] in volition:
            if any(_wants_to_thank(hit, t, hits, folded) for t in thanks):
                hit = replace(hit, category="pleasantry")
            elif any(_asks_after(t, hits, folded) for t in thanks if t.start > hit.end):
                hit = replace(hit, category="request")  # "Хочу поблагодарить и попросить
                # ещё один доступ": beside thanks it wants a second thing
            elif hit.category == "volition":
                continue
        out.append(hit)
    return out


def _disappearing(hits: list[Hit], folded: str, gone: frozenset[str]) -> list[Hit]:
    """A word listed both as a problem and as going away ("kadonnut": lost or gone,
    "зникає": vanishes) right after a problem word, only a negation between, is the problem
    going away: "virhe (ei) kadonnut", "помилка (не) зникає" (the error (did not)
    disappear). After anything else it stays a problem ("tiedosto kadonnut", a file lost)."""
    out = list(hits)
    for i, hit in enumerate(out):
        if hit.category != "problem" or hit.words != 1 or i == 0:
            continue
        j = i - 1
        if out[j].category == "negation" and j > 0:
            j -= 1
        before = out[j]
        if before.category != "problem" or len(_WORD.findall(folded[before.end:hit.start])) > 1:
            continue  # (asked first: the list below is long)
        word = folded[hit.start:hit.end]
        if any(word == g or (g.endswith("*") and word.startswith(g[:-1])) for g in gone):
            out[i] = replace(hit, category="gone")
    return out


def _wished_ahead(hits: list[Hit], folded: str, advance: frozenset[str]) -> list[Hit]:
    """An "in advance" word beside a wish and nothing else is part of the wish ("Fijne
    feestdagen alvast", "Buone feste in anticipo", "Frohes Fest schon mal"): a pleasantry;
    beside thanks it asks ("Alvast bedankt", "Danke schon mal"): a request; elsewhere it
    counts as its other list says, and one only the advance lists hold says nothing ("Ich
    habe schon mal neu gestartet"). A wish is a pleasantry of two words or more, or in a
    script without spaces: "Send everything in advance" holds none."""
    ahead = [h for h in hits if h.category in ("request", "advance")
             and folded[h.start:h.end] in advance]
    if not ahead:
        return hits
    rest = [h for h in hits if not any(h is a for a in ahead)]
    wish = all(h.category in ("pleasantry", "greeting", "closing") for h in rest) and any(
        h.category == "pleasantry" and (h.words >= 2 or _JOINED_CHARS.search(
            folded[h.start:h.end])) for h in rest)
    thanks = any(h.category == "gratitude" for h in rest)
    kept = [replace(a, category="pleasantry" if wish else "request") for a in ahead
            if wish or thanks or a.category == "request"]
    return sorted(rest + kept, key=lambda h: h.start)


_THANKS_FILLER = frozenset({"pleasantry", "greeting", "gratitude", "closing"})


#: "thanks" as a word said on its own: after something wanted it closes a request ("We
#: would like a new laptop thanks"); the verbs ("bedanken", "podziękować", "remercier")
#: and "say thanks" are what is wanted
_THANKS_SAID = frozenset({
    "thanks", "thank", "thank you", "thx", "ty", "danke", "danke schön", "dankeschön", "merci",
    "gracias", "grazie", "obrigado", "obrigada", "bedankt", "dank je", "dank u", "tack", "tak",
    "takk", "kiitos", "dziękuję", "dzięki", "děkuji", "díky", "спасибо", "дякую", "teşekkürler",
    "شكرا", "شكراً", "ありがとう", "ありがとうございます", "谢谢", "감사합니다"})
#: verbs of saying: "wanted to say a massive thank you", "vil gerne sige tak"
_SAYING = frozenset({"say", "sagen", "dire", "decir", "dizer", "zeggen", "säga", "sige", "si",
                     "sanoa", "powiedzieć", "říct", "říci", "сказать", "сказати", "söylemek"})
#: what stands between the thanks and a wanting word that comes last (Turkish, Korean):
#: the thanking's own light verb ("teşekkür etmek istiyorum", "감사 인사 드리고 싶습니다")
_THANKING_VERB = frozenset({"etmek", "etmeyi", "인사", "드리고", "말씀", "전하고"})


def _wants_to_thank(want: Hit, thanks: Hit, hits: list[Hit], folded: str) -> bool:
    """The wanting word governs the thanks: it stands before it with at most two other
    words between (besides fillers) and no cue, and what is wanted is the thanking (a verb
    of thanks, "say" thanks, or nothing between: "ich möchte mich herzlich bedanken",
    "wanted to say a massive thank you", "I want to thank you"), not a thing the thanks
    closes ("We would like a new laptop thanks"); or, where the verb comes last (Turkish,
    Korean), it ends the clause after the thanks and its light verb ("teşekkür etmek
    istiyorum", "감사 인사 드리고 싶습니다"; not "Teşekkürler şifre istiyorum")."""
    if _asks_after(thanks, hits, folded):
        return False
    if thanks.start >= want.end:
        between = [h for h in hits if want.end <= h.start and h.end <= thanks.start]
        if any(h.category not in _THANKS_FILLER for h in between):
            return False
        words = [m.group() for m in _WORD.finditer(folded, want.end, thanks.start)
                 if not any(h.start <= m.start() and m.end() <= h.end for h in between)]
        said = folded[thanks.start:thanks.end] in _THANKS_SAID
        return len(words) <= 2 and (not words or not said or bool(set(words) & _SAYING))
    light = _WORD.findall(folded, thanks.end, want.start)
    return not _WORD.search(folded, want.end) and set(light) <= _THANKING_VERB


#: "and" in each language (Polish "i" and Czech "a" too, which ``_JOINS`` leaves out:
#: they are English words as well)
_AND = re.compile(r"(?<!\S)(?:and|und|et|y|e|en|och|og|ja|sekä|i|a|oraz|и|і|та|ve|و)\s"
                  r"|그리고|そして|并且|而且")


def _asks_after(thanks: Hit, hits: list[Hit], folded: str) -> bool:
    """After the thanks, a joining word and more than two words no list holds: a second
    thing wanted ("I wanted to thank you and ask for a new account", "Хочу поблагодарить и
    попросить ещё один доступ"), not "… you and the whole team for the fix"."""
    join = _AND.search(folded, thanks.end)
    if join is None:
        return False
    rest = [m for m in _WORD.finditer(folded, join.end()) if not any(
        h.start <= m.start() and m.end() <= h.end and h.category in HARMLESS for h in hits)]
    return len(rest) > 2


def _since_yesterday(hit: Hit, folded: str) -> bool:
    return hit.category == "qualifier" and folded[hit.start:hit.end] in _YESTERDAY and any(
        w in _SINCE for w in re.findall(r"[^\W\d_]+", folded[:hit.start]))


@functools.cache
def _packaged_model() -> SentenceModel:
    return SentenceModel.load()


def sentences(text: str) -> list[str]:
    """The sentences of a text as the body is read (for training the sentence judge)."""
    return [s.strip() for line in text.splitlines() for s in _SENTENCE.split(line) if s.strip()]


def clauses(sentence: str) -> list[str]:
    """The clauses of one sentence as the body is read."""
    return [c.strip() for c in _CLAUSE.split(sentence) if c.strip()]


def _bind_negations(hits: list[Hit], folded: str) -> tuple[frozenset[str], bool, int]:
    """What each negation, "gone" or resolution word in a clause applies to: the nearest
    problem or success word within a few words (what follows first: "without errors",
    "doesn't work"; else what precedes: "funktioniert nicht"). Returns what was negated
    ("solved": "doesn't work", "stopped working"; "problem": "no more errors"), whether
    a negation bound to nothing, and how many problem words stay unbound (live)."""
    hits, still = _not_gone(hits, folded)  # "not gone", "no longer prints": never over
    negations = any(h.category == "negation" for h in hits)
    # "mehr", "mere", "longer" say "no more" only beside a negation ("keine X mehr"), not
    # in a comparison ("larmer mere end den plejer")
    hits = [h for h in hits if negations or h.category != "gone"
            or folded[h.start:h.end] not in _COMPARATIVE]
    problems = [h for h in hits if h.category == "problem"]
    successes = [h for h in hits if h.category == "solved"]
    bound: set[int] = set()  # ids of problem hits a negation or a resolution cancels
    negated: set[str] = set(still)
    free = False
    again = any(h.category == "again" for h in hits)  # "broke again after the fix"
    for hit in hits:
        resolution = not again and hit.category == "solved" and _resolves(
            folded[hit.start:hit.end])
        if hit.category not in ("negation", "gone") and not resolution:
            continue
        if hit.category == "negation" and _concord(hit, hits, folded):
            continue
        targets = problems if resolution else problems + successes
        near = _nearest(hit, [t for t in targets if id(t) not in bound and t is not hit])
        if hit.category == "gone":  # "the error is gone": a problem first, else a success
            near = _nearest(hit, [p for p in problems if id(p) not in bound]) or near
        elif near is not None and near.end <= hit.start and _coordinated(near, hit, hits,
                                                                          folded):
            near = None  # "beeps twice and nothing goes in": the "not" is the second verb's
        if near is None:
            free = free or hit.category == "negation"
        elif near.category == "problem":
            bound.update(id(p) for p in problems if p is near or _gap(p, near) <= 10)
            if not resolution:
                negated.add("problem")
        else:
            negated.add("solved")  # "doesn't work", "works no longer", "stopped working"
    return frozenset(negated), free, sum(1 for p in problems if id(p) not in bound)


#: a negation that opens a second coordinate clause by itself: Finnish "eikä" (and not),
#: English "nor"; and one with Arabic "و" (and) joined to it ("وما يقرأ")
_AND_NOT = re.compile(r"^(?:eikä|eivätkä|enkä|emmekä|eika|nor)$")
#: a Korean verb joined by "-고" (and) to the next clause ("삑 울리고 입력이 안 들어가요")
_KO_AND = re.compile(r"[\uac00-\ud7af]고(?:\s|$)")


def _coordinated(target: Hit, negation: Hit, hits: list[Hit], folded: str) -> bool:
    """A negation after a problem or success word, with "and" between them (a second
    clause: "Сканер пищит два раза и ничего не вводит", "Lukija piippaa kaksi kertaa eikä
    mitään tule", "القارئ يصفّر مرتين وما يقرأ شيء"): it negates its own verb, not the word
    before the "and". A postfix negation ("エラーなく", "hata yok") binds backwards anyway,
    and so does the second of a pair around the word ("nie zawiesił się ani razu", "ولا
    انقطع ولا مرة": not once)."""
    if negation.postfix or any(h.category == "negation" and h is not negation and h.end <= (
            target.start) and _gap(h, target) <= _NEAR for h in hits):
        return False
    between = folded[target.end:negation.start]
    return bool(_AND.search(f" {between} ") or _KO_AND.search(between)
                or any(_AND_NOT.match(w) for w in (*between.split(), folded[
                    negation.start:negation.end]))
                or folded[negation.start - 1:negation.start] == "\u0648")


_NEGATED_FORM = re.compile(r"^(?:ne|не|nie|ні|ni)\w{3,}|\w{3,}(?:m[ae]d[ıi]|m[ıiuü]yor)\w*$"
                           r"|.+\syok$")  # "hiç hata yok": "hiç" strengthens "yok"
#: comparatives that are "gone" words only beside a negation
_COMPARATIVE = frozenset({"mehr", "mere", "mer", "meer", "længere", "lenger", "längre",
                          "langer"})


#: words that say "any more" only beside a negation: "not ... anymore" is "no longer", not a
#: thing that went away ("Skrivaren skriver inte ut längre": the printing stopped)
_PARTICLES_GONE = _COMPARATIVE | frozenset({"anymore", "any more", "any longer", "longer",
                                            "enää", "mais", "더 이상"})
#: a "gone" word that holds a negation of its own ("不见了", "出なくなりました", "안 뜹니다")
_NEGATION_INSIDE = re.compile(r"不|没|未|無|无|ない|なく|않|^안 |^못")
#: multi-word "gone" entries that are a verb of going away ("went away", "se fue", "va via")
_AWAY = re.compile(r"\b(?:away|via|embora|fue|va|ido|weg|væk|bort)\b")
#: negations that are a subject or a "without", not a verb's negation: "nothing disappeared",
#: "verschwunden ohne Neustart" say nothing is missing
_NOT_VERBAL = frozenset({
    "nothing", "nobody", "no one", "without", "nichts", "niemand", "ohne", "rien", "sans",
    "personne", "nada", "nadie", "sin", "niente", "nulla", "nessuno", "senza", "ninguém", "sem",
    "niets", "niks", "zonder", "inget", "ingenting", "utan", "intet", "uden", "uten", "nic",
    "nikt", "bez", "nikdo", "ничего", "никто", "без", "нічого", "ніхто", "ilman", "kukaan",
    "mitään", "kimse", "olmadan", "بدون"})
#: verb negations that stand after the verb (V2 languages): "Felmeddelandet försvinner inte",
#: "Die Meldung verschwindet nicht", "ne disparaît pas"
_AFTER_VERB = frozenset({"nicht", "niet", "inte", "ej", "ikke", "pas"})
#: verb negations whose "any more" particle may stand at the clause's end, with the verb
#: between ("kan inte logga in längre", "skriver ikke ut lenger", "ei tulosta enää")
_VERB_NEGATIONS = frozenset({"not", "never", "nicht", "nie", "niemals", "inte", "ej", "aldrig",
                             "ikke", "aldri", "niet", "nooit", "ei", "eivät", "emme", "ette"})


def _gone_verb(hit: Hit, folded: str) -> bool:
    """A "gone" word that is itself the going away ("disappeared", "verschwunden", "zniknął",
    "زالت", "사라지"), not an "any more" particle or a word with its own negation."""
    text = folded[hit.start:hit.end]
    if hit.category != "gone" or text in _PARTICLES_GONE or _NEGATION_INSIDE.search(text):
        return False
    return not re.search(r"\s", text) or bool(_AWAY.search(text))


def _not_gone(hits: list[Hit], folded: str) -> tuple[list[Hit], frozenset[str]]:
    """A negation bound to a verb of going away says the problem is still there ("The error
    did not go away", "O erro não sumiu", "Błąd nie zniknął", "ما زالت المشكلة موجودة",
    "오류가 사라지지 않았습니다", "Die Meldung verschwindet nicht"): a negated "gone" (and a
    negated success: "solved" too), never a confirmation; the pair is taken out of the
    binding, so the problem word beside it stays live. And a verb's negation with an "any
    more" particle later in a clause that names no problem and no success says something no
    longer happens ("Skrivaren skriver inte ut längre", "Jag kan inte logga in längre"): a
    negated success, as "druckt nicht mehr" is; with a problem word it stays "no more X"
    ("Felet dyker inte upp längre")."""
    negations = [h for h in hits if h.category == "negation"
                 and folded[h.start:h.end] not in _NOT_VERBAL]
    particles = [h for h in hits if h.category == "gone" and folded[h.start:h.end] in
                 _PARTICLES_GONE]
    if not negations and not particles:
        return hits, frozenset()
    for gone in (h for h in hits if _gone_verb(h, folded)):
        for neg in negations:
            text = folded[neg.start:neg.end]
            if neg.end <= gone.start and not neg.postfix:
                between = folded[neg.end:gone.start]
            elif gone.end <= neg.start and (neg.postfix or text in _AFTER_VERB) and (
                    text != "pas" or re.search(r"\bn(?:e\s|')", folded[:gone.start])):
                between = folded[gone.end:neg.start]
            else:
                continue
            if len(_WORD.findall(between)) <= 1 and not _AND.search(between + " ") and not any(
                    h is not neg and h is not gone and min(neg.end, gone.end) <= h.start
                    and h.end <= max(neg.start, gone.start) and h.category != "pleasantry"
                    for h in hits):  # "non è sparito": a filler between
                return [h for h in hits if h is not neg and h is not gone], frozenset(
                    {"gone", "solved"})
    for particle in particles:  # "The app does not open any more": a negated verb (a
        # problem entry "does not") with an unlisted verb between, then "any more"
        before = [h for h in hits if h.category == "problem" and h.end <= particle.start]
        if before and set(_WORD.findall(folded, before[-1].start, before[-1].end)) & \
                _VERB_NEGATIONS and _WORD.search(folded, before[-1].end, particle.start):
            return hits, frozenset({"solved"})
    if any(h.category in ("problem", "solved") for h in hits):
        return hits, frozenset()
    for neg in negations:
        if folded[neg.start:neg.end] in _VERB_NEGATIONS and any(
                h.start >= neg.end and _WORD.search(folded, neg.end, h.start) for h in particles):
            return hits, frozenset({"solved"})
    return hits, frozenset()


#: "as before", "no change", "老样子": the fix changed nothing, a remaining problem; beside a
#: success, a "gone" or an "again" word it is how things work now ("funziona come prima",
#: "alles wieder wie vorher")
_UNCHANGED = re.compile(
    r"(?<!\w)(?:(?:the )?same as before|as before|no change|no difference|nothing (?:has )?"
    r"changed|unchanged|wie vorher|wie zuvor|beim alten|keine (?:veränderung|änderung)|"
    r"unverändert|nichts (?:hat sich )?(?:geändert|verändert)|comme avant|rien n'a changé|"
    r"aucun changement|inchangée?|como antes|igual que antes|sigue igual|ningún cambio|nada "
    r"(?:ha )?cambiado|nada cambió|come prima|uguale a prima|tutto uguale|nessun cambiamento|"
    r"niente è cambiato|non è cambiato nulla|non è cambiato niente|igual a antes|continua igual|"
    r"nada mudou|nenhuma mudança|zoals eerst|zoals voorheen|zoals daarvoor|geen verschil|geen "
    r"verandering|niets veranderd|onveranderd|som förut|som innan|ingen skillnad|ingen "
    r"förändring|oförändrat|inget har ändrats|som før|ingen forskel|ingen ændring|uændret|"
    r"ingen forskjell|ingen endring|uendret|kuten ennen|niin kuin ennen|ei muutosta|ennallaan|"
    r"jak wcześniej|jak przedtem|po staremu|bez zmian|nic się nie zmieniło|jako předtím|beze "
    r"změny|nic se nezměnilo|как (?:и )?раньше|без изменений|ничего не изменилось|як (?:і )?"
    r"раніше|без змін|нічого не змінилося|eskisi gibi|değişiklik yok|hiçbir şey değişmedi|"
    r"değişmedi)(?!\w)"
    r"|كما كان|لم يتغير|لا تغيير|بدون تغيير|لا يوجد تغيير|変わらず|変わりません|変化なし|"
    r"変化がありません|前と同じ|和以前一样|跟以前一样|与之前一样|还是一样|老样子|没有变化|没变化|"
    r"没有任何变化|没什么变化|변화가 없|변화 없|달라진 게 없|달라진 것이 없")


def _unchanged(hits: list[Hit], folded: str) -> list[Hit]:
    """A clause that says nothing changed ("Tutto come prima", "Bez zmian", "没有变化") holds
    a problem word there, in place of what the lists read in those words; unless it also
    says something works, is gone or is back."""
    found = _UNCHANGED.search(folded)
    if found is None or any(h.category in ("solved", "gone", "again") and (
            h.end <= found.start() or h.start >= found.end()) for h in hits):
        return hits
    start, end = found.span()  # its own negation ("Hiçbir değişiklik yok") negates nothing else
    kept = [h for h in hits if (h.end <= start or h.start >= end) and not (
        h.category == "negation" and _gap(h, Hit(start, end, "problem", 1)) <= _NEAR)]
    return sorted([*kept, Hit(start, end, "problem", max(1, len(found.group().split())))],
                  key=lambda h: h.start)


def _fused_but(hits: list[Hit], folded: str) -> list[Hit]:
    """Korean "but" fused to a verb's ending ("감사합니다만 변화가 없습니다": thank you, but
    there is no change; "잘 됩니다만"): a contrast after thanks or a success."""
    out = list(hits)
    for hit in hits:
        if hit.category in ("gratitude", "solved", "apology") and \
                folded[hit.end:hit.end + 1] == "만" and "\uac00" <= folded[hit.end - 1] <= "\ud7af":
            out.append(Hit(hit.end, hit.end + 1, "contrast", 1))
    return sorted(out, key=lambda h: h.start) if len(out) > len(hits) else hits


def _concord(hit: Hit, hits: list[Hit], folded: str) -> bool:
    """A negation that only strengthens the next one (negative concord: "ни разу не
    упал", "ani razu się nie wysypał", "ani jednou nespadl", "bir kez bile çökmedi"): the
    later negation, or a success word that is itself a negated problem verb, decides."""
    for other in hits:
        if other is hit or other.start < hit.end or _gap(hit, other) > _NEAR:
            continue
        if other.category == "negation" or (other.category == "solved" and _NEGATED_FORM.match(
                folded[other.start:other.end])):
            return True
    return False


def _nearest(hit: Hit, targets: list[Hit]) -> Hit | None:
    """The problem or success word a negation binds to: the nearest one after it (before
    it for a postfix negation), else before it; "gone" binds the nearest on either side
    ("Feilmeldingen er borte og backupen gikk fint": the error message is gone)."""
    after = [t for t in targets if t.start >= hit.end and _gap(hit, t) <= _NEAR]
    before = [t for t in targets if t.end <= hit.start and _gap(hit, t) <= _NEAR]
    if hit.postfix:  # Japanese, Korean, Turkish "yok" negate what stands before: "エラーなく"
        after = []
    pool = after + before if hit.category == "gone" else after or before
    return min(pool, key=lambda t: _gap(hit, t)) if pool else None


_NEAR = 24  # characters between a negation and the word it negates
# success words that say a problem was resolved (the problem word beside them is over);
# "works", "loads" do not ("loads slowly" is a problem)
_RESOLUTION = ("solv", "resolv", "fixed", "fix ", "fixing", "sorted", "gelöst", "behoben",
               "beheb", "lösen", "erledigt", "oploss", "verhelp", "ушл", "ушел",
               "résolu", "réglé", "corrigé", "resuelt", "solucionad", "arreglad", "risolt",
               "sistemat", "resolvid", "corrigid", "opgelost", "verholpen", "löst", "åtgärd",
               "fikset", "løst", "ratke", "ratkaist", "korjat", "rozwiązan", "naprawion", "gideril",
               "vyřešen", "opraven", "решен", "решён", "исправлен", "устранен", "вирішен",
               "виправлен", "усунен", "çözül", "giderildi", "düzeldi", "halloldu", "تم الحل",
               "تم حل", "انحل", "تم إصلاح", "تم اصلاح", "解決", "解消", "復旧", "解决", "修复",
               "修好", "해결", "복구")


#: in scripts without spaces a resolution word stands inside a longer match ("问题已解决",
#: "已经解决"): found anywhere in it
_JOINED_RESOLUTION = tuple(r for r in _RESOLUTION if re.search(
    r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]", r))


def _resolves(text: str) -> bool:
    """A success word that says a problem was resolved ("gelöst", "已解决")."""
    return text.startswith(_RESOLUTION) or any(r in text for r in _JOINED_RESOLUTION)


def _gap(a: Hit, b: Hit) -> int:
    return max(0, b.start - a.end, a.start - b.end)


def _uncovered(folded: str, covered: list[tuple[int, int]]) -> str:
    """``folded`` with the lexicon's matches blanked out (what no list knows)."""
    out, at = [], 0
    for start, end in covered:
        out += [folded[at:start], " " * (end - start)]
        at = end
    return "".join([*out, folded[at:]])


def _joined_words(folded: str, covered: list[tuple[int, int]]) -> int:
    """Words of joined scripts counted by the word splitter (they are counted by
    characters instead)."""
    return sum(1 for m in _WORD.finditer(folded) if _JOINED_CHARS.search(m.group()) and not any(
        cs <= m.start() and m.end() <= ce for cs, ce in covered))


def substantive_reason(clause: Clause) -> str | None:
    """Why this clause asks for something, or None if it does not."""
    c, negated = clause.categories, clause.negated
    if clause.question:
        return "a question"
    if "delivery" in c:
        return "something sent for the team to look at"
    if "contrast" in c:
        return "a 'but' or 'still'"
    if "request" in c:
        return "a request"
    if "gone" in negated:
        return "a problem said not to be gone"
    if "conditional" in c:  # "ni kan stänga ärendet efter testet" (consent.py)
        return "a close tied to a time, a condition or a second thing"
    if "solved" in negated:
        return "a negated success"
    if clause.live_problems:
        return "a problem"  # "the problem is solved" is not one; "loads slowly" is
    # "thanks again", "Hallo nochmal", "works again"; and beside a problem said to be gone
    # ("error's gone and the invoices post again"), "again" tells the recovery (not beside
    # a negation alone: "Yine aynı hata, fiş yazmıyor" reads as "no error" to the rules)
    # a greeting word anchors "again" only in a greeting ("Hallo nochmal"), not a time in a
    # sentence ("the screen went black again this morning")
    anchored = c & (_ANCHORS - {"greeting"}) or ("greeting" in c and clause.unknown <= 1)
    if "again" in c and not anchored and not ("gone" in c and _over(clause)):
        return "'again' without a success"
    if "qualifier" in c and ("solved" in c or not c & {"gratitude", "apology", "greeting"}):
        return "a partial success"  # "worked yesterday", "works until a reboot"
    if "gone" in c and not c & {"problem", "solved", "negation"}:
        return "something gone"  # "the VPN is gone again", not "no errors any more"
    if clause.free_negation and clause.unknown and "gone" not in c:
        return "a negation"  # "no X anymore" says X is over, whatever X is
    return None


def understand(understanding: Understanding, inbound: Inbound,
               known: Sequence[str] = ()) -> Verdict:
    """Read the reply ``inbound`` (see the module docstring); ``known`` are the texts of
    the ticket's stored messages, which its quoted history should hold."""
    parts = reply_parts(inbound.text)
    if inbound.attachments:  # "Anbei ein Foto vom Testdruck" points at the file it carries
        parts = replace(parts, text=_without_pointers(understanding, without_attaching(
            understanding, parts.text)))
    return judge(understanding, parts, inbound.from_name, unseen_history(parts.history, known))


#: words that point at a file the mail carries ("attached", "anbei", "ci-joint", "添付")
_POINTER = re.compile(
    r"(?i)\b(?:attached|attachment|see att|enclosed|anbei|im anhang|angehängt|beigefügt|"
    r"ci-joint|pièce jointe|en pj|adjunto|adjunta|te adjunto|allegat[oaie]|in allegato|"
    r"em anexo|segue anexo|anexad[oa]|bijgevoegd|in de bijlage|bijlage|bifogat|bifogar|"
    r"vedhæftet|vedhæfter|vedlagt|vedlegg|liitteenä|liitteessä|w załączniku|załączam|"
    r"v příloze|přikládám|во вложении|прикладываю|прилагаю|у вкладенні|додаю|ekte|ekteki|"
    r"ekledim)\b|مرفق|添付|附件|附上|첨부")


def _without_pointers(understanding: Understanding, text: str) -> str:
    """``text`` without the sentences that only point at the mail's attachment ("Attached
    a photo of the test print", "Foto anbei", "添付の写真をご覧ください"): with a file in
    the mail they say nothing to act on by themselves (the team gets the file with the
    notice); one that also asks, reports a problem or says "but" stays."""
    out = []
    for line in text.splitlines():
        kept = [sentence for sentence in _SENTENCE.split(line)
                if not _pointer_only(understanding, sentence)]
        out.append(". ".join(s.strip() for s in kept if s.strip()) if len(kept) < len(
            _SENTENCE.split(line)) else line)
    return "\n".join(out)


def _pointer_only(understanding: Understanding, sentence: str) -> bool:
    words = max(len(sentence.split()), len(_JOINED_CHARS.findall(sentence)) // 2)
    if not _POINTER.search(sentence) or words > 7 or PURPOSE.search(sentence):
        return False
    said = understanding.clause(sentence)
    return not said.question and not (said.categories & POINTER_CUES) \
        and not said.live_problems


_FIELD = re.compile(r"^[\w\-. ]{1,25}\s?[:：]\s")  # "Von: ...", "Sent: ...", "差出人: ..."
_MAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", fold(text)))


def unseen_history(history: str, known: Sequence[str]) -> str:
    """The lines of a reply's quoted history that none of the ticket's messages holds:
    words the customer wrote into or below an unmarked history block (Outlook's
    "Original Message" style), which the cut would otherwise throw away with it.
    Header fields, attribution lines and short lines (names, greetings) are left out;
    empty when nothing is ``known`` (no ticket to compare with)."""
    if not known or not history:
        return ""
    corpus = _norm(" ".join(known))
    unseen = []
    for line in history.splitlines()[:400]:
        text = line.lstrip(" >").replace("**", "").strip()  # html2text's bold field names
        norm = _norm(text)
        if len(norm) < 12 or _FIELD.match(text) or text.endswith((":", "：")) or \
                _MAIL.search(text) or is_separator(text) or norm in corpus:
            continue
        unseen.append(text)
    return "\n".join(unseen)


def judge(understanding: Understanding, parts: ReplyParts,
          sender_name: str | None = None, unseen: str = "") -> Verdict:
    """The verdict on a reply's parts (its new text, signature and late text) and on
    ``unseen`` lines of its quoted history (see ``unseen_history``)."""
    if len(parts.text) > MAX_TEXT:
        return Verdict(False, f"long new text ({len(parts.text)} characters)")
    names = frozenset(fold(w) for w in re.findall(r"[^\W\d_]+", sender_name or ""))
    parts = _with_bottom_text(understanding, parts, names)
    parts, promised = _without_promises(understanding, parts)
    read = _read_body(understanding, parts.text, names)
    if isinstance(read, Verdict):
        return read
    signature = "\n".join(without_notices(parts.signature.splitlines()))  # as _with_rest
    for zone, text in (("signature", signature), ("text below the quote", parts.late)):
        late = _read_late(understanding, text[:MAX_TEXT], names, zone)  # bounded work
        if isinstance(late, Verdict):
            return late
        read += late
    if unseen:  # words in the history that the ticket never saw: read as strictly as the body
        inside = _read_body(understanding, unseen[:MAX_TEXT], names)
        if isinstance(inside, Verdict):
            return Verdict(False, f"{inside.reason} (in the quoted history, in no message"
                                  " of the ticket)")
        read += inside
    return _verdict(praised(read + promised))  # "Funcionou! Vocês são demais"


def _without_promises(understanding: Understanding, parts: ReplyParts
                      ) -> tuple[ReplyParts, list[Clause]]:
    """The parts with each conditional promise cut out ("I'll let you know if it happens
    again": ``asides.promises``), and those promises as pleasantries."""
    found: list[Clause] = []
    texts = []
    for text in (parts.text, parts.signature, parts.late):
        kept, cut = promises(understanding, text)
        texts.append(kept)
        found += [Clause(c, frozenset({"pleasantry", "promise"}), 0, False) for c in cut]
    return replace(parts, text=texts[0], signature=texts[1], late=texts[2]), found


def _with_bottom_text(understanding: Understanding, parts: ReplyParts,
                      names: frozenset[str]) -> ReplyParts:
    """Where an old message below an unquoted header block ends is known (its sign-off),
    what follows it is the customer's: below the first old message, the new text when
    nothing stands above the history (bottom posting), else the text below the quote (in
    place of what the quote cutter guessed: a "P.S." or "Update on [SUP-1]: …" inside the
    old message is not theirs); below the last of several, a remark added there."""
    messages, quoted = quoted_messages(parts.history) if parts.history else ([], False)
    if not messages or quoted:
        return parts
    if len(messages) > 1:  # the deepest is often the customer's own: their name signs it
        below = _below_sign_off(understanding, messages[-1], frozenset())
        return replace(parts, late=f"{parts.late}\n\n{below}".strip()) if below else parts
    below = _below_sign_off(understanding, messages[0], names)
    if below is None:
        return parts
    # the cutter's late text stays (a rule or a "P.S." the customer set inside the old
    # message), unless it starts like the old message's own heading ("Opdatering på
    # [SUP-1]: …", "Update on your ticket: …")
    late = "" if AFTERTHOUGHT.match(parts.late) and _OLD_HEADING.match(parts.late) \
        else parts.late
    if not re.search(r"[^\W\d_]", parts.text):
        return replace(parts, text=below, late=late)
    return replace(parts, late=f"{late}\n\n{below}".strip())


#: an update word, more words, then a colon: how a desk's message opens ("Opdatering på
#: [SUP-1]:"), not a customer's "P.S." or "Update:"
_OLD_HEADING = re.compile(r"^\s*(?!p\.?\s?p?\.?\s?s\b|n\.\s?b\.|追伸|추신)"
                          r"(?=\S)[^\W\d_]+(?<!\.)\s+[^:\n]{1,40}:")


def bottom_posted(understanding: Understanding, history: str,
                  names: frozenset[str]) -> str | None:
    """The text below an unquoted quoted message that nothing follows (see
    ``_below_sign_off``); None when its end is unknown or more history follows."""
    messages, quoted = quoted_messages(history)
    if len(messages) != 1 or quoted:
        return None
    return _below_sign_off(understanding, messages[0], names)


def _below_sign_off(understanding: Understanding, lines: list[str],
                    names: frozenset[str]) -> str | None:
    """What follows an old message's sign-off (a paragraph that opens with a closing
    formula or a name that is not one of ``names``: "Hezký den / Jan Novák", "박성민 드림",
    "Максим Бондаренко"), past the signature paragraphs joined to it (a rule, a contact
    line); None when it has no such sign-off: where it ends is then unknown."""
    paragraphs = _paragraphs(lines)
    for n, (start, end) in enumerate(paragraphs[1:], 1):
        after = lines[paragraphs[n + 1][0]:paragraphs[n + 1][1]] if n + 1 < len(
            paragraphs) else []
        if not _sign_off(understanding, lines[start:end], names, after):
            continue
        rest = [p for p in paragraphs[n + 1:] if not _signature_paragraph(lines[p[0]:p[1]])]
        if not rest:
            return ""
        return "\n".join(strip_disclaimers(strip_signature(lines[rest[0][0]:]))).strip()
    return None


def _paragraphs(lines: list[str]) -> list[tuple[int, int]]:
    """(start, end) of each paragraph; where every line stands apart (HTML mail turned to
    text), paragraphs are parted by two blank lines or more."""
    gap = 2 if any(not a.strip() and not b.strip() for a, b in pairwise(lines)) else 1
    out: list[tuple[int, int]] = []
    blanks = gap
    for k, line in enumerate(lines):
        if not line.strip():
            blanks += 1
        elif blanks >= gap or not out:
            out.append((k, k + 1))
            blanks = 0
        else:
            out[-1] = (out[-1][0], k + 1)
            blanks = 0
    return out


def _sign_off(understanding: Understanding, block: list[str], names: frozenset[str],
              after: Sequence[str] = ()) -> bool:
    """A paragraph that closes a message: a closing formula ("Mit freundlichen Grüßen",
    "박성민 드림"), a short formula with a name below it ("Cheers,\nCallum Reid", "祝工作顺利！
    \n陈浩", "Abs,\nBruno Carvalho"), or a name alone; the name is not the reply's sender's.
    A closing formula alone on its paragraph needs the signature or a name (not the
    sender's) ``after`` it: "Viele Grüße" closing the customer's own answer is not it."""
    text = [line.strip() for line in block if line.strip()]
    if len(text[0]) > 40 or len(text[0].split()) > 5:  # a sentence, not a sign-off
        return False
    said = [understanding.clause(c) for c in _CLAUSE.split(text[0]) if c.strip()]
    if not said:
        return False
    closing = any("closing" in c.categories for c in said) and all(
        "closing" in c.categories or c.unknown <= 2 for c in said)
    formula = (len(text[0].split()) <= 4 and any(c.categories for c in said) and all(
        c.unknown <= 1 and c.categories <= _FORMULA for c in said)) or (
        len(text[0].split()) <= 2 and text[0].endswith(",")  # "Abs,\nBruno Carvalho"
        and not any("greeting" in c.categories for c in said))
    if closing and len(text) == 1:
        if any(c.unknown for c in said):  # "박성민 드림", but not "Gruß, Jens" (the sender)
            return not {fold(w) for w in re.findall(r"[^\W\d_]+", text[0])} & names
        below = after[0].strip() if after else ""  # "Viele Grüße" alone: what follows?
        if not (after and (_signature_paragraph(list(after)) or _bare_name(understanding,
                                                                            below))):
            return False
        text = [text[0], below]
    if closing or formula:
        name = text[1] if len(text) > 1 else ""
        if not closing and not (name and _name_like(name)
                                and not re.search(r"\d|[.!?,:;。！？]$", name)):
            return False
    elif _bare_name(understanding, text[0]):
        name = text[0]
    else:
        return False
    own = {fold(w) for w in re.findall(r"[^\W\d_]+", name)}
    return not (own and own <= names)


_FORMULA = frozenset({"gratitude", "pleasantry", "closing"})


def _bare_name(understanding: Understanding, line: str) -> bool:
    """A line that is only a name ("Katrin Wolf", "عمر الزهراني", "李明")."""
    words = line.split()
    return 1 <= len(words) <= 3 and not re.search(r"[\d.,!?:;。！？，、]\s*$|\d", line) and (
        _name_like(line) or bool(_ARABIC.search(line))) and (
        # "Eva de Graaf": a capitalised name may hold a word some language lists
        not (said := understanding.clause(line).categories) or (
            said <= {"pleasantry"} and line != line.lower()))


_ARABIC = re.compile(r"[\u0600-\u06ff]")


def _signature_paragraph(block: list[str]) -> bool:
    """A paragraph of the quoted message's signature: rules, contact lines, "|" lines,
    names and firm lines ("━━━━ / 株式会社Example ITサポートデスク / 鈴木 美咲 / TEL: …",
    "IT podpora | Example s.r.o."); a rule above a sentence or a "P.S." ("-------\nUpdate
    von mir: …", "-----\nPS bitte Drucker prüfen") is the customer's."""
    lines = [line.strip() for line in block if line.strip()]
    return any(_RULE.match(line) or _CONTACT.search(line) or "|" in line for line in lines) \
        and all(_RULE.match(line) or (not AFTERTHOUGHT.match(line) and not _QUESTION.search(
            line) and (_CONTACT.search(line) or "|" in line or _name_like(line)))
            for line in lines)


def _read_body(understanding: Understanding, text: str,
               names: frozenset[str]) -> list[Clause] | Verdict:
    """The clauses of the body, up to the signature (after a closing formula, a rule, a
    short contact or device line), which is read as ``_read_late`` reads: a question, a
    request, a problem or a "P.S." there still counts. A verdict if one is substantive."""
    clauses: list[Clause] = []
    lines = text.splitlines()
    for k, line in enumerate(lines):
        if not line.strip():
            continue
        short = len(line.split()) <= 6 and len(_JOINED_CHARS.findall(line)) <= 20 and \
            not _CLOCK.search(line)  # "since 10:15 anna@x gets this:" is no contact line
        if clauses and (_RULE.match(line) or (_CONTACT.search(line) and (
                short or _contact_parts(line))) or
                        _signs(line, names) or _firm_of(line, lines[k + 1:], names) or
                        _register_line(line) or (_ADDRESS.search(line) and short) or (
                _DEVICE.search(line) and len(line.split()) <= 8)):
            return _with_rest(clauses, understanding, lines[k:], names)
        if clauses and _nickname(line, names):  # "Ale" for Alessandro: a sign-off
            continue
        line_clauses: list[Clause] = []
        for sentence in _SENTENCE.split(line):
            said = [understanding.clause(c, names, languages=True)
                    for c in _CLAUSE.split(sentence) if c.strip()]
            said = consenting(understanding, said)  # "podem encerrar o chamado"
            for i, clause in enumerate(said):
                why = substantive_reason(clause)
                soft = why in _SOFT or (why == "a partial success" and "solved" not in
                                        clause.categories)  # "yesterday", no success word
                again = _bare_again(clause, why)
                cue = _word_cue(clause, why)
                if why and not ((soft or again or cue) and
                                _judge(understanding, clause, again, cue)):
                    return Verdict(False, f"{why}: {clause.text[:80]!r}")
                if why:  # the judge read it as harmless ("Alt ligger i skyen igen")
                    said[i] = _judged(understanding, clause, again, cue)
            # a clause counts as thanks only by its own words: "works on the laptop, the
            # desktop shows a black screen" lends the second clause nothing
            line_clauses += [_read_alone(understanding, _without_names(c, names))
                             for c in said]
        # "Servus Stefan," / "Ciao Marco," opening the mail greets: a closing word there
        # does not end the body
        greets = not clauses and line.rstrip().endswith(",")
        clauses += line_clauses
        # a closing formula is short: a "closing" word inside a sentence of other words
        # (Portuguese "Att." in Swedish "lättare att jobba", "att" being "to") closes nothing
        if line_clauses and not greets and all(_closes(c) or c.unknown == 0
                                               for c in line_clauses) and any(
                _closes(c) for c in line_clauses):
            return _with_rest(clauses, understanding, lines[k + 1:], names)
    return clauses


def _closes(clause: Clause) -> bool:
    """A clause that is a closing formula ("Mit freundlichen Grüßen", "Best, Ana"): a
    closing word with at most two words no list knows (a sentence the judge had to clear
    is none)."""
    return "closing" in clause.categories and clause.unknown <= 2 and clause.judged is None


#: the reason the sentence judge may overrule: a negation bound to no listed word ("без
#: зсуву", "no bother") says nothing by itself, nor does a time word without a success
#: ("что вчера столько раз звонила"); a question, "but", a request, a live problem, a
#: negated success, a partial success ("worked yesterday"), "again" (unless ``_bare_again``)
#: or "gone" decide
_SOFT = frozenset({"a negation"})


#: the words an "again" clause the judge may clear holds besides "again": fillers only, no
#: problem, negation, qualifier, "but" or request word ("the orders come in again")
_AGAIN_ALONE = frozenset({"again", "pleasantry"})


def _bare_again(clause: Clause, why: str | None) -> bool:
    """An "again" clause whose verb no list knows ("die Buchungen trudeln wieder ein"):
    the judge, trained on "X broke again" / "X works again" in every language, decides;
    a clause with a problem, a negation or a qualifier beside "again" is never judged."""
    return why == "'again' without a success" and clause.categories <= _AGAIN_ALONE \
        and not clause.free_negation


#: reasons that rest on one word of the lexicon, not on the mail's punctuation: a request
#: word ("alvast", "gerne"), an interrogative word with no question mark ("Vad skönt",
#: "Quel confort"), a "still" word ("Prettige avond nog"); the lexicon's words have more
#: senses than one, so the judge may clear such a clause, by the file's own cue threshold
_WORD_CUES = frozenset({"a request", "a 'but' or 'still'", "a question"})


def _word_cue(clause: Clause, why: str | None) -> bool:
    """A clause that is substantive only by a word cue: no question mark, no thanks (a
    request word beside thanks is "thanks in advance": "Alvast bedankt", "Danke im
    Voraus"), and without the cue words nothing decisive is left (no live problem,
    negated success, "again")."""
    if why not in _WORD_CUES or _QUESTION.search(clause.text) or \
            "gratitude" in clause.categories:
        return False
    rest = replace(clause, question=False,
                   categories=clause.categories - {"request", "contrast", "interrogative"})
    return substantive_reason(rest) in (None, *_SOFT)


def tags(clause: Clause) -> list[str]:
    """What the lexicon read in a clause, as features for the sentence judge."""
    return [*sorted(clause.categories), *(f"not-{n}" for n in sorted(clause.negated)),
            *(["free-negation"] if clause.free_negation else []),
            *(["live-problem"] if clause.live_problems else [])]


JUDGE_WORDS = 12  # a longer clause is judged in parts of at most this many words


def _judge(understanding: Understanding, clause: Clause, again: bool = False,
           cue: bool = False) -> float | None:
    """The sentence judge's P(harmless) of a clause, if it is confident (for an "again"
    clause, a word cue or a problem word, by the model's own threshold for it too); else
    None. Confirmations are short ("Alla bilar är nedladdade nu"): a long clause is judged
    in parts (``judge_parts``), each of which must be harmless, none ask or report a problem
    (the judge was trained on clauses, not on whole long sentences)."""
    model = understanding.model
    if model is None:
        return None
    if _words(clause.text) <= JUDGE_WORDS:
        return model.harmless(clause.text, tags(clause), again=again, cue=cue,
                              problem="problem" in clause.categories)
    scores = []
    for piece in judge_parts(clause.text):
        read = understanding.clause(piece)
        why = substantive_reason(read)
        if _QUESTION.search(piece) or why not in (None, *_SOFT, _AGAIN):
            return None
        score = model.harmless(piece, tags(read), again=again or why == _AGAIN, cue=cue,
                               problem=bool({"problem"} & (clause.categories | read.categories)))
        if score is None:
            return None
        scores.append(score)
    return min(scores)


_AGAIN = "'again' without a success"


def _words(text: str) -> int:
    return max(len(text.split()), len(_JOINED_CHARS.findall(text)) // 3)


#: where a long clause parts into shorter statements: "and", "that", "so" in each language
#: ("Just to let you know | Claire logs in fine | with the new laptop")
_JOINS = re.compile(
    r"(?<!\S)(?:and|that|so|und|dass|sodass|et|que|y|e|che|dat|och|att|og|ja|että|oraz|"
    r"że|že|и|что|і|та|що|ve|ki)\s|(?<=\S)(?:그리고|그래서|そして|ので|から|并且|而且|所以)",
    re.IGNORECASE)


def judge_parts(text: str) -> list[str]:
    """A long clause parted at its joining words ("Just to let you know | Claire logs in
    fine"), each part short enough to judge (a longer one read in overlapping runs)."""
    pieces = [p.strip() for p in _JOINS.split(text) if p and p.strip()]
    return [w for p in pieces for w in _windows(p)]


def _windows(text: str) -> list[str]:
    """A part still longer than ``JUDGE_WORDS``: overlapping runs of that many words (of
    characters, in a script without spaces), so every word is judged beside its neighbours."""
    if _words(text) <= JUDGE_WORDS:
        return [text]
    tokens = text.split()
    if JUDGE_WORDS // 2 <= len(tokens) <= JUDGE_WORDS:  # "مرتبطة بالنظام", "없어져서": a word
        return [text]  # of many letters, counted in spaces
    if len(tokens) < JUDGE_WORDS // 2:  # few spaces, many characters: runs of characters
        size = 3 * JUDGE_WORDS
        return [text[i:i + size] for i in [*range(0, len(text) - size, size // 2),
                                           max(0, len(text) - size)]]
    starts = [*range(0, len(tokens) - JUDGE_WORDS, JUDGE_WORDS // 2), len(tokens) - JUDGE_WORDS]
    return [" ".join(tokens[i:i + JUDGE_WORDS]) for i in starts]


def _judged(understanding: Understanding, clause: Clause, again: bool = False,
            cue: bool = False) -> Clause:
    return replace(clause, judged=_judge(understanding, clause, again, cue), unknown=0)


def needs_judge(clause: Clause) -> bool:
    """Whether the rules leave a clause to the sentence judge: it neither thanks, says it
    works, apologises or greets (or has too many unknown words for one that does), nor
    is it a name or a sign-off line."""
    if _own_anchor(clause):
        return clause.unknown > UNKNOWN_IN_CLAUSE
    return not (_name_like(clause.text) and clause.unknown <= UNKNOWN_ELSEWHERE)


def _read_alone(understanding: Understanding, clause: Clause) -> Clause:
    """A clause as it counts for the verdict: by its own words ("works on the laptop, the
    desktop shows a black screen" lends the second clause nothing). A clause that is
    neither anchored nor a name, or has too many unknown words, is news unless the
    sentence judge is confident it only says that things work ("Documents are signed")."""
    if clause.judged is not None:
        return clause
    if _SELF_INTRO.match(clause.text):  # "中村クリニックの中村です": who writes, not news
        return replace(clause, unknown=0)
    if not needs_judge(clause):
        return clause if _own_anchor(clause) else _unanchored(clause)
    score = _judge(understanding, clause)
    if score is not None:
        return replace(clause, judged=score, unknown=0)
    return clause if _own_anchor(clause) else _unanchored(clause)


def _with_rest(clauses: list[Clause], understanding: Understanding, rest: list[str],
               names: frozenset[str]) -> list[Clause] | Verdict:
    """The body's clauses, and what the signature below them says (its legal notices
    left out: they speak of errors and ask to notify the sender)."""
    late = _read_late(understanding, "\n".join(without_notices(rest)), names, "signature")
    return late if isinstance(late, Verdict) else clauses + late


def _own_anchor(clause: Clause) -> bool:
    """The clause itself thanks, says it works, apologises, greets or closes (or is a
    pleasantry with nothing else in it: "Have a good evening")."""
    anchors = clause.categories & _ANCHORS
    if anchors == {"closing"} and not _closes(clause):  # "0 kr" (kronor) is no "KR" sign-off
        anchors = frozenset()
    return bool(anchors) or _over(clause) or (
        "pleasantry" in clause.categories and clause.unknown <= 1) or clause.judged is not None


def _read_late(understanding: Understanding, text: str, names: frozenset[str],
               zone: str) -> list[Clause] | Verdict:
    """Text below the signature or the quoted history: only a question, a request or a
    problem counts (a signature's own words are unknown, not a reason to reopen), and an
    afterthought marker ("P.S.", "Nachtrag") makes what follows count in full."""
    clauses: list[Clause] = []
    afterthought = history = False
    lines = text.splitlines()
    for k, line in enumerate(lines):
        marker = AFTERTHOUGHT.match(line)
        if marker:  # "P.S. ...": from here on, read as the body is; what the writer says
            # they forgot is read by the rules alone (the judge read "Ještě jsem zapomněl"
            # and the fault after it as harmless)
            reader = Understanding(understanding.lexicon, None) if marker.group("forgot") \
                else understanding
            body = _read_body(reader, "\n".join(lines[k:]), names)
            if isinstance(body, Verdict):
                return Verdict(False, f"{body.reason} (in the {zone})")
            return clauses + body
        if (_register_line(line) or _firm_line(line)) and not afterthought:  # the firm's
            continue  # "NIP ... | KRS ...", "Eriksson El & Larm AB"
        # a quoted header, or a greeting to the writer themselves ("Salut Camille,"): the
        # old mail's text follows, not the writer's
        history = history or line.lstrip().startswith(">") or bool(
            names and line.rstrip().endswith(",") and len(line.split()) <= 4
            and understanding.clause(line).categories & {"greeting", "closing"}
            and names & {fold(w) for w in re.findall(r"[^\W\d_]+", line)})
        if zone == "signature" and not history and _prose(line) and not _notice(line):
            # a sentence below the contact lines that no firm's notice is: the customer's
            body = _read_body(understanding, line, names)
            if isinstance(body, Verdict):
                return Verdict(False, f"{body.reason} (below the signature)")
            clauses += body
            continue
        for raw in _CLAUSE.split(line):
            if not raw.strip():
                continue
            clause = understanding.clause(raw, names)
            afterthought = afterthought or "afterthought" in clause.categories
            why = substantive_reason(clause)
            # a signature's lines name people, firms and places; a sentence that asks for
            # something, reports a problem or says something does not work there is rare,
            # and it counts
            words = max(len(clause.text.split()), len(_JOINED_CHARS.findall(clause.text)) // 2)
            counts = afterthought or clause.question or "contrast" in clause.categories or (
                words >= 5 and clause.categories & {"request", "problem"}) or (
                words >= 3 and "solved" in clause.negated)
            if why and counts and not _looks_like_notice(clause) and not (
                    _word_cue(clause, why) and _judge(understanding, clause, cue=True)):
                return Verdict(False, f"{why} in the {zone}: {clause.text[:80]!r}")
            if afterthought:
                clauses.append(_without_names(clause, names))
    return clauses


_SENTENCE_END = re.compile(r"[.!?。！？]\s*$")
_LOWER_WORD = re.compile(r"(?<!\S)[^\W\d_A-Z\u0400-\u042f\u00c0-\u00de][^\W\d_]*")


def _prose(line: str) -> bool:
    """A line below the signature that is a sentence, not a signature's item: it ends like
    one and holds at least three lower-case words after its first (a name, a firm, an
    address or a title has few), or ten characters of a script without spaces."""
    text = line.strip()
    if not _SENTENCE_END.search(text) or _CONTACT.search(text):
        return False
    if len(_JOINED_CHARS.findall(text)) >= 10 and not _ARABIC.search(text):
        return True
    words = text.split()
    if _ARABIC.search(text):
        return len(words) >= 6
    return sum(1 for w in words[1:] if w[:1].islower()) >= 3


def _notice(line: str) -> bool:
    """A firm's notice in a signature (legal, print, device footer)."""
    text = line.strip()
    return firm_notice(text) or (bool(_DEVICE.search(text)) and len(text.split()) <= 10) \
        or _register_line(text) or _firm_line(text)


def _signs(line: str, names: frozenset[str]) -> bool:
    """The writer's own name opens the line ("Dave Kowalczyk | Dispatch Supervisor",
    "ريم السالم", with initials "Бойко І.П.", after "i. A."): their signature starts here,
    even without a closing formula above it."""
    if not names:
        return False
    words = re.findall(r"[^\W\d_]+", fold(line))
    if words[:2] == ["i", "a"] or words[:2] == ["i", "v"]:  # "i. A. Klaus Hoffmann"
        words = words[2:]
    full = [w for w in words if len(w) > 1]  # "Бойко І.П.", "Л.М. Степаненко": initials
    if 2 <= len(names) <= len(full) <= len(names) + 2 and set(full[-len(names):]) == names \
            and not re.search(r"[.!?,:;。！？]\s*$", line):
        return True  # a title, then the whole name: "事務長 中村 恵子", "Dr. med. Anna Berg"
    if not full or len(words) > 8 or full[0] not in names or (
            words[0] not in names and len(words[0]) > 1):
        return False
    named = sum(1 for w in full[:3] if w in names)
    # a first name and a patronymic or a second first name: "Людмила Миколаївна"
    return named >= min(2, len(names), len(full)) or (
        len(full) == 2 and _name_like(line) and not re.search(r"[.!?,]\s*$", line))


def _nickname(line: str, names: frozenset[str]) -> bool:
    """A line that is only the start of the writer's own name ("Ale", "Jessi", "/Kati"):
    how they sign, not a word ("Ale" is also Polish "but")."""
    words = re.findall(r"[^\W\d_]+", fold(line))
    return len(words) == 1 and len(words[0]) >= 3 and not re.search(r"[.!?,:;]\s*$", line) \
        and any(n.startswith(words[0]) and n != words[0] for n in names)


def _contact_parts(line: str) -> bool:
    """A line of contact items parted by "|" or "·" ("T. 02-555-1234 | F. 02-555-1235 |
    M. 010-9876-5432", "Tel: +86 755 8265 4321 | WeChat: tina_bt"): each part short, none
    a sentence."""
    parts = [p.strip() for p in re.split(r"[|·•]", line) if p.strip()]
    return len(parts) >= 2 and not _CLOCK.search(line) and all(
        len(p.split()) <= 5 and not re.search(r"[.!?。！？]$", p) for p in parts)


def _firm_of(line: str, below: list[str], names: frozenset[str]) -> bool:
    """A short line that ends with the writer's surname, above the line where they sign:
    their practice or firm ("Zubní ordinace MUDr. Němcová" above "MUDr. Eva Němcová"), not
    a last sentence that happens to name them."""
    words = re.findall(r"[^\W\d_]+", fold(line))
    nxt = next((x for x in below if x.strip()), "")
    return len(names) >= 2 and 2 <= len(words) <= 5 and words[-1] in names and \
        words[0] not in names and line.lstrip()[:1].isupper() and \
        not re.search(r"[!?,:;。！？]|\.\s*$", line) and _signs(nxt, names)


def _register_line(line: str) -> bool:
    """A signature's register line ("NIP 123 | KRS 456", "Amtsgericht München HRB 998877"),
    not a sentence that quotes a tax number ("Please bill ООО «X», ИНН 5260123456.")."""
    if len(_REGISTER.findall(line)) >= 2:  # "… wpisana do rejestru KRS …, NIP …, kapitał …"
        return True
    found = _REGISTER.search(line)
    return found is not None and not re.search(r"[.!?。]\s*$", line) and (
        found.start() == len(line) - len(line.lstrip()) or bool(re.search(r"[|/]", line)))


#: a company's legal form closing its name ("Eriksson El & Larm AB", "Weber Logistik GmbH",
#: "Nowak Sp. z o.o.", "Yılmaz Gıda A.Ş.", "ООО «Север»" opens with it)
_FIRM_FORM = re.compile(
    r"(?:\s(?:AB|HB|GmbH|AG|KG|OHG|UG|e\.\s?K\.|Ltd\.?|Limited|LLC|LLP|Inc\.?|plc|PLC"
    r"|B\.V\.|BV|N\.V\.|NV|S\.L\.U?\.?|S\.A\.U?\.?|SA|SARL|SAS|EURL|S\.r\.l\.|Srl|SRL"
    r"|S\.p\.A\.|SpA|Lda\.?|Ltda\.?|Oy|Oyj|Ky|AS|ASA|A/S|ApS|I/S|s\.r\.o\.|a\.s\.|spol\."
    r"|Sp\.\s?z\s?o\.\s?o\.|S\.C\.|sp\.\s?j\.|A\.Ş\.|Ltd\.\s?Şti\.|Kft\.?|Zrt\.?)"
    r"|^\s*(?:ООО|АО|ОАО|ЗАО|ПАО|ИП|ТОВ|ПрАТ|ФОП)\s.*)\s*$")


def _firm_line(line: str) -> bool:
    """A signature's line that names a firm by its legal form, no sentence."""
    return len(line.split()) <= 8 and not re.search(r"[!?。！？]|[,:;]\s*$", line) \
        and bool(_FIRM_FORM.search(line))


def _looks_like_notice(clause: Clause) -> bool:
    """A clause of a legal or print notice in a signature: a notice's words, or long with
    no question, no "but" and no live problem ("Par contre l'export échoue toujours avec
    le même message" is the customer's)."""
    if clause.question or "solved" in clause.negated:  # a notice never says "no longer works"
        return False
    return legal_sentence(clause.text) or (clause.unknown >= 8 and not clause.live_problems
                                           and "contrast" not in clause.categories)


_ANCHORS = frozenset({"gratitude", "solved", "apology", "closing", "greeting"})


def _name_like(text: str) -> bool:
    """A name or a sign-off line ("Karin", "/Erik", "Jan de Vries", "鈴木"), not a
    sentence: at most three words, each capitalised (but name particles); in scripts
    without capitals, at most two words or six characters."""
    words = re.findall(r"[^\W\d_]+", text)
    joined = _JOINED_CHARS.findall(text)
    if len(words) > 3 and not (joined and _org_line(text)):  # "製造部 生産技術課 田中 翔"
        return False
    if joined:
        return (len(joined) <= 6 and len(words) <= 2) or _org_line(text) or \
            bool(_SELF_INTRO.match(text.strip()))
    return all(w[0].isupper() or w in _PARTICLES for w in words)


#: how a line of a signature or an address line ends in Japanese, Chinese and Korean mail: a
#: firm, a department, a title or an honorific ("鈴木建設株式会社", "ITサポートセンター御中",
#: "이서연 대리 | 경영지원팀", "陈静会计事务所")
_ORG_END = re.compile(
    r"(?:株式会社|有限会社|合同会社|御中|様|さま|殿|センター|部|課|室|チーム|グループ|クリニック|デスク|窓口|係"
    r"|事務所|医院|歯科|店|有限公司|公司|集团|事务所|门诊部|诊所|医院|中心|部门|经理|主管|总监"
    r"|主任|先生|女士|老师|님|대리|과장|차장|부장|팀장|사원|주임|실장|원장|팀|센터|주식회사|㈜"
    r"|병원|치과|사무소|의원|회계|세무|법인|상사|건설|산업)$")
#: "鈴木建設株式会社の鈴木です", "이서연입니다", "我是陈静": a writer introducing themself
_SELF_INTRO = re.compile(r"^(?:[^\s。、]{1,24}の[^\s。、]{1,8}(?:です|でございます)"
                         r"|[^\s]{1,12}(?:\s[^\s]{1,12})?입니다|我是[^\s，。]{1,16})[。.]?$")
_ORG_START = re.compile(r"^(?:株式会社|有限会社|\(주\)|㈜|주식회사)")


def _org_line(text: str) -> bool:
    """A short line whose every part (split at "|", "/", "·") names a firm, a department
    or a person with a title; never a sentence (no sentence mark, no question)."""
    if re.search(r"[?？؟!！。.]\s*\S", text) or len(text) > 60:
        return False
    parts = [p.strip(" ,、，") for p in re.split(r"[|/·｜]", text) if p.strip(" ,、，")]
    words = text.split()
    if len(words) > 1 and all(_HAN_KANA.fullmatch(w) for w in words) and (
            _ORG_END.search(words[0]) or _ORG_START.search(words[0])):
        parts = words  # "製造部 生産技術課 田中 翔": a department, then the writer
    return bool(parts) and all(
        len(_JOINED_CHARS.findall(p)) <= 16 and (_ORG_END.search(p) or _ORG_START.search(p)
                                                 or len(_JOINED_CHARS.findall(p)) <= 4)
        for p in parts)


_HAN_KANA = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]+")
_PARTICLES = frozenset({"de", "van", "von", "der", "den", "la", "le", "du", "da", "di", "del",
                        "dos", "af", "bin", "al", "ter", "ten", "zu"})


def _over(clause: Clause) -> bool:
    """ "no more errors", "keine X mehr": a problem (named or not) is over."""
    return "problem" in clause.negated or (clause.free_negation and "gone" in clause.categories)


def _unanchored(clause: Clause) -> Clause:
    """A sentence with no thanks, success, apology, greeting or closing in it: every
    word counts as content (its "the", "is" too), so a sentence of news is not taken
    for a pleasantry."""
    words = len(re.findall(r"[^\W\d_]+", clause.text))
    if _JOINED_CHARS.search(clause.text):
        words = max(words, len(_JOINED_CHARS.findall(clause.text)) // 3)
    return replace(clause, unknown=max(clause.unknown, words))


def _without_names(clause: Clause, names: frozenset[str]) -> Clause:
    """The sender's own name is not unknown content."""
    if not names or not clause.unknown:
        return clause
    own = sum(1 for w in re.findall(r"[^\W\d_]+", fold(clause.text)) if w in names)
    return replace(clause, unknown=max(0, clause.unknown - own))


def _verdict(clauses: list[Clause]) -> Verdict:
    thanked = [c for c in clauses if c.categories & {"gratitude", "solved"} or _over(c)]
    # "👍" or "🙏" alone thanks (blind writers of two parts label it so); "ok" alone is a
    # bare word (below), and no gratitude sign at all is no thank-you
    if not any(re.search(r"[^\W\d_]", c.text) or "gratitude" in c.categories
               for c in thanked):
        return Verdict(False, "no word of thanks in the new text")
    if len(thanked) == 1 and "gratitude" not in thanked[0].categories and \
            len(thanked[0].text.split()) < 2:
        return Verdict(False, f"a bare {thanked[0].text!r} is no thank-you")
    if not thanked:
        return Verdict(False, "no thanks and no 'it works' in the new text")
    unknown = sum(c.unknown for c in clauses)
    busy = next((c for c in clauses if c.unknown > (
        UNKNOWN_IN_CLAUSE if _own_anchor(c) else UNKNOWN_ELSEWHERE) or (
        not _own_anchor(c) and not _name_like(c.text))), None)
    if busy is not None:
        return Verdict(False, f"more than thanks: {busy.text[:80]!r}")
    if unknown > UNKNOWN_WORDS:
        return Verdict(False, f"{unknown} words that are neither thanks nor pleasantries")
    said = sorted({k for c in clauses for k in c.categories & HARMLESS})
    judged = [c for c in clauses if c.judged is not None]
    model = "".join(f"; the sentence judge read {c.text[:60]!r} as harmless ({c.judged:.2f})"
                    for c in judged[:3])
    model += "".join(f"; a promise to write if it recurs: {c.text[:60]!r}"
                     for c in clauses if "promise" in c.categories)
    return Verdict(True, f"only {', '.join(said) or 'confirmations'}: "
                         f"{thanked[0].text[:60]!r}{model}",
                   tuple(c.text for c in thanked))


__all__ = ["Understanding", "Verdict", "judge", "understand", "unseen_history"]
