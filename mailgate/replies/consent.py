"""Consent, praise and address beside a thank-you, and words of two languages, read by
their structure.

1. **Consent to the closed state** (``consenting``): "Tack, ni kan stänga ärendet",
   "Obrigado, podem encerrar o chamado", "감사합니다. 닫아주세요", "شكرا، أغلقوا الطلب من
   فضلكم", "Thanks, please close it". A clause made of a verb that closes, what it closes
   (the ticket, the case, it) and a permission or a "please" (you can, feel free, bitte,
   podem, 주세요, من فضلكم) asks for what is already done: a pleasantry. Any other word
   keeps the clause as it was read, so "don't close it yet", "close it after we test",
   "close it and open a new one for the printer" still reopen (a negation, a time, a
   second request are no words of consent).
2. **Praise of the team after a bare success** (``praised``): "Funcionou! Vocês são
   demais", "Funkar! Ni är bäst", "اشتغل! أنتم رائعون". A short clause whose subject is
   "you" (plural or polite: vocês, ni, أنتم, ihr, vous, jullie ...), with no cue (the
   rules or the sentence judge found it harmless), beside a clause that says it works,
   thanks the team: it counts as gratitude, so the success is no bare "Funcionou".
3. **An address to the team beside thanks** (``praised`` too): "Valeu, pessoal!",
   "Gracias, chicos", "Grazie ragazzi": a clause of only words that name the team
   ("folks", "guys", "Leute", "allemaal", "everyone") next to a clause of thanks is a
   pleasantry.
4. **Words of two languages** (``by_language``): the lexicon merges all languages, and
   where one word is a cue in one language and harmless in another (Swedish "ni", you,
   is the French negation "ni"), the cue wins. When the clause's other words belong to a
   language that lists the word as harmless, and none of them to a language that lists
   it as the cue, the cue does not count: the word is an ordinary word of the clause
   ("ni kan stänga ärendet", "Ni är bäst"; "ni har glömt kontot" is then read as "du
   har glömt kontot" is). A clause with no other listed word, or one the cue's language
   lists too ("ni l'impression ni le scan"), keeps the cue.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from mailgate.replies.lexicon import Hit, Lexicon, fold

if TYPE_CHECKING:
    from mailgate.replies.clause import Clause, Understanding

_WORDS = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
#: harmless categories a word of two languages may be read as
_HARMLESS = frozenset({"gratitude", "apology", "closing", "pleasantry", "greeting", "solved"})
_ANCHORS = frozenset({"gratitude", "apology", "closing", "greeting"})
#: cues a word of two languages may lose when the clause is in another language
_CUES = frozenset({"negation", "contrast", "request", "interrogative", "qualifier", "again",
                   "afterthought"})


def by_language(hits: list[Hit], folded: str, lexicon: Lexicon) -> list[Hit]:
    """``hits`` without each one-word cue that the clause's language reads as a harmless
    word (see the module docstring); a clause whose other words point to no language, or
    to the cue's language too, keeps the cue (when unsure, the cue counts)."""
    homographs = lexicon.homographs
    if not any(h.words == 1 and h.category in _CUES and folded[h.start:h.end] in homographs
               for h in hits):
        return hits
    out = []
    for hit in hits:
        text = folded[hit.start:hit.end]
        senses = homographs.get(text) if hit.category in _CUES and hit.words == 1 else None
        if senses:
            counts = _clause_languages(folded, hit, lexicon.languages)
            best = max(counts.values(), default=0)
            other = {k for k, v in counts.items() if v == best}
            harmless = [c for c, langs in senses.items() if c in _HARMLESS and langs & other]
            if harmless and not any(counts.get(k) for k in senses.get(hit.category, ())):
                continue
        out.append(hit)
    return out


def _clause_languages(folded: str, hit: Hit, languages: dict[str, frozenset[str]]
                      ) -> dict[str, int]:
    """How many of the clause's other words each language's lists hold."""
    counts: dict[str, int] = {}
    for m in _WORDS.finditer(folded):
        if hit.start <= m.start() < hit.end:
            continue
        for language in languages.get(m.group(), ()):
            counts[language] = counts.get(language, 0) + 1
    return counts


def _listed(text: str) -> frozenset[str]:
    """The words of a list written as lines of words."""
    return frozenset(text.split())


# --- consent -------------------------------------------------------------------------

#: verbs that close (infinitive, imperative, passive and participle forms), in the
#: spaced languages
_CLOSE = _listed("""
close closed closing
schließen schliessen schließt schliesst zumachen abschließen abschliessen geschlossen
fermer fermez ferme fermé fermée clôturer clôturez clôturé clôturée cloturer cloturez clore
cerrar cierren cierre cerrad cerradlo ciérrenlo cierrenlo cerrado cerrarlo cerrada
chiudere chiudete chiuda chiudi chiuso chiusa chiudetelo chiuderlo chiudetela chiuderla
fechar fechem feche fechado fechada encerrar encerrem encerre encerrado encerrada
finalizar finalizem
sluiten sluit gesloten afsluiten afgesloten dicht
stänga stäng stängas stängt avsluta avslutas avslutat
lukke luk lukkes lukket lukk afslutte afslut afsluttes afsluttet avslutte avslutt avsluttes
avsluttet
sulkea sulkekaa sulje suljetaan suljettu sulkea
zamknąć zamknijcie zamknij zamknięte zamknięty zamykać zamykajcie
zavřít zavřete zavři uzavřít uzavřete uzavřený uzavřen zavřený
закрыть закройте закрывайте закрыт закрыто закрывать
закрити закрийте закривайте закрито закривати
kapatın kapatınız kapatabilirsiniz kapatabilirsin kapatılabilir kapatılsın kapatalım
أغلقوا اغلقوا أغلق اغلق إغلاق اغلاق أقفلوا اقفلوا إقفال اقفال قفل سكروا
""")
#: what a closing verb closes, and the words of a permission or a "please" around it
_CONSENT_WORDS = _listed("""
the ticket case request it this call issue now please pls you can may feel free to go ahead
be just
das den die ticket fall vorgang anfrage es bitte sie können könnt ihr dürft dürfen gerne
gern jetzt nun kann werden man
le la l ticket demande dossier cas vous pouvez peux tu maintenant merci de s'il il plaît
plait pouvons
el la lo ticket caso incidencia solicitud pueden puede podéis podeis por favor ya ustedes
se
il lo la ticket richiesta caso pratica potete può puoi pure per favore ora si
o a chamado ticket caso solicitação pedido podem pode por favor já vocês ser
het de ticket melding zaak aanvraag 'm jullie mogen mag kunnen kan u je nu gerust graag
worden wordt
ärendet ärende det biljetten ticketen ni du kan får gärna nu bara
sagen ticketet den det henvendelsen i du kan må gerne bare nu godt
saken ticketen dere gjerne nå
tiketti tiketin tapaus tapauksen pyyntö pyynnön sen voitte voit voi nyt kyllä jo vain
zgłoszenie ticket sprawę to je możecie można proszę już śmiało spokojnie
požadavek tiket ticket případ ho to jej můžete lze prosím klidně už
тикет заявку заявка обращение запрос его её ее можете можно пожалуйста уже спокойно
тікет заявку звернення запит його можете можна будь ласка вже
talebi kaydı bileti ticketi çağrıyı talebimi bu lütfen artık
الطلب التذكرة التذكره البلاغ التيكت الحالة يمكنكم يمكنك يمكن من فضلكم فضلك رجاء الرجاء
أرجو ارجو نرجو ممكن الآن الان لو سمحتم سمحت
""")
#: Arabic letters that join "and", "so" to the next word ("وأغلقوا")
_AR_JOINED = re.compile(r"^[وف](?=[\u0600-\u06ff]{3})")
#: the same in Japanese, Chinese and Korean, where words are not spaced: what closes, then
#: a permission or a request, and nothing else (no "don't": "閉じないで", "닫지 마세요")
_CONSENT_JOINED = re.compile(
    r"^(?:(?:この|本|こちらの)?(?:チケット|件|本件|お問い合わせ|問い合わせ|こちら)(?:は|を|も)?)?"
    r"(?:クローズ|閉じて|終了|完了)(?:に|と)?(?:して|処理して)?"
    r"(?:ください|下さい|くださいませ|いただいて(?:結構です|構いません|大丈夫です)"
    r"|頂いて(?:結構です|構いません|大丈夫です)|(?:を)?お願いします|(?:を)?お願いいたします"
    r"|(?:を)?お願い致します|結構です|構いません|大丈夫です|(?:で|て)?(?:大丈夫|結構)です)$"
    r"|^(?:请|麻烦|烦请)?(?:您|你们)?(?:可以|能|就)?(?:把|将)?(?:这个|此)?(?:工单|单子|问题|工單)?"
    r"(?:可以|就可以|能)?(?:关闭|关掉|关单|结单|结案|關閉|結案|关闭工单|关闭吧)"
    r"(?:工单|工單)?(?:吧|了|即可|就行|就好|了吧)?$"
    r"|^(?:(?:이\s?)?(?:티켓|요청|건|문의|이\s?건)(?:을|를|은|는)?\s?)?"
    r"(?:닫아|닫으셔도|종료해|종료하셔도|종료|마감해|마감하셔도|마감|클로즈해|클로즈하셔도|클로즈)"
    r"\s?(?:주세요|주십시오|주셔도\s?(?:됩니다|돼요|되요)|주시면\s?됩니다|(?:도\s)?(?:됩니다|돼요|되요)"
    r"|처리해\s?주세요|처리\s?부탁드립니다|부탁드립니다|부탁드려요|해\s?주세요|해주세요)$")
#: clause separators the body's splitter does not know (the Arabic comma and semicolon)
_AR_COMMA = re.compile(r"[،؛]")


#: a time, a condition or a second thing beside a closing verb: "close it after we test",
#: "stäng ärendet när vi har testat", "close it and open a new one"
_CONDITION = _listed("""
after before until till once when if unless and then
nach nachdem bevor erst wenn falls sobald und dann
après avant quand lorsque si dès et puis
después antes cuando si hasta y luego
dopo prima quando se finché e poi
depois antes quando se até e
na nadat voor als zodra pas tot en dan
efter innan när om först tills och sedan
etter før når hvis først til og så
jälkeen ennen kun jos vasta kunnes ja sitten
po przed gdy kiedy jeśli dopiero aż i potem oraz
po před když pokud až a potom
после перед когда если только пока и потом
після перед коли якщо лише поки і та потім
sonra önce zaman eğer ancak kadar ve
بعد قبل عندما إذا اذا لما حتى و ثم
""")
_CONDITION_JOINED = re.compile(r"後|后|之后|以后|以後|まで|前に|たら|후에|다음에|뒤에|전에|까지"
                               r"|면\s")


def consenting(understanding: Understanding, said: list[Clause]) -> list[Clause]:
    """``said`` with each clause that only consents to the closed state read as a
    pleasantry (and one that also thanks across an Arabic comma, "شكرا، أغلقوا الطلب",
    as thanks and a pleasantry); one that ties the close to a time, a condition or a
    second thing is marked ``conditional`` (substantive, whatever the judge says)."""
    out = []
    for clause in said:
        if "request" in clause.categories or not (clause.categories & _HARMLESS) or \
                clause.unknown:
            consented = _consent(understanding, clause)
            if consented is clause and _conditional(clause.text):
                consented = replace(clause, categories=clause.categories | {"conditional"})
            clause = consented
        out.append(clause)
    return out


#: forms of the closing verbs that tell what was done, not what to do ("it was closed and
#: the printer works")
_DONE = _listed("""
closed closing geschlossen fermé fermée clôturé clôturée cerrado cerrada chiuso chiusa
fechado fechada encerrado encerrada gesloten afgesloten stängt avslutat lukket afsluttet
avsluttet suljettu zamknięte zamknięty uzavřený uzavřen zavřený закрыт закрыто закрито
""")


def _conditional(text: str) -> bool:
    """A clause that would be consent without a run of words that opens with a time, a
    condition or "and" ("close it | after we test", "Sie können das Ticket | nach dem Test |
    schließen", "podem encerrar o chamado | e abrir outro ..."); in Japanese, Chinese and
    Korean a closing verb beside such a marker ("テスト後にクローズしてください")."""
    folded = fold(text).strip(" .!。！")
    if _CONDITION_JOINED.search(folded) and _CLOSE_JOINED.search(folded):
        return True
    if _AR_COMMA.search(folded):  # "شكرا، أغلقوا الطلب بعد الاختبار"
        return any(_conditional(part) for part in _AR_COMMA.split(folded))
    words = _WORDS.findall(folded)
    if len(words) > CONDITIONAL_WORDS or not any(w in _CLOSE and w not in _DONE
                                                 for w in words):
        return False
    return any(_consents(" ".join(words[:i] + words[j:]))
               for i, w in enumerate(words) if w in _CONDITION
               for j in range(i + 1, len(words) + 1))


#: a clause longer than this is not read as a conditional consent (the search is
#: quadratic in its words)
CONDITIONAL_WORDS = 24
#: the closing verbs of Japanese, Chinese and Korean
_CLOSE_JOINED = re.compile(r"クローズ|閉じて|关闭|关单|关掉|结单|結案|關閉"
                           r"|닫아|닫으|종료해|종료하|마감해|클로즈")


def _consent(understanding: Understanding, clause: Clause) -> Clause:
    text = clause.text
    if clause.question or re.search(r"[?？؟]", text):
        return clause
    parts = [p.strip(" .!。！") for p in _AR_COMMA.split(text) if p.strip(" .!。！")]
    if len(parts) == 1 and not _consents(parts[0]):  # the common case: read once, as read
        return clause
    said: set[str] = set()
    consents = False
    for part in parts:
        if _consents(part):
            consents = True
            said.add("pleasantry")
            continue
        read = understanding.clause(part)  # beside it, thanks ("شكراً جزيلاً") and no cue
        if read.question or not read.categories <= _HARMLESS or read.negated or \
                read.free_negation or read.live_problems or read.unknown > (
                2 if read.categories & _ANCHORS else 0):
            return clause
        said |= read.categories
    if not consents:
        return clause
    return replace(clause, categories=frozenset(said), unknown=0, question=False,
                   negated=frozenset(), free_negation=False, live_problems=0)


def _consents(part: str) -> bool:
    """One clause of only a closing verb, what it closes and a permission or "please"."""
    folded = fold(part).strip(" .!。！")
    if _CONSENT_JOINED.match(folded):
        return True
    words = [w if w in _CLOSE or w in _CONSENT_WORDS else _AR_JOINED.sub("", w)
             for w in _WORDS.findall(folded)]
    if not words or len(words) > 8 or re.search(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]",
                                                folded):
        return False
    return any(w in _CLOSE for w in words) and all(
        w in _CLOSE or w in _CONSENT_WORDS for w in words)


# --- praise and address ----------------------------------------------------------------

#: "you" as the team (plural or polite), as the subject of praise
_YOU = _listed("""
you you're youre you’re guys y'all
ihr sie seid
vous êtes
ustedes vosotros sois son
voi siete
vocês vcs são
jullie zijn
ni är
i er dere
te olette
wy jesteście
vy jste
вы ви
siz
أنتم انتم أنتما إنتو انتو
""")
#: words that name the team when the customer addresses it
_TEAM = _listed("""
folks guys everyone everybody all team people gang mates lads y'all you
leute alle allerseits zusammen team
tous tout le monde équipe les gars
chicos chicas todos equipo gente amigos
ragazzi tutti team gente amici
pessoal galera gente todos equipe time
allemaal iedereen jongens team mensen
allihop allihopa alla gänget teamet er
alle allesammen jer folkens dere gutter
kaikki kaikille porukka tiimi
wszystkim wszyscy ekipa zespół państwu
všem všichni týme tým
ребята всем друзья коллеги команда
друзі всім колеги команда хлопці
arkadaşlar herkes ekip millet
يا شباب شباب جماعة يا جماعة الجميع للجميع الفريق يا
""")
PRAISE_WORDS = 5  # words in a clause of praise ("you guys are the best")


def praised(clauses: list[Clause]) -> list[Clause]:
    """``clauses`` with a clause of praise of the team beside a success counted as thanks,
    and an address to the team beside thanks as a pleasantry (see the module docstring)."""
    out = list(clauses)
    for k, clause in enumerate(clauses):
        beside = [c for c in clauses[max(0, k - 1):k + 2] if c is not clause]
        words = _WORDS.findall(fold(clause.text))
        if not words or clause.question or not clause.categories <= _HARMLESS:
            continue
        if all(w in _TEAM for w in words) and len(words) <= 3 and any(
                "gratitude" in c.categories for c in beside):
            out[k] = replace(clause, categories=clause.categories | {"pleasantry"}, unknown=0)
        elif len(words) <= PRAISE_WORDS and words[0] in _YOU and _quiet(clause) and any(
                "solved" in c.categories for c in beside):
            out[k] = replace(clause, categories=clause.categories | {"gratitude"})
    return out


def _quiet(clause: Clause) -> bool:
    """Nothing in the clause asks or reports: no negation, problem, or unknown words left
    (the sentence judge, when it cleared the clause, set them to none)."""
    return not (clause.negated or clause.free_negation or clause.live_problems) and (
        clause.unknown <= 1 or clause.judged is not None)
