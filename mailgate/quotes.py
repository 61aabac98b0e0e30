"""Cut a reply body down to the text the customer just wrote.

Why: whether a reply reopens a ticket must depend only on what the customer
wrote now; quoted history (which usually describes the original problem),
client footers and legal disclaimers would otherwise decide it.

What is removed: quoted history in top-, bottom- and interleaved posting
(``>`` lines; Gmail/Apple "On … wrote:" headers and their sv/ru/nl/de/fr/es
forms; Outlook "-----Original Message-----" and "From:/Sent:" blocks,
forwarded-message markers, a title between rules above address fields, in
any language), the ``-- `` signature and everything after it,
mobile footers ("Sent from my iPhone" and translations) and trailing
confidentiality disclaimers. Closing formulas and the sender's name are left
in place: the thank-you step (``mailgate.replies``) deals with those.

``mailparser_reply`` is used for what it does well: its per-language header
regexes (en, de, fr, es, nl, sv; it has no Russian) are a second opinion on
where the history starts. Its signature stripping is deliberately not used:
it treats any line starting with "Thanks,", "Gracias," or "Bedankt," and any
"- item" line as the start of a signature and drops everything after it, which
would turn "Thanks,\\nbut it still fails" into a bare thank-you: the one error
this module must not make. Every header match is validated (a time of day or an
address must be present) so that a sentence such as "On Monday it failed, as I
wrote:" does not cut the reply.

Bounded work: input is capped at ``MAX_INPUT`` characters, the library's
(super-linear) regexes only ever see a few short candidate lines, and
``new_text`` never raises.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from mailgate.footers import RULE, SIG_DELIM, strip_disclaimers, strip_signature, without_footers

MAX_INPUT = 200_000
#: Languages asked of mailparser_reply; unsupported ones (ru) are dropped by it.
LANGUAGES = ("en", "de", "fr", "es", "nl", "sv", "ru")
_MAX_HEADER_LINE = 200  # longer lines are never headers (and would be slow to test)
_MAX_LIBRARY_CALLS = 40  # the library regex costs up to ~1 ms per candidate line

_I = re.IGNORECASE
_QUOTED = re.compile(r"^\s*>")
_VERB_TAIL = r"\s*[:：]\s*$"
_WROTE = [
    re.compile(p, _I)
    for p in (
        r"^on\s.{0,200}\bwrote" + _VERB_TAIL,
        r"^(?:den\s|[0-9]|(?:mån|tis|ons|tor|fre|lör|sön)).{0,200}\bskrev\b.{0,120}" + _VERB_TAIL,
        r"^am\s.{0,200}\bschrieb\b.{0,120}" + _VERB_TAIL,
        r"^op\s.{0,200}\b(?:schreef\b.{0,120}|het volgende geschreven)" + _VERB_TAIL,
        r"^le\s.{0,200}\ba\s+écrit" + _VERB_TAIL,
        r"^el\s.{0,200}\bescribió" + _VERB_TAIL,
        r"^.{0,200}(?:написал\(а\)|написала|написал|пишет)" + _VERB_TAIL,
        # name first: "Acme <a@b.example> schrieb am Mo., 3. Juni 2024, 10:15:" (Outlook for Mac)
        r"^.{0,120}<[^<>\s]*@[^<>\s]*>\s*(?:wrote|schrieb|skrev|schreef|a\s+écrit|escribió"
        r"|написал\(а\)|написала|написал|пишет)\b.{0,80}" + _VERB_TAIL,
        # address in angle brackets ending the line: Gmail ru/old Gmail/Yandex/any language
        r"^.{0,200}<[^<>\s]*@[^<>\s]*>\s*(?:\w+(?:\(\w{1,3}\))?\s*){0,2}" + _VERB_TAIL,
    )
]
_HEADER_START = re.compile(
    r"^(?:on|den|am|op|le|el|[0-9]|mån|tis|ons|tor|fre|lör|sön|пн|вт|ср|чт|пт|сб|вс)\b", _I
)
_FIELD = re.compile(
    r"^[*_ ]*(from|sent|to|subject|date|cc|från|skickat|till|ämne|datum|kopia|von|gesendet|an"
    r"|betreff|van|verzonden|aan|onderwerp|de|envoyé|à|objet|enviado|para|asunto|fecha"
    r"|от|отправлено|кому|тема|дата|копия)[*_ ]*:",
    _I,
)
_FROM_FIELDS = {"from", "från", "von", "van", "de", "от"}
#: Outlook's header labels in the other desk languages (cs, pl, uk, fi, da/nb, it, pt, es,
#: tr, ja, zh, ko, ar); a block of them must hold three labels, a From first, and a
#: time (its Sent line): "Od: 8:00 / Do: 16:00" typed by a customer is two lines
_MORE_FIELD = re.compile(
    r"^[*_ ]*(de|od|odesláno|komu|předmět|kopie|wysłano|do|temat|dw|від|надіслано|кому|тема"
    r"|копія|lähettäjä|lähetetty|vastaanottaja|aihe|kopio|fra|sendt|til|emne|dato|da|inviato"
    r"|a|oggetto|enviada em|enviado em|enviado el|enviada|enviado|para|assunto|asunto|data"
    r"|kimden|gönderildi|gönderilme tarihi|kime|konu|bilgi|tarih|cc|差出人|送信者|送信日時|宛先"
    r"|件名|日付|发件人|发送时间|收件人|主题|抄送|日期|寄件者|寄件日期|收件者|主旨|보낸 사람"
    r"|보낸 날짜|받는 사람|제목|참조|날짜|من|أرسلت|أرسل|إلى|الموضوع|نسخة|التاريخ|تاريخ)"
    r"[*_ ]*[:：]\s*(.*)$",
    _I,
)
_MORE_FROM = {"od", "від", "lähettäjä", "fra", "da", "de", "kimden", "差出人", "送信者", "发件人",
              "寄件者", "보낸 사람", "من"}
_SEPARATOR = re.compile(
    r"^[\s*_>]*\\?-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine"
    r"|mensaje original|oorspronkelijk bericht|ursprungligt meddelande|originalmeddelande"
    r"|исходное сообщение|пересылаемое сообщение|forwarded message|weitergeleitete nachricht"
    r"|vidarebefordrat meddelande|message transféré|mensaje reenviado|doorgestuurd bericht"
    r"|messaggio originale|mensagem original|oprindelig meddelelse|opprinnelig melding"
    r"|alkuperäinen viesti|wiadomość oryginalna|původní zpráva|původní e-mail"
    r"|оригінальне повідомлення|вихідне повідомлення|початкове повідомлення"
    r"|orijinal mesaj|özgün ileti"
    r"|الرسالة الأصلية|元のメッセージ|原始邮件|原始郵件|원본 메시지|messaggio inoltrato"
    r"|mensagem encaminhada|videresendt meddelelse|videresendt melding|välitetty viesti"
    r"|przekazana wiadomość|přeposlaná zpráva|переслане повідомлення|iletilen mesaj)"
    r"\s*-{2,}[\s*_]*$"
    r"|^\s*(?:begin forwarded message|anfang der weitergeleiteten nachricht|début du message"
    r" réexpédié|inicio del mensaje reenviado|begin doorgestuurd bericht|vidarebefordrat brev"
    r"|начало переадресованного сообщения)\s*:\s*$",
    _I,
)
#: a title between rules ("----- 원본 메일 -----", "-----Oryginalna wiadomość-----"): a
#: separator in any language when "Label: value" lines with an address follow it
_TITLED_RULE = re.compile(r"^[\s*_]*\\?-{2,}\s*[^\W\d_][^-]{1,40}?\s*-{2,}[\s*_]*$")
# A line can start a history header only if it holds one of these characters (the
# separators, rules, "Field:" blocks, times and addresses all do) or begins like an
# attribution ("On", "Am", a date...) whose second line holds them: every other line is
# skipped without the header tests (most lines of a message; a third of its processing).
_MAYBE_HEADER = re.compile(r"[:：\-_=—*@0-9]")
try:  # the library is a declared dependency, but quote stripping must survive without it
    from mailparser_reply.parser import EmailMessage

    _LIBRARY_HEADER = EmailMessage(text="", languages=list(LANGUAGES)).HEADER_REGEX
except Exception:  # pragma: no cover - only when the library is missing or broken
    _LIBRARY_HEADER = None


def new_text(body: str) -> str:
    """Return only the newly written text of a reply ``body`` (never raises).

    The answers for the last few texts are remembered: one message's text is asked
    about by the language guess, the duplicate check and the thanks detector.
    """
    if isinstance(body, bytes | bytearray):
        body = bytes(body[:MAX_INPUT]).decode("utf-8", "replace")
    return _new_text(body if isinstance(body, str) else str(body or ""))


@functools.lru_cache(maxsize=16)
def _new_text(body: str) -> str:
    return reply_parts(body).text


@dataclass(frozen=True)
class ReplyParts:
    """A reply cut into what the customer wrote now (``text``), what stands below its
    ``-- `` line (``signature``: usually a signature, sometimes a "P.S."), text written
    below the quoted history after a rule or a "P.S." (``late``), and the history itself
    (``history``: what the ticket's stored messages can tell apart from new words)."""

    text: str
    signature: str = ""
    late: str = ""
    history: str = ""  # the quoted history cut away (quote marks kept), for comparison


@functools.lru_cache(maxsize=16)
def reply_parts(body: str) -> ReplyParts:
    """The parts of a reply ``body`` (never raises; see ``ReplyParts``)."""
    try:
        text = str(body or "")[:MAX_INPUT].replace("\r\n", "\n").replace("\r", "\n")
        text = text.translate(_INVISIBLE)
        lines = [line.rstrip() for line in text.split("\n")]
        kept, history = _cut_history(lines)
        kept = [line for line in kept if not _QUOTED.match(line)]
        signature: list[str] = []
        for k, line in enumerate(kept):
            if SIG_DELIM.match(line):
                kept, signature = kept[:k], kept[k + 1:]
                break
        kept = strip_disclaimers(strip_signature(kept))
        return ReplyParts(_joined(kept), _joined(strip_disclaimers(without_footers(signature))),
                          _joined(_late_text(history)), "\n".join(history))
    except Exception:  # pragma: no cover - defensive: a classifier input is better than a crash
        try:
            return ReplyParts("\n".join(
                line for line in str(body)[:MAX_INPUT].splitlines() if not _QUOTED.match(line)
            ).strip())
        except Exception:
            return ReplyParts("")


#: a separator line that says the message below was forwarded, not replied to
_FORWARD_MARK = re.compile(
    r"forward|weitergeleitet|transféré|réexpédié|reenviado|doorgestuurd|vidarebefordrat"
    r"|пересылаем|переадресован|inoltrato|encaminhada|videresendt|välitetty|przekazana"
    r"|přeposlaná|переслане|iletilen", _I)
#: a subject that says the mail is a forward: then an Outlook "From:/Sent:" block below the
#: new text is the forwarded mail, not our quoted mail
_FORWARD_SUBJECT = re.compile(
    r"^\s*(?:fwd?|wg|tr|rv|enc|doorst|vs|vb|vl|pd|i̇lt|ilt|пересл|fw|転送|转发|轉寄|전달)"
    r"\s*[:：]", _I)
MAX_FORWARDED = 20_000  # characters of a forwarded message passed on; the rest is cut


def forwarded_part(body: str, subject: str = "", own: frozenset[str] = frozenset()) -> str:
    """The forwarded message below a forward's new text ("---------- Forwarded message
    ---------", "Begin forwarded message:", or an Outlook "From:/Sent:" block under a
    "Fwd:"/"WG:"/"TR:" subject), else "" (a reply's quoted history is no forward, nor is
    our own mail forwarded back: a header line of the forwarded block naming one of the
    ``own`` addresses, lower case, says so; an engineer forwarding a team notification to
    the ticket must not relay the desk's internal text to the customer).

    Why: what ``new_text`` cuts away as history is, in a forward, the very thing the
    sender passes on ("please look into this, see below"): the engineers' notification and
    a relay to the customer must carry it, or "see below" points at nothing."""
    history = reply_parts(str(body or "")).history.strip("\n")
    if not history:
        return ""
    first = history.split("\n", 1)[0]
    if not ((_SEPARATOR.match(first) and _FORWARD_MARK.search(first))
            or _FORWARD_SUBJECT.match(subject or "")):
        return ""
    head = "\n".join(history.split("\n", 12)[:12]).lower()
    if any(address in head for address in own):
        return ""
    if len(history) > MAX_FORWARDED:
        history = history[:MAX_FORWARDED].rsplit("\n", 1)[0] + "\n[…]"
    return history


#: zero-width and direction marks (Gmail wraps an Arabic attribution line in U+202B … U+202C)
_INVISIBLE = {0x200B: None, 0xFEFF: None, 0x200E: None, 0x200F: None, 0x00A0: 0x20,
              0x2028: 0x0A, **dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])}
# "\n\n\n+", not "\n{3,}": the same matches, but the literal prefix lets the regex engine
# skip to each line break instead of trying a repeat at every character (2 us, not 60, for
# a 4 KB reply)
_BLANK_LINES = re.compile(r"\n\n\n+")


def _joined(lines: list[str]) -> str:
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


AFTERTHOUGHT = re.compile(
    r"^\s*(?:p\.?\s?p?\.?\s?s\b\.?|n\.\s?b\.|nachtrag|update|addendum|tillägg|tilføjelse"
    r"|tillegg|aanvulling|post-scriptum|posdata|p\.\s?d\.|obs\.|追伸|追記|补充|추신|ملاحظة"
    r"|dopln|uzupełnienie|lisäys|доповнення|дополнение|ek olarak|mise à jour|complément"
    r"|actualización|aggiornamento|atualização|uppdatering|opdatering|oppdatering|päivitys"
    r"|aktualizacja|aktualizace|обновление|оновлення|güncelleme|تحديث|更新|추가|업데이트"
    # a note marker with its colon ("Not:", "Nota:", "Huom:", "Uwaga:", "Примечание:")
    r"|(?:note?|nota|notiz|hinweis|remarque|opmerking|notera|obs|huom\.?|huomautus|uwaga"
    r"|pozn\.|poznámka|примечание|примітка|참고)\s?[:：]"
    # "I forgot (to say):" opening a line: what follows is added ("Ještě jsem zapomněl: CNC
    # …", "Забула: …", "Glömde: …", "Se me olvidaba: …", "言い忘れました。…")
    r"|(?P<forgot>(?:(?:oh|ah|sorry|o ja|ach|och|ja|ai|ой|ой,)[,!]?\s+)?"
    r"(?:i\s+|ich\s+|jeg\s+|jag\s+|ik\s+)?"
    r"(?:forgot|vergessen|vergaß|vergass|vergat|vergeten|glömde|glemte|glemt|unohtui|unohdin"
    r"|zapomniał[ae]m|zapomněl[a]?|ještě jsem zapomněl[a]?|zapomněl[a]? jsem|забыл[а]?|забув"
    r"|забула|unuttum|نسيت|olvidé|se me olvid(?:aba|ó)|dimenticavo|mi sono dimenticat[oa]"
    r"|esqueci|j'allais oublier|j'ai oublié|j'oubliais|hab(?:e)? (?:ich )?vergessen)\b"
    r"|言い忘れ|書き忘れ|忘了说|忘记说|깜빡했|깜빡하고))",
    re.IGNORECASE)


def _late_text(history: list[str]) -> list[str]:
    """Unquoted text below the quoted history that the customer wrote there: after a bare
    rule that no header block follows, or from an afterthought marker ("P.S.") on."""
    for k, line in enumerate(history):
        if _QUOTED.match(line):
            continue
        if AFTERTHOUGHT.match(line):
            return [x for x in history[k:] if not _QUOTED.match(x)]
        if _RULE_SHORT.match(line):
            nxt = next((j for j in range(k + 1, len(history)) if history[j].strip()), None)
            if nxt is not None and not _field_block(history, nxt) and \
                    not _SEPARATOR.match(history[nxt].strip()) and not _is_wrote(history[nxt]):
                return [x for x in history[nxt:] if not _QUOTED.match(x)]
    return []


_RULE_SHORT = re.compile(r"^\s*[-_=*]{3,}\s*$")


def _cut_history(lines: list[str]) -> tuple[list[str], list[str]]:
    """Drop history: skip a header followed by quoted lines, cut at one followed by plain
    text; return the lines kept and the history cut away."""
    budget = [_MAX_LIBRARY_CALLS]
    out: list[str] = []
    maybe, starts, quoted = _MAYBE_HEADER.search, _HEADER_START.match, _QUOTED.match
    i, count = 0, len(lines)
    while i < count:
        line = lines[i]
        # a line that cannot start a header (most lines: two tests), or a quoted line (kept
        # here, removed by the caller, to keep scanning simple)
        if (not maybe(line) and not starts(line.strip())) or quoted(line):
            out.append(line)
            i += 1
            continue
        span = _header_span(lines, i, budget)
        if not span:
            out.append(lines[i])
            i += 1
            continue
        nxt = next((j for j in range(i + span, len(lines)) if lines[j].strip()), None)
        if nxt is None or not _QUOTED.match(lines[nxt]):
            return out, lines[i:]  # Outlook style: unquoted history follows the header
        i += span  # Gmail style: quoted history follows; keep scanning for bottom-posted text
    return out, []


def _header_span(lines: list[str], i: int, budget: list[int]) -> int:
    """Number of lines of the history header starting at line ``i`` (0: none)."""
    line = lines[i].strip()
    if not line or len(line) > _MAX_HEADER_LINE:
        return 0
    if _SEPARATOR.match(line):  # "---------- Původní e-mail ----------", then its fields
        return _field_lines(lines, i + 1, _ANY_FIELD)[1] - i
    if _TITLED_RULE.match(line):  # "----- 원본 메일 -----" in a language not listed: by its
        found, end = _field_lines(lines, i + 1, _ANY_FIELD)  # fields, one an address
        return end - i if len(found) >= 2 and any("@" in m.group(2) for m in found) else 0
    if RULE.match(line):
        nxt = next((j for j in range(i + 1, len(lines)) if lines[j].strip()), None)
        fields = _field_block(lines, nxt) if nxt is not None else 0
        return nxt - i + fields if nxt is not None and fields else 0
    fields = _field_block(lines, i)
    if fields:
        return fields
    if _is_wrote(line):
        return 1
    if (_is_any_wrote(line) or _NAME_WROTE.match(line)) and _quoted_next(lines, i):
        return 1  # in a language without a pattern, or no date: only above quoted lines
    if i + 1 < len(lines) and _HEADER_START.match(line) and not line.endswith((".", "!", "?")):
        joined = f"{line} {lines[i + 1].strip()}"
        if len(joined) <= _MAX_HEADER_LINE and _is_wrote(joined):
            return 2
    return _library_span(lines, i, budget)


def _is_wrote(line: str) -> bool:
    """True for a validated "On <date>, <name> wrote:" style line in a supported language."""
    return _has_date_or_address(line) and any(p.match(line) for p in _WROTE)


def _is_any_wrote(line: str) -> bool:
    """An attribution line in any language: a time and a date (often an address), then a
    colon ("…于2024年8月9日周五 09:29写道：", "Dne 17. 11. 26 v 08:49 Jan Novák napsal(a):",
    "17.11.26 10:47, Підтримка пише:"). A customer can write such a line too ("Since
    12.03.2024 10:15 anna@x gets this:"), so it counts only above quoted lines."""
    return line.endswith((":", "：")) and _TIME.search(line) is not None \
        and _DATE.search(line) is not None


#: Thunderbird's and other clients' attribution without a date, "<name> wrote:" in the
#: desk languages ("ACME Support さんは書きました:", "ACME Support 写道:", "Anna schrieb:"): by
#: itself any short line ending so; counted only above quoted lines.
_NAME_WROTE = re.compile(
    r"^.{1,120}?(?:\s|さん|様)(?:さんは書きました|は書きました|wrote|schrieb|skrev|schreef"
    r"|a\s+écrit|escribió|ha\s+scritto|escreveu|kirjoitti|napisał\(a\)|napisał|napisała"
    r"|napsal\(a\)|napsal|написал\(а\)|написал|написала|пише|пишет|yazdı|كتب|님이\s*작성)"
    r"\s*[:：]\s*$|^.{1,120}?(?:写道|寫道|님이\s*작성)\s*[:：]\s*$", _I)


def _quoted_next(lines: list[str], i: int) -> bool:
    nxt = next((j for j in range(i + 1, len(lines)) if lines[j].strip()), None)
    return nxt is not None and bool(_QUOTED.match(lines[nxt]))


_DATE_OR_ADDRESS = re.compile(r"\b\d{1,2}[:.]\d{2}\b|@")
_TIME = re.compile(r"(?<!\d)\d{1,2}[:.]\d{2}(?!\d)")
_DATE = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)|(?<!\d)\d{1,2}[./]\d{1,2}[./]\d{2,4}(?!\d)"
                   r"|(?<!\d)\d{1,2}\.\s\d{1,2}\.\s\d{2,4}(?!\d)")  # "17. 11. 26" (cs, sk)
# any "Label: value" line, whatever the language of the label ("差出人:", "Od:", "Kimden:")
_ANY_FIELD = re.compile(r"^[*_ ]*([^\W\d_][^:：]{0,24}?)[*_ ]*[:：]\s*(\S.*)$")


def _has_date_or_address(text: str) -> bool:
    """A real attribution line carries a time ("10:15", "10.15") or an address."""
    return _DATE_OR_ADDRESS.search(text) is not None


def _field_lines(lines: list[str], i: int, pattern: re.Pattern[str]
                 ) -> tuple[list[re.Match[str]], int]:
    """The "Label: value" lines from ``i`` on that ``pattern`` matches, and the index after
    the last one; HTML mail turned to text parts them by single blank lines."""
    found: list[re.Match[str]] = []
    j = end = i
    while j < len(lines) and len(found) < 12 and len(lines[j]) <= _MAX_HEADER_LINE:
        m = pattern.match(lines[j].strip())
        if not m:
            break
        found.append(m)
        end = j + 1
        j += 1
        if j + 1 < len(lines) and not lines[j].strip() and lines[j + 1].strip():
            j += 1  # "Von: …\n\nGesendet: …": one blank line between fields
    return found, end


def _field_block(lines: list[str], i: int) -> int:
    """Length of an Outlook "From:/Sent:/To:/Subject:" block at ``i`` (needs From + another)."""
    found, end = _field_lines(lines, i, _FIELD)
    names = [m.group(1).casefold() for m in found]
    # GMX and web.de put the date first: "Gesendet: …", then "Von: …"
    if len(set(names)) >= 2 and (names[0] in _FROM_FIELDS or (
            len(set(names)) >= 3 and names[1] in _FROM_FIELDS)):
        return end - i
    more = _more_field_block(lines, i)
    if more:
        return more
    fresh = i == 0 or not lines[i - 1].strip() or bool(RULE.match(lines[i - 1]))
    return _any_field_block(lines, i) if fresh else 0  # a header block starts a paragraph


def _more_field_block(lines: list[str], i: int) -> int:
    """Length of an Outlook header block labelled in another language (see ``_MORE_FIELD``)."""
    found, end = _field_lines(lines, i, _MORE_FIELD)
    names = [m.group(1).casefold() for m in found]
    if len(set(names)) >= 3 and (names[0] in _MORE_FROM or names[1] in _MORE_FROM) and any(
            _TIME.search(m.group(2)) for m in found):
        return end - i
    return 0


def _any_field_block(lines: list[str], i: int) -> int:
    """A header block in any language: three or more "Label: value" lines, the first
    value an address, one of them a date with a time (a signature has no time)."""
    found, end = _field_lines(lines, i, _ANY_FIELD)
    values = [m.group(2) for m in found]
    if len(values) >= 3 and "@" in values[0] and any(
            _TIME.search(v) and _DATE.search(v) for v in values):
        return end - i
    return 0


def _library_span(lines: list[str], i: int, budget: list[int]) -> int:
    """Ask mailparser_reply's header regex about line ``i`` (and a few following lines)."""
    line = lines[i].strip()
    if _LIBRARY_HEADER is None or budget[0] <= 0 or not _has_date_or_address(line):
        return 0
    field = _FIELD.match(line)
    if field and field.group(1).casefold() not in _FROM_FIELDS:
        return 0  # "To: anna@x.example" / "Cc: …" typed by the customer is not a header
    if not (line.endswith(":") or field):
        return 0
    window = [w.strip() for w in lines[i : i + 3] if len(w.strip()) <= _MAX_HEADER_LINE]
    budget[0] -= 1
    m = _LIBRARY_HEADER.search("\n".join(window))
    if m is None:
        return 0
    found = m.group(0)
    begins = m.start() + len(found) - len(found.lstrip("\n"))
    if not window or begins >= len(window[0]):  # the header must start on this very line
        return 0
    return max(1, found.strip("\n").count("\n") + 1)


#: how a header's first line starts or ends (a rule or separator, "Label:", "…wrote:"): a
#: cheap test before ``_header_span`` on every line of an old message
_HEADER_LIKE = re.compile(r"^[\s*_>\\]*(?:[-_=*━─]{2}|[^:：]{1,40}[:：])|.*[:：]\s*$")


def quoted_messages(history: str) -> tuple[list[list[str]], bool]:
    """The old messages of a history that starts with a header block and holds them
    unquoted (Outlook's "From:/Sent:" blocks, each followed by a message as plain text):
    the lines of each, and whether quoted lines follow (then the last is cut short there).
    None when the history starts otherwise. A customer who writes below the history
    ("bottom posting", a remark below it) writes after a message's sign-off
    (``mailgate.replies`` finds it)."""
    lines = history.splitlines()[:400]
    start = next((j for j, line in enumerate(lines) if line.strip()), None)
    budget = [_MAX_LIBRARY_CALLS]
    span = _header_span(lines, start, budget) if start is not None else 0
    if not span or start is None:
        return [], False
    messages: list[list[str]] = [[]]
    j = start + span
    while j < len(lines):
        line = lines[j]
        if _QUOTED.match(line):
            return messages, True
        span = _header_span(lines, j, budget) if _HEADER_LIKE.match(line) or \
            _HEADER_START.match(line.strip()) else 0
        if span:  # a separator, a blank line, then its fields: one header
            if any(x.strip() for x in messages[-1]):
                messages.append([])
            j += span
            continue
        messages[-1].append(line)
        j += 1
    return messages, False


def is_separator(line: str) -> bool:
    """A history separator line ("-----Original Message-----", "----- 원본 메일 -----")."""
    text = line.strip()
    return bool(_SEPARATOR.match(text) or _TITLED_RULE.match(text) or RULE.match(text))
