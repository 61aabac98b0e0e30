"""One clause as read: the lexicon's hits, what each negation binds to, and why a clause
asks for something (``substantive_reason``).

Why separate: this is the word-level half of reading a reply (step 3 of the package
docstring), pure functions of one clause's folded text and its hits. It knows nothing of
where the new text ends (``structure``, ``signoff``) or of the verdict (the package), so
those import it and it imports none of them. ``Understanding`` lives here because
reading a clause is its job; the package re-exports it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from pathlib import Path

from mailgate.replies.cause import told_over
from mailgate.replies.consent import by_language
from mailgate.replies.contrast import conceded
from mailgate.replies.crosscues import foreign_cues, own_slip, regained
from mailgate.replies.foreign import foreign_short_words
from mailgate.replies.lexicon import HARMLESS, Hit, Lexicon, fold, load_tables
from mailgate.replies.model import SentenceModel
from mailgate.replies.values import after, forward_only

#: "5.B", "v2.1" and "firma.cz" are one word: a full stop inside a word ends nothing
_CLAUSE = re.compile(r"[!;,。！；，、…\n]+|\.+(?![^\W_])|:(?=\s|$)|(?<=[?？؟])|\s[-–—]\s")
_SENTENCE = re.compile(r"[.!。！\n]+(?=\s|$)|(?<=[?？؟])")
_QUESTION = re.compile(r"[?？؟]")
_NUMBER = re.compile(r"^\d+$")
_JOINED_CHARS = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\u0600-\u06ff]")
_WORD = re.compile(r"[^\W_]+")
_ANCHORS = frozenset({"gratitude", "solved", "apology", "closing", "greeting"})



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
            hits = own_slip(foreign_cues(hits, folded, self.lexicon), folded)
            hits = foreign_short_words(hits, folded, self.lexicon)  # Czech "ta" (that)
        hits = regained(hits, folded)  # "ich kann wieder drucken"
        first = next((h for h in hits if h.category == "interrogative"), None)
        asks = first is not None and not folded[:first.start].strip(" \t'\"«»„“”-") \
            and len(words) >= 2
        hits = [h for h in hits if h.category != "interrogative" or (h is first and asks)]
        if hits and hits[-1].category == "contrast" and folded[hits[-1].start:] == "mais" and any(
                h.category == "negation" for h in hits):  # pt "não travou mais", not fr "mais"
            hits = hits[:-1]
        hits = conceded(_softened(hits, folded), folded)  # "but for her it works now"
        hits = _fused_but(_unchanged(hits, folded), folded)
        hits = [h for h in hits if not _since_yesterday(h, folded)]
        hits = _wanting(hits, folded, self.lexicon.volition)
        hits = _wished_ahead(hits, folded, self.lexicon.advance)
        hits = _disappearing(hits, folded, self.lexicon.gone)
        hits = told_over(hits, folded, words)  # "det var sladden", "sorun oymuş"
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
        if forward_only(hit, folded):  # "Summen auf null": a value, not "null Fehler"
            targets = after(hit, targets)
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
               "修好", "해결", "복구",
               "حلت", "اتحلت", "محلول")  # "المشكلة حلت": the problem (was) solved


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
