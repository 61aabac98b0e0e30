"""A short answer to the engineer's closing question, and an emoji reaction (#16).

Why: an engineer's closing mail often ends with a question ("Can we close the ticket?",
"Does it work for all users now?", "Is there anything else we can do?", "Shall we also
update the other PCs?") and the customer answers in a word above the quote: "Yes", "Ja,
passt", "Nope, all good", "No, not yet", "いいえ、まだです". A bare "Yes" holds no thanks,
so it reopened the ticket it agreed to close, and "Nope" means "all is well" or "it still
fails" by the question alone. The answer is read with the question it answers:

- a question whose "yes" says all is well: close the ticket, does it work, did it arrive;
- one whose "no" says all is well: anything else, shall we do more, is the fault still
  there.

Only a new text that is the answer (yes / no / not yet or not quite) plus words the usual
reading finds harmless (thanks, a sign-off, a name) is read so; an answer followed by
"but", anything more, or a question of no known kind ("Which browser do you use?") goes
the usual way (when unsure, reopen). "Not yet" / "not quite" never says all is well.

The question is the last question of the mail the customer quoted (the first quoted
message, quote marks or Outlook's header block), else of the latest mail we sent on the
ticket (``ours``, as ``pasted`` gets it).

A Gmail reaction mail (a ``text/vnd.google.email-reaction+json`` part, ``{"emoji": "👍"}``,
beside "Anna reacted via Gmail") says only its emoji: a friendly one thanks, any other
(👎, 😡, 😢) reopens; its text parts are never read as the customer's words. A reaction
notice without that part (Outlook's "Anna reacted to your message:" and the emoji, nothing
else) is read by its emoji the same way.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from mailgate.quotes import ReplyParts, reply_parts
from mailgate.replies.clause import Clause, Understanding
from mailgate.replies.consent import _CLOSE, _CLOSE_JOINED
from mailgate.replies.lexicon import fold

REACTION_TYPE = "text/vnd.google.email-reaction+json"
#: reactions that thank or approve; any other emoji reopens (when unsure, reopen)
FRIENDLY = frozenset(["👍", "🙏", "👌", "❤", "😊", "🙂", "😀", "😃", "😄", "😁", "🎉", "🥳",
                      "👏", "💪", "✅", "✔", "🤝", "😍", "🥰", "💯", "🙌", "⭐", "🌟", "😉"])
#: skin tones and the emoji presentation selector: "👍🏽" is "👍"
_MODIFIERS = re.compile("[\U0001F3FB-\U0001F3FF\uFE0F]")

#: what a question's answer must be for all to be well
FINE_ON = {"close": "yes", "works": "yes", "problem": "no", "else": "no", "offer": "no"}


@dataclass(frozen=True)
class Answer:
    """A short answer read with its question: ``fine`` when it says all is well (the
    rest of the new text, ``rest``, is then read the usual way), else it reopens;
    ``reason`` for the ticket's event."""

    fine: bool
    reason: str
    rest: str = ""
    words: str = ""  # the answer as written ("Ja, passt")

    def clause(self) -> Clause:
        """The answer as a clause of the verdict: it says all is well, as thanks does."""
        return Clause(self.words, frozenset({"gratitude"}), 0, False)


def reaction(msg: EmailMessage | None) -> tuple[bool, str] | None:
    """A Gmail reaction mail's verdict (thanks?, reason), else None: its reaction part is
    the message itself or an inline part of it."""
    if msg is None:
        return None
    for part in msg.walk():
        if part.get_content_type() != REACTION_TYPE or \
                part.get_content_disposition() == "attachment":
            continue
        try:
            payload = part.get_payload(decode=True)
            data = json.loads(payload.decode("utf-8", "replace") if isinstance(
                payload, bytes) else str(part.get_payload()))
            emoji = str(data.get("emoji", "")).strip() if isinstance(data, dict) else ""
        except (ValueError, AttributeError, TypeError):
            emoji = ""
        friendly = _MODIFIERS.sub("", emoji) in FRIENDLY
        return friendly, f"an emoji reaction ({emoji or 'unreadable'}) via Gmail: " + (
            "approves" if friendly else "not a friendly emoji")
    return None


#: the line of a reaction notice with no machine-readable part (Outlook's "Karin Lund
#: reacted to your message:", a client's text part): "react" in the 20 languages
_REACTED = re.compile(
    r"\breact|reagi|réagi|reaccion|reagiu|reageerde|reagerade|reagerede|reagerte|reagoi|"
    r"zareagował|reagoval|отреагировал|відреагувал|tepki verdi|تفاعل|リアクション|回应|回應|"
    r"반응", re.IGNORECASE)


def reaction_notice(text: str) -> tuple[bool, str] | None:
    """The verdict on a new text that is only a reaction notice: a short "reacted" line
    and emoji (thanks when every emoji is friendly), else None."""
    lines = [line for line in text.splitlines() if line.strip()]
    notice = [line for line in lines if _REACTED.search(line) and len(line.split()) <= 10]
    if not notice or len(lines) > 3 or any(
            line not in notice and not all(_emoji(c) or not c.isalnum() for c in line)
            for line in lines):
        return None
    found = [c for c in _MODIFIERS.sub("", text) if _emoji(c)]
    if not found:
        return None
    friendly = all(c in FRIENDLY for c in found)
    return friendly, f"an emoji reaction notice ({''.join(found)[:8]}): " + (
        "approves" if friendly else "not a friendly emoji")


def _emoji(char: str) -> bool:
    return unicodedata.category(char) == "So"


# --- the question --------------------------------------------------------------------

_QUOTE_MARK = re.compile(r"^\s*>")
_FIELD = re.compile(r"^\s*(?:[-_=*]{3,}.*|\*?[^\s:：]{1,24}(?:\s[^\s:：]{1,14}){0,2}\s?[:：].*)$")
_ASKED = re.compile(r"[^.!?？。！؟\n]*[?？؟]")


def _quoted_message(body: str, parts: ReplyParts) -> str:
    """The first message the reply quotes (quote marks, or Outlook's header block), its
    own history and signature cut away; "" when it quotes nothing."""
    lines = body.replace("\r\n", "\n").split("\n")
    start = next((i for i, line in enumerate(lines) if _QUOTE_MARK.match(line)), None)
    if start is not None:
        block: list[str] = []
        for line in lines[start:]:
            if line.strip() and not _QUOTE_MARK.match(line):
                break
            inner = re.sub(r"^\s*>\s?", "", line)
            if not _QUOTE_MARK.match(inner):  # deeper levels: older messages
                block.append(inner)
        return reply_parts("\n".join(block)).text
    if parts.history:
        rest = parts.history.split("\n")
        k = 0
        while k < min(len(rest), 12) and (not rest[k].strip() or _FIELD.match(rest[k])):
            k += 1
        return reply_parts("\n".join(rest[k:])).text
    return ""


def engineer_questions(body: str, parts: ReplyParts, ours: Sequence[str] = ()) -> list[str]:
    """The last two questions of the engineer's mail the customer answers: the quoted one,
    else the latest mail we sent on the ticket (``ours``, newest first)."""
    texts = [_quoted_message(body, parts)]
    if not texts[0]:  # the newest of our last two mails that asks (a resolved notice may
        texts = [reply_parts(t).text for t in ours[:2]]  # follow the engineer's answer)
    for text in texts:
        asked = [q.strip() for q in _ASKED.findall(text) if q.strip(" ?？؟")]
        if asked:
            return asked[-2:]
    return []


_ELSE = re.compile(
    r"anything else|something else|any other (?:question|issue|problem)s?|any further|"
    r"noch (?:etwas|was)|sonst noch|weitere (?:fragen|anliegen|wünsche)|"
    r"autre chose|d'autres questions|quelque chose d'autre|"
    r"algo más|alguna otra|otra cosa|"
    r"qualcos'altro|qualcosa d'altro|altro da|altre domande|"
    r"mais alguma|algo mais|outra coisa|"
    r"nog iets|verder nog|andere vragen|"
    r"något mer|något annat|annat vi|"
    r"andet vi|noget andet|mere vi|"
    r"noe mer|noe annet|annet vi|"
    r"muuta|jotain muuta|"
    r"coś jeszcze|w czymś jeszcze|czymś innym|"
    r"ještě něco|něco dalšího|s něčím dalším|"
    r"что-то ещ|что-нибудь ещ|чем-то ещ|чем-нибудь ещ|еще чем|еще что|"
    r"щось ще|ще щось|чимось ще|ще чимось|"
    r"başka (?:bir|soru|konu|sorun|yardım)|"
    r"شيء آخر|أي شيء آخر|اي شيء اخر|شيء اخر|"
    r"他に|ほかに|其他|别的|還有|还有什么|还有其他|다른|더 필요|추가로")
_OFFER = re.compile(
    r"shall we|should we|do you want us|would you like us|want me to|shall i |should i |"
    r"sollen wir|soll ich|möchten sie, dass wir|wollen sie, dass wir|"
    r"voulez-vous que|souhaitez-vous que|devons-nous|dois-je|on (?:le|les) fait|"
    r"quiere que|desea que|quieren que|lo hacemos|hacemos también|"
    r"vuole che|desidera che|volete che|procediamo|facciamo anche|"
    r"quer que|deseja que|querem que|fazemos também|"
    r"zullen we|zal ik|wilt u dat|willen jullie dat|"
    r"ska vi|vill ni att|vill du att|skall vi|"
    r"skal vi|vil du have|ønsker i at|vil i have|vil du at vi|ønsker du at|"
    r"haluatteko|haluatko|teemmekö|päivitämmekö|"
    r"czy mamy|czy chcecie|czy chcą państwo|czy zrobić|"
    r"máme|chcete, abychom|chcete abychom|mám |"
    r"нам (?:также |тоже )?(?:обновить|сделать|установить|настроить)|хотите, чтобы мы|"
    r"хотите чтобы мы|сделать ли|"
    r"хочете, щоб ми|хочете щоб ми|нам (?:також )?(?:оновити|зробити|встановити)|"
    r"ister misiniz|yapalım mı|edelim mi|güncelleyelim mi|"
    r"هل تريد|هل تريدون|هل ترغب|هل نقوم|"
    r"しましょうか|いたしましょうか|しますか|要不要|需要我们|是否需要我们|要我们|"
    r"드릴까요|할까요|하시겠습니까|원하시나요")
#: closing verbs by their stems, for the forms ``consent`` does not list ("kapatabilir
#: miyiz", "закрывать", "uzavřít")
_CLOSING = re.compile(
    r"\b(?:clos|schlie[sß]|fermer|clôtur|clotur|cerr|chiud|fech|encerr|sluit|afsluit|stäng|"
    r"avslut|lukk|afslut|sulj|sulke|zamkn|zamyk|uzavř|zavř|закры|закри|kapat)|"
    r"(?:إغلاق|اغلاق|نغلق|أغلق|اغلق|종결|완료 처리)")
_ARRIVED = re.compile(
    r"arriv|receiv|got it|come through|angekommen|erhalten|bekommen|reçu|parvenu|"
    r"llegado|llegó|recibido|recibió|arrivat|ricevut|chegou|recebe|aangekomen|ontvangen|"
    r"kommit fram|fått|modtaget|kommet frem|fått|mottatt|kommet fram|saapui|saanut|saitte|"
    r"dotar|otrzyma|dorazil|obdržel|пришл|пришел|дошл|дошел|получил|прийшл|надійш|отримал|"
    r"ulaştı|geldi mi|aldınız|وصل|استلمت|届き|届い|受け取|收到|到了|받으셨|도착")
_WORKS = re.compile(
    r"work|fix|solv|resolv|ok\b|okay|fine|funktion|geht|läuft|klappt|passt|fonctionne|marche|"
    r"résolu|funciona|resuelt|solucion|funziona|risolt|va bene|resolvid|werkt|opgelost|"
    r"fungerar|löst|funkar|virker|løst|fungerer|toimii|ratkesi|kunnossa|działa|rozwiązan|"
    r"funguje|vyřešen|работает|решен|працює|вирішен|çalış|çözüldü|düzeldi|"
    r"يعمل|تعمل|حل|動作|動き|解決|使え|正常|好了|可以用|解决|能用|작동|해결|되나요|되시나요|"
    r"잘 되")
_PROBLEM = re.compile(
    r"still (?:see|get|have|happen|occur|appear)|error|crash|fehler|immer noch|noch immer|"
    r"erreur|toujours|error|todavía|sigue|errore|ancora|erro|ainda|fout|nog steeds|"
    r"fortfarande|fel |stadig|fortsatt|feil|edelleen|virhe|nadal|wciąż|błąd|stále|chyba|"
    r"ошибк|по-прежнему|все еще|всё ещё|досі|помилк|hâlâ|hata|لا يزال|خطأ|まだ|エラー|"
    r"还有错误|仍然|仍|报错|아직도|여전히|오류|에러")


def question_kind(question: str, understanding: Understanding | None = None) -> str | None:
    """What kind of question the engineer asked (``FINE_ON``'s keys), None when no kind
    is known or it holds two whose answers mean opposite things ("Can we close it, or is
    the error still there?"). With ``understanding``, the lexicon reads it too: a live
    problem, "still" or a negated success ("Is anything still not working?") makes it a
    problem question ("yes" reopens); a negation bound to nothing ("Is there nothing
    else?") leaves the answer's meaning open."""
    folded = fold(question)
    words = set(re.findall(r"[^\W\d_]+", folded))
    said = understanding.clause(question) if understanding is not None else None
    if said is not None and said.free_negation:
        return None
    kinds: set[str] = set()
    if _ELSE.search(folded):
        kinds.add("else")
    if words & _CLOSE or _CLOSE_JOINED.search(folded) or _CLOSING.search(folded):
        kinds.add("close")
    elif _OFFER.search(folded):
        kinds.add("offer")
    if _PROBLEM.search(folded) or (said is not None and (
            said.live_problems or "solved" in said.negated or "contrast" in said.categories)):
        kinds.add("problem")
    if not kinds and (_ARRIVED.search(folded) or _WORKS.search(folded)):
        kinds.add("works")
    if len({FINE_ON[k] for k in kinds}) != 1:
        return None
    order = ("else", "close", "offer", "problem", "works")
    return next(k for k in order if k in kinds)


# --- the answer ----------------------------------------------------------------------

def _phrases(text: str) -> list[str]:
    return sorted((p.strip() for p in text.strip().split("|") if p.strip()), key=len,
                  reverse=True)


#: "not yet", "not quite": never says all is well
_PARTIAL = _phrases("""
not yet|not quite|not really|not completely|not entirely|not fully|no not yet|nope not yet|
still no|sadly not|unfortunately not|
noch nicht|nicht ganz|nicht wirklich|leider nicht|leider noch nicht|nicht so ganz|
pas encore|pas tout à fait|pas vraiment|pas complètement|toujours pas|malheureusement pas|
todavía no|aún no|no del todo|no realmente|no exactamente|no completamente|lamentablemente no|
non ancora|ancora no|non del tutto|non proprio|non completamente|purtroppo no|
ainda não|não totalmente|não exatamente|não completamente|não de todo|infelizmente não|
nog niet|niet helemaal|niet echt|helaas niet|
inte än|inte ännu|inte riktigt|inte helt|tyvärr inte|
ikke endnu|ikke helt|ikke rigtig|desværre ikke|
ikke ennå|ikke enda|ikke helt|ikke egentlig|dessverre ikke|
ei vielä|ei ihan|ei oikeastaan|ei kokonaan|ei täysin|valitettavasti ei|
jeszcze nie|nie do końca|nie całkiem|niezupełnie|niestety nie|
ještě ne|zatím ne|ne úplně|ne zcela|bohužel ne|ne tak docela|
еще нет|пока нет|не совсем|не до конца|не очень|к сожалению нет|к сожалению, нет|
ще ні|поки ні|поки що ні|не зовсім|не до кінця|на жаль ні|на жаль, ні|
henüz değil|tam değil|pek değil|tam olarak değil|maalesef hayır|daha değil|
ليس بعد|لا ليس بعد|ليس تماما|ليس تماماً|ليس بالكامل|للأسف لا|لم يحل بعد|
まだです|まだ|完全ではありません|いいえ、まだです|いえ、まだです|まだなんです|
还没有|还没|尚未|不完全|还不行|没有完全|
아직이요|아직요|아직|아직 아닙니다|아직 안 됩니다|완전히는 아닙니다|아니요, 아직
""")
_NO = _phrases("""
no|nope|nah|no no|not at all|none|nothing|nothing else|nothing more|no need|
nein|nö|nee|ne|nichts|nichts mehr|nein, nichts|
non|rien|non rien|plus rien|
no|nada|nada más|
no|niente|nulla|nient'altro|
não|nao|nada|nada mais|
nee|neen|nee hoor|niets|nee, niets|niks|
nej|nä|nix|inget|ingenting|inget mer|
nej|næ|ikke noget|intet|ingenting|
nei|nei da|ingenting|ikke noe|
ei|eipä|ei mitään|ei muuta|
nie|nic|nic więcej|nie, nic|
ne|nic|nic dalšího|nic víc|
нет|неа|ничего|больше ничего|
ні|нічого|більше нічого|
hayır|yok|hayır yok|gerek yok|başka yok|
لا|كلا|لا شيء|
いいえ|いえ|いや|大丈夫です|特にありません|ありません|
不|不是|没有|不用|不用了|不需要|没有了|
아니요|아니오|아뇨|없습니다|없어요|괜찮습니다
""")
_YES = _phrases("""
yes|yep|yeah|yup|yes please|sure|correct|indeed|absolutely|of course|affirmative|
yes it does|yes it did|yes it has|yes we can|yes you can|
ja|jawohl|jo|jep|genau|klar|ja bitte|ja gerne|ja gern|ja klar|jup|
oui|ouais|oui oui|tout à fait|exact|exactement|bien sûr|oui s'il vous plaît|oui svp|
sí|si|claro|correcto|exacto|por supuesto|sí por favor|
sì|certo|esatto|confermo|certamente|sì grazie|sì per favore|
sim|claro|certo|exato|exatamente|sim por favor|pode|
ja|jazeker|klopt|zeker|ja graag|ja hoor|
ja|japp|jo|absolut|stämmer|ja tack|
ja|jo|jep|korrekt|ja tak|
ja|jo|jepp|stemmer|ja takk|
kyllä|joo|juu|jep|kyllä kiitos|
tak|owszem|dokładnie|jasne|tak proszę|
ano|jo|jasně|přesně|ano prosím|
да|ага|конечно|верно|да, пожалуйста|да пожалуйста|
так|авжеж|звісно|так, будь ласка|
evet|tabii|tabi|aynen|elbette|evet lütfen|
نعم|أجل|بلى|أكيد|ايوه|أيوه|نعم من فضلك|
はい|ええ|うん|そうです|はい、お願いします|お願いします|
是|是的|对|对的|好的|可以|行|好|
네|예|응|맞습니다|네, 부탁드립니다|
gladly|gerne|gern|volontiers|con gusto|volentieri|com prazer|graag|gärna|gjerne|mielellään|
chętnie|rád|ráda|rádi|с удовольствием|охоче|із задоволенням|memnuniyetle|有|有的
""")
#: "OK", "passt": agrees, but is no "yes" to "anything else?" (read the usual way there)
_OK = _phrases("ok|okay|oki|okej|okey|ок|окей|tamam|passt|vale|va bene|d'accord|prima|oké")
_ALL = [(p, "partial") for p in _PARTIAL] + [(p, "no") for p in _NO] + \
    [(p, "yes") for p in _YES] + [(p, "ok") for p in _OK]
_ALL.sort(key=lambda item: len(item[0]), reverse=True)
#: the phrases by their first character, longest first (one look-up a position)
_BY_FIRST: dict[str, list[tuple[str, str]]] = {}
for _phrase, _kind in _ALL:
    _BY_FIRST.setdefault(_phrase[0], []).append((_phrase, _kind))
#: what may stand between the answer words
_GAP = re.compile(r"[\s,.!;:、，。！…\-–—]*")
_BUT = re.compile(
    r"(?:but|however|aber|allerdings|jedoch|mais|cependant|pero|sin embargo|però|ma|tuttavia|"
    r"mas|porém|maar|men|dock|mutta|kuitenkin|ale|jednak|ale|avšak|но|однако|але|проте|ama|"
    r"fakat|lakin|ancak|لكن|ولكن|でも|しかし|ただ|但|但是|不过|可是|하지만|그런데|다만)"
    r"(?![^\W\d_])")


def _at(folded: str, pos: int) -> tuple[str, int] | None:
    """The answer phrase at ``pos`` (its kind, its end), the longest that ends at a word's
    end."""
    for phrase, kind in _BY_FIRST.get(folded[pos:pos + 1], ()):
        if folded.startswith(phrase, pos):
            end = pos + len(phrase)
            if end == len(folded) or not (folded[end].isalnum() and phrase[-1].isalnum()
                                          and not _cjk(phrase[-1])):
                return kind, end
    return None


def _cjk(char: str) -> bool:
    return bool(re.match(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]", char))


def short_answer(understanding: Understanding, text: str) -> tuple[str, str, str] | None:
    """The answer the new text opens with (yes / no / partial), its words and the rest of
    the text; None when it opens with none, or "but" follows ("Yes, but only in
    Chrome": read the usual way), or the words after it in its clause are not thanks
    ("No problem", "Yes we have another issue")."""
    folded = fold(text.strip())
    pos, kinds, gap = 0, [], ""
    while True:
        found = _at(folded, pos)
        if found is None:
            break
        kinds.append(found[0])
        end = _GAP.match(folded, found[1])
        gap, pos = (end.group(), end.end()) if end else ("", found[1])
    if not kinds or ("no" in kinds and ("yes" in kinds or "ok" in kinds)):
        return None
    kind = "partial" if "partial" in kinds else "yes" if "yes" in kinds else kinds[0]
    words = text.strip()[:pos].strip().strip(" ,.!;:、，。！-–—")
    rest = text.strip()[pos:]
    if _BUT.match(fold(rest)):
        return None
    head = re.split(r"[,.!;:\n、，。！?？]", rest, maxsplit=1)[0]
    if head.strip() and not gap.strip(" \t"):  # "Oui merci", but "No problem", "Yes we have ..."
        said = understanding.clause(head)
        if said.question or not said.categories or said.unknown or not said.categories <= {
                "gratitude", "closing", "pleasantry", "greeting", "solved"}:
            return None
    return kind, words, rest


def _without_greeting(understanding: Understanding, text: str) -> str:
    """``text`` without a greeting line above the answer ("Buongiorno,", "Hi Anna,")."""
    first, _, rest = text.partition("\n")
    if rest and len(first.split()) <= 4 and first.rstrip().endswith((",", "!", "،", "，")) \
            and "greeting" in understanding.clause(first).categories:
        return rest.strip()
    return text


def read_answer(understanding: Understanding, parts: ReplyParts, body: str,
                ours: Sequence[str] = ()) -> Answer | None:
    """The new text read as a short answer to the engineer's question, else None."""
    text = _without_greeting(understanding, parts.text.strip())
    if not text or len(text) > 400:
        return None
    said = short_answer(understanding, text)
    if said is None:
        return None
    kind, words, rest = said
    questions = engineer_questions(body, parts, ours)
    if not questions:
        return None
    asked = question_kind(questions[-1], understanding)
    if asked is None:
        return None
    if len(questions) > 1:
        before = question_kind(questions[0], understanding)
        if before is not None and FINE_ON[before] != FINE_ON[asked]:
            return None
    if (kind == "ok" and FINE_ON[asked] != "yes") or _danish_tak(words, questions[-1]):
        return None  # "Ok, thanks" to "anything else?"; Danish "Tak" (thanks) is no "yes"
    fine = kind in (FINE_ON[asked], "ok" if FINE_ON[asked] == "yes" else "")
    verdict = "all is well" if fine else "reopens"
    reason = (f"a short answer {words!r} ({kind}) to the engineer's question "
              f"{questions[-1][:80]!r} ({asked}: {FINE_ON[asked]} = all is well): {verdict}")
    return Answer(fine, reason, rest, words)


_POLISH = re.compile(r"[ąęłńśźż]|\bczy\b", re.IGNORECASE)


def _danish_tak(words: str, question: str) -> bool:
    """"Tak" is the Polish "yes" and the Danish "thanks": a "yes" only below Polish."""
    return fold(words).startswith("tak") and not _POLISH.search(question)


def explained(said: Answer, reason: str, matched: Sequence[str] = ()) -> str:
    """The reason of a thank-you verdict that a short answer decided (``reason``: the
    verdict on the answer counted as thanks and the rest of the new text; ``matched``:
    the clauses that thanked, the answer alone when the rest only consents, greets or
    signs off)."""
    rest = said.rest.strip()
    if not rest:
        return said.reason
    if tuple(matched) == (said.words,):
        return f"{said.reason}; the rest adds nothing to act on: {rest[:40]!r}"
    return f"{said.reason}; the rest: {reason}"
