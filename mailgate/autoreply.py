"""Recognise automatic mail and bounces, so the gateway never answers a robot.

An acknowledgement sent to an autoresponder, a list or a mailer-daemon starts a
mail loop or spams a list, and a bounce of our own reply belongs to the ticket
that caused it. Rules follow RFC 3834 (Auto-Submitted), RFC 3464 (DSN) and what
Postfix, OTRS, RT and Zammad learned from real traffic. Decisions:

* Out-of-office by subject: a localised autoresponder prefix at the very start
  ("Automatic reply:", "Automatische Antwort:", "Autosvar:" ...) decides alone; a
  looser phrase anywhere ("Out of Office", "Abwesenheitsnotiz", "Автоответ" ...)
  needs an automatic-header hint or a null sender, so a customer asking "who
  covers while I'm out of office?" stays human.
* A non-standard bounce (qmail, old Exim, plain NDRs) needs a bounce subject or
  body marker *and* a robot hint (null/robot sender, Auto-Submitted); an RFC 3464
  report with a failed or delayed recipient is a bounce by itself. A report whose
  recipients were all delivered is no bounce, but still automatic.
* A read receipt sent as an ordinary mail (Outlook's "Read:", "Gelesen:", "Lu :" ... in
  its languages, Notes' "Return Receipt"; a multipart/report MDN is automatic anyway)
  is automatic when its text is short and says when the mail was read (a time or a date).
* Recipients prefer Original-Recipient (the address we wrote to) to Final-Recipient.
Hostile input: header access under ``policy.default`` can raise on malformed
values, so every access is guarded and a failure reads as "absent"; regexes use
bounded repeats only; bodies are scanned over at most 64 KB in 100 parts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from email.utils import parseaddr
from functools import lru_cache
from typing import TypeVar

from mailgate.message.fastpath import _SIMPLE_MAILBOX

T = TypeVar("T")

_SCAN_LIMIT = 64 * 1024
_SLOW_CODECS = frozenset({"punycode", "idna", "raw-unicode-escape", "unicode-escape", "uu",
                          "uu-codec", "zlib", "zlib-codec", "bz2", "bz2-codec"})
_MAX_PARTS = 100
_MAX_DEPTH = 8


@dataclass(frozen=True)
class Automatic:
    """Why a message must never be auto-answered."""

    kind: str  # auto-submitted, bulk, list, autoreply, out-of-office, null-sender, ...
    reason: str  # human-readable, for the ticket's event log


@dataclass(frozen=True)
class Bounce:
    """What a delivery status notification says about our outbound message."""

    original_message_id: str | None
    recipients: tuple[str, ...]
    status: str | None
    action: str | None
    diagnostic: str | None
    permanent: bool


_ROBOT_LOCAL = re.compile(
    r"(?:^|[._+=-])(?:mailer[-_.]?daemon|postmaster|no[-_.]?reply|do[-_.]?not[-_.]?reply|bounces?)"
    r"(?:$|[._+=\d-])|^mailer(?:$|[._+=\d-])|^microsoftexchange[0-9a-f]{32}$", re.I)
_OOF_PREFIX = re.compile(
    r"^\s{0,10}(?:automatic reply|auto[- ]?reply|out of office auto[- ]?reply|autosvar"
    r"|automatisch antwoord|automatische antwort|réponse automatique|respuesta automática"
    r"|risposta automatica|resposta automática|automaattinen vastaus|odpowiedź automatyczna"
    r"|автоматический ответ|автоответ|автовідповідь|out of (?:the )?office|abwesenheitsnotiz"
    r"|fuera de la oficina|fuori ufficio|afwezig|frånvaro|poza biurem|fraværsmelding"
    r"|automatická odpověď|otomatik (?:yanıt|cevap)|自动回复|自動応答|自動返信|자동\s?응답"
    # Outlook's and webmails' strings in more languages (a user's run: sv, ko, ar, zh-TW
    # reopened closed tickets), and the absence words such replies start with
    r"|automatiskt? svar|automatyczna odpowiedź|автоматична відповідь|رد تلقائي|자동\s?회신"
    r"|自動回覆|自動回复|부재\s?중|خارج المكتب|fora do escritório|ausência temporária"
    r"|fuori sede|fuera de oficina|mimo kancelář|ofis dışında|poissa toimistolta)"
    r"\s{0,3}[:：]", re.I)
_OOF_PHRASE = re.compile(
    r"\b(?:out of (?:the )?office|abwesenheitsnotiz|abwesend|autosvar|automatisch antwoord"
    r"|réponse automatique|respuesta automática|автоответ|автоматический ответ|on vacation"
    r"|on holiday|on leave|auto[- ]?reply|automatic reply|vacation reply|fuera de la oficina"
    r"|fuori ufficio|afwezig|frånvaro|poza biurem|fravær|automatická odpověď"
    r"|автовідповідь|otomatik yanıt|automatiskt? svar|automatyczna odpowiedź"
    r"|автоматична відповідь|رد تلقائي|خارج المكتب|fora do escritório|ausência temporária"
    r"|fuori sede|mimo kancelář|ofis dışında|poissa toimistolta)\b"
    r"|自动回复|自動応答|自動返信|自動回覆|자동\s?응답|자동\s?회신|부재\s?중|不在|休暇中", re.I)
#: a read receipt sent as a plain mail (not a multipart/report MDN): Outlook's and other
#: clients' "Read:" prefix in their languages, Lotus/HCL Notes' "Return Receipt"
_RECEIPT_PREFIX = re.compile(
    r"^\s{0,10}(?:(?:not |nicht |non |no )?(?:read|gelesen|lu|leído|letto|lido|gelezen|läst"
    r"|læst|lest|luettu|przeczytano|przeczytana|přečteno|прочитано|прочитане|okundu"
    r"|تمت القراءة|مقروءة|開封済み|開封確認|已读|已讀|읽음)\s{0,3}[:：]|return receipt\b)", re.I)
#: ... whose text says when it was read (every client's receipt does): a customer's own
#: mail under such a subject says more than a time
_RECEIPT_TIME = re.compile(r"(?<!\d)\d{1,2}[:.]\d{2}(?!\d)|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}")
_RECEIPT_MAX_TEXT = 600  # characters of text a read receipt has at most
_AUTORESPONDER_MAILER = re.compile(
    r"\b(?:vacation|auto[-_ ]?respon(?:der|se)|auto[-_ ]?reply|out[-_ ]of[-_ ]office)\b", re.I
)
# Headers whose mere presence (any value) marks an automated sender, by kind.
_SUBMITTED = ("X-Auto-Response-Suppress", "X-MS-Exchange-Generated-Message-Source", "X-Cron-Env")
_REPLIED = ("X-Autoreply", "X-Autorespond", "X-Auto-Reply", "X-MS-Exchange-Inbox-Rules-Loop")
_BOUNCE_SUBJECT = re.compile(
    r"^\s{0,10}(?:undelivered mail|delivery status notification \((?:failure|delay)\)"
    r"|mail delivery (?:failed|failure|delayed|problem)|undeliverable\b|failure notice"
    r"|returned mail\b|delivery failure|delayed mail|warning: could not send message"
    r"|delivery (?:has )?failed|non-?delivery|message not delivered)", re.I)
_BOUNCE_BODY = re.compile(
    r"hi\. this is the qmail-send program|created automatically by mail delivery software"
    r"|this is the mail system at host|delivery has failed to these recipients"
    r"|your message (?:couldn't|could not|wasn't|was not) (?:be )?delivered"
    r"|delivery to the following recipients? failed|i'm afraid i wasn't able to deliver"
    r"|the original message was received at|could not be delivered to one or more", re.I)
_DELAY = re.compile(
    r"delayed mail|delivery status notification \(delay\)|delivery delayed|mail delivery delayed"
    r"|warning: could not send message|has not yet been delivered|will (?:keep|continue) trying"
    r"|you do not need to resend your message|this is a warning message only", re.I)
_COPY_MARKER = re.compile(
    r"^.{0,20}(?:this is a copy of the message|below this line is a copy of the message"
    r"|original message follows|original message headers|undelivered message headers"
    r"|-{3,80} ?(?:original|returned) message)", re.I | re.M)
_RECIPIENT_LINE = re.compile(
    r"^[ \t]{0,20}<?([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,253})>?"
    r"[ \t]{0,20}(?:\([^()\n]{0,300}\)[ \t]{0,20})?:?[ \t]{0,20}$", re.M)
_QUOTED_ID = re.compile(r"^[ \t>]{0,10}Message-ID:[ \t]{0,10}(<[^<>\s]{1,900}>)", re.I | re.M)
_MSGID = re.compile(r"<([^<>\s]{1,900})>")
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")


def _safe(fn: Callable[[], T], default: T) -> T:
    """``fn()``, or ``default`` when the email package chokes on malformed input."""
    try:
        return fn()
    except Exception:
        return default


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _get_all(msg: Message, name: str) -> list[str]:
    """Every value of a header, whitespace-collapsed; [] when absent or unparseable."""
    return _safe(lambda: [" ".join(str(v)[:4000].split()) for v in msg.get_all(name) or []], [])


def _get(msg: Message, name: str) -> str | None:
    return next(iter(_get_all(msg, name)), None)


def _addr(value: str | None) -> str:
    return _parsed_addr(value) if value else ""


@lru_cache(maxsize=1024)  # one message asks for the same From and envelope several times
def _parsed_addr(value: str) -> str:
    plain = _SIMPLE_MAILBOX.match(value)
    if plain is not None:  # "Name Words <local@domain>" or "local@domain", written plainly:
        # parseaddr's address is local@domain (~15 us a value, for two values a mail)
        return (f"{plain['local'] or plain['bare_local']}@"
                f"{plain['domain'] or plain['bare_domain']}").lower()
    return _safe(lambda: parseaddr(value)[1].strip().lower(), "")


def _ctype(part: Message) -> str:
    return _safe(part.get_content_type, "text/plain")


def _subject(msg: Message) -> str:
    return unicodedata.normalize("NFC", _get(msg, "Subject") or "")


def _envelope(msg: Message, mail_from: str | None) -> str | None:
    """The envelope sender, lower-cased; '' is the null sender, None unknown."""
    raw = (_get(msg, "Return-Path") if mail_from is None else mail_from.strip()) or ""
    if mail_from is None and not raw:
        return None
    return _addr(raw) or raw.strip("<> ").lower()


def is_robot_address(address: str | None) -> bool:
    """A robot's address: mailer-daemon, postmaster, noreply, bounces and the like."""
    return bool(address and _ROBOT_LOCAL.search(address.rpartition("@")[0] or address))


def _names(msg: Message) -> frozenset[str] | None:
    """The lower-cased names of ``msg``'s header fields, read in one pass (None if that
    fails: then every field is asked for)."""
    return _safe(lambda: frozenset(k.lower() for k in msg), None)


def _header_hints(msg: Message) -> Iterator[Automatic]:
    """Automatic-mail evidence from headers alone, strongest first.

    A field the message does not have reads as absent without a look-up (each look-up
    walks every header field; most of the ~20 fields asked about are never there)."""
    names = _names(msg)

    def get_all(name: str) -> list[str]:
        return _get_all(msg, name) if names is None or name.lower() in names else []

    def get(name: str) -> str | None:
        return next(iter(get_all(name)), None)

    for value in get_all("Auto-Submitted"):
        if value and value.split(";")[0].strip().lower() != "no":
            yield Automatic("auto-submitted", _clip(f"Auto-Submitted: {value}"))
    if _ctype(msg) == "multipart/report":
        kind = _safe(lambda: msg.get_param("report-type"), None)
        yield Automatic("auto-submitted", _clip(f"Content-Type: multipart/report ({kind})"))
    for kind, fields in (("auto-submitted", _SUBMITTED), ("autoreply", _REPLIED)):
        for name in fields:
            found = get(name)
            if found is not None:
                yield Automatic(kind, _clip(f"{name}: {found}"))
    for value in get_all("X-Autogenerated"):
        yield Automatic("autoreply" if "reply" in value.lower() else "auto-submitted",
                        _clip(f"X-Autogenerated: {value}"))
    for name in ("X-Mailer", "X-POST-MessageClass"):
        for value in get_all(name):
            if _AUTORESPONDER_MAILER.search(value):
                yield Automatic("autoreply", _clip(f"{name}: {value}"))
    for value in get_all("Precedence"):
        word = value.split(";")[0].strip().lower()
        if word in ("bulk", "junk", "list"):
            yield Automatic("list" if word == "list" else "bulk", f"Precedence: {word}")
    for name in ("List-Id", "List-Unsubscribe", "List-Post"):
        found = get(name)
        if found is not None:
            yield Automatic("list", _clip(f"{name}: {found}"))


def is_out_of_office(msg: Message, mail_from: str | None = None,
                     hints: list[Automatic] | None = None) -> bool:
    """True for a vacation/out-of-office reply (see the module docstring for the rule);
    ``hints``: ``_header_hints(msg)``, if the caller has them already."""
    try:
        subject = _subject(msg)
        if _OOF_PREFIX.match(subject):
            return True
        if not _OOF_PHRASE.search(subject):
            return False
        if _envelope(msg, mail_from) == "":
            return True
        return any(h.kind in ("auto-submitted", "autoreply", "bulk")
                   for h in (_header_hints(msg) if hints is None else hints))
    except Exception:
        return False


def _plain_receipt(msg: Message) -> bool:
    """A read receipt sent as an ordinary mail: a receipt subject ("Read: ...", "Gelesen:
    ...", "Return Receipt") over a short text that says when (it names a time or a date)."""
    if not _RECEIPT_PREFIX.match(_subject(msg)):
        return False
    text = next((_text(part) for part, inner in _walk(msg) if not inner
                 and _ctype(part) in ("text/plain", "text/html")), "")
    text = " ".join(re.sub(r"<[^<>]{0,500}>", " ", text).split())
    return len(text) <= _RECEIPT_MAX_TEXT and bool(_RECEIPT_TIME.search(text))


def out_of_office_subject(msg: Message) -> bool:
    """Whether the subject names an absence (with no header to confirm it: for mail from
    an engineer, whose old-style out-of-office must never be relayed to a customer)."""
    return _safe(lambda: bool(_OOF_PHRASE.search(_subject(msg))), False)


def classify_automatic(
    msg: Message,
    mail_from: str | None,
    *,
    own_addresses: frozenset[str] = frozenset(),
    own_domain_ids: frozenset[str] = frozenset(),
) -> Automatic | None:
    """Why ``msg`` must not be auto-answered, or None when it looks written by a human."""
    try:
        ids = {i.strip().lower() for i in own_domain_ids}
        for value in _get_all(msg, "X-Mailgate-Loop"):
            if value.strip().lower() in ids:
                return Automatic("own-mail", _clip(f"X-Mailgate-Loop: {value}"))
        sender = _addr(_get(msg, "From"))
        if sender and sender in {a.strip().lower() for a in own_addresses}:
            return Automatic("own-mail", _clip(f"From: {sender} is one of our own addresses"))
        hints = list(_header_hints(msg))  # read once, asked below three times
        bounce = parse_bounce(msg, mail_from, hints)
        if bounce is not None:
            detail = " ".join(x for x in (bounce.action, bounce.status) if x) or "unknown status"
            return Automatic("bounce", f"delivery status notification: {detail}")
        if is_out_of_office(msg, mail_from, hints):
            return Automatic("out-of-office", _clip(f"Subject: {_subject(msg)}"))
        if _plain_receipt(msg):
            return Automatic("read-receipt", _clip(f"Subject: {_subject(msg)}"))
        hint = next(iter(hints), None)
        if hint is not None:
            return hint
        envelope = _envelope(msg, mail_from)
        if envelope == "":
            return Automatic("null-sender", "envelope sender is <>")
        for label, address in (("envelope sender", envelope), ("From", sender)):
            if is_robot_address(address):
                return Automatic("robot-sender", _clip(f"{label} {address}"))
        return None
    except Exception:  # guards above make this unreachable; never break intake
        return None


def _walk(msg: Message) -> Iterator[tuple[Message, bool]]:
    """Parts depth-first, bounded; the flag is True inside an attached message."""
    stack: list[tuple[Message, int, bool]] = [(msg, 0, False)]
    count = 0
    while stack and count < _MAX_PARTS:
        part, depth, inner = stack.pop()
        count += 1
        yield part, inner
        ctype = _ctype(part)
        if depth >= _MAX_DEPTH or ctype.endswith("delivery-status"):
            continue
        payload = _safe(part.get_payload, None) if part.is_multipart() else None
        if isinstance(payload, list):
            child_inner = inner or ctype in ("message/rfc822", "message/global")
            stack.extend((p, depth + 1, child_inner) for p in reversed(payload)
                         if isinstance(p, Message))


def _text(part: Message) -> str:
    data = _safe(lambda: part.get_payload(decode=True), None)
    if not isinstance(data, bytes):
        return ""
    data = data[:_SCAN_LIMIT]
    charset = _safe(part.get_content_charset, None) or "utf-8"
    if charset.lower().replace("_", "-") in _SLOW_CODECS:
        charset = "utf-8"  # a pure-Python quadratic codec is no text encoding anyway
    return _safe(lambda: data.decode(charset, "replace"), data.decode("utf-8", "replace"))


def _ds_blocks(part: Message) -> list[dict[str, str]]:
    """The field groups of a message/delivery-status part, keys lower-cased."""
    payload = _safe(part.get_payload, None)
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list):
        for sub in (p for p in payload[:_MAX_PARTS] if isinstance(p, Message)):
            keys: list[str] = _safe(sub.keys, [])
            blocks.append({k.lower(): v for k in keys[:50] if (v := _get(sub, k)) is not None})
        return blocks
    for chunk in re.split(r"\r?\n[ \t]*\r?\n", _text(part))[:_MAX_PARTS]:
        fields = re.findall(r"^([A-Za-z-]{1,40}):[ \t]*(.*)$", re.sub(r"\r?\n[ \t]+", " ", chunk),
                            re.M)
        blocks.append({k.lower(): " ".join(v.split()) for k, v in fields})
    return blocks


def _norm_id(value: str | None, last: bool = False) -> str | None:
    if not value:
        return None
    found = _MSGID.findall(value)
    if found:
        return f"<{found[-1] if last else found[0]}>"
    token = value.strip().strip("<>")
    return f"<{token}>" if token and len(token) <= 900 and not re.search(r"[\s<>]", token) else None


def _recipient(block: dict[str, str]) -> str | None:
    value = block.get("original-recipient") or block.get("final-recipient") or ""
    address = value.rpartition(";")[2].strip().strip("<>").strip()
    return address or None


def parse_bounce(msg: Message, mail_from: str | None = None,
                 hints: list[Automatic] | None = None) -> Bounce | None:
    """The bounce carried by ``msg`` (failed or delayed), or None when it is not a bounce."""
    try:
        return _parse_bounce(msg, mail_from, hints)
    except Exception:  # guards make this unreachable; a hostile message is simply no bounce
        return None


def _robot_hint(msg: Message, mail_from: str | None,
                hints: list[Automatic] | None = None) -> bool:
    envelope = _envelope(msg, mail_from)
    return (envelope == "" or is_robot_address(envelope)
            or is_robot_address(_addr(_get(msg, "From")))
            or any(h.kind == "auto-submitted"
                   for h in (_header_hints(msg) if hints is None else hints)))


def _parse_bounce(msg: Message, mail_from: str | None,
                  hints: list[Automatic] | None = None) -> Bounce | None:
    if not _ctype(msg).startswith("multipart/report") and \
            not _robot_hint(msg, mail_from, hints):
        return None  # neither a report nor from a robot: no walk over a customer's parts
    blocks, original, text = _report_parts(msg)
    if original is None:
        match = _QUOTED_ID.search(text)
        original = (match.group(1) if match else None) or _norm_id(_get(msg, "In-Reply-To")) \
            or _norm_id(_get(msg, "References"), last=True)
    recipients = [b for b in blocks if "final-recipient" in b or "original-recipient" in b]
    return _dsn_bounce(original, recipients) if recipients \
        else _freeform_bounce(msg, mail_from, original, text)


def _report_parts(msg: Message) -> tuple[list[dict[str, str]], str | None, str]:
    """One walk over the parts for status blocks, the bounced Message-ID and plain text."""
    blocks: list[dict[str, str]] = []
    original: str | None = None
    texts: list[str] = []
    size = 0
    for part, inner in _walk(msg):
        ctype = _ctype(part)
        if inner:
            continue
        if ctype in ("message/delivery-status", "message/global-delivery-status") and not blocks:
            blocks = _ds_blocks(part)
        elif ctype in ("message/rfc822", "message/global") and original is None:
            payload = _safe(part.get_payload, None)
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                original = _norm_id(_get(payload[0], "Message-ID"))
        elif ctype in ("text/rfc822-headers", "message/global-headers") and original is None:
            match = _QUOTED_ID.search(_text(part))
            original = match.group(1) if match else None
        elif ctype == "text/plain" and size < _SCAN_LIMIT:
            texts.append(_text(part)[: _SCAN_LIMIT - size])
            size += len(texts[-1])
    return blocks, original, "\n".join(texts)


def _dsn_bounce(original: str | None, recipients: list[dict[str, str]]) -> Bounce | None:
    """From the per-recipient blocks of a report; None for a success notification."""
    failed = [b for b in recipients if b.get("action", "").lower().startswith("failed")]
    chosen = failed or [b for b in recipients if b.get("action", "").lower() == "delayed"]
    if not chosen:
        chosen = [b for b in recipients
                  if not b.get("action") and b.get("status", "").startswith(("4", "5"))]
    if not chosen:
        return None  # success notification (delivered, relayed, expanded)
    first = chosen[0]
    diagnostic = re.sub(r"^[A-Za-z-]{1,20}[ \t]*;[ \t]*", "", first.get("diagnostic-code", ""))
    status_m = _STATUS.search(first.get("status", "")) or _STATUS.search(diagnostic)
    status = status_m.group(1) if status_m else None
    words = first.get("action", "").split()
    action = words[0] if words else None
    action = action.lower() if action else ("failed" if status and status[0] == "5" else None)
    permanent = action == "failed" if action else bool(status and status[0] == "5")
    return Bounce(original, tuple(dict.fromkeys(filter(None, map(_recipient, chosen)))),
                  status, action, _clip(diagnostic, 500) or None, permanent)


def _freeform_bounce(msg: Message, mail_from: str | None, original: str | None,
                     text: str) -> Bounce | None:
    """Non-standard bounces: a marker in subject or text, plus a robot hint."""
    subject = _subject(msg)
    marker = _COPY_MARKER.search(text)
    head = text[: marker.start()] if marker else text
    if not (_BOUNCE_SUBJECT.match(subject) or _BOUNCE_BODY.search(head)) \
            or not _robot_hint(msg, mail_from):
        return None
    diagnostic = status = None
    for line in head.splitlines()[:2000]:
        found = _STATUS.search(line)
        if found:
            diagnostic, status = _clip(line.strip(), 500), found.group(1)
            break
    delayed = bool(_DELAY.search(subject) or _DELAY.search(head))
    rcpts = tuple(dict.fromkeys(m.group(1) for m in _RECIPIENT_LINE.finditer(head)))
    return Bounce(original, rcpts, status, "delayed" if delayed else "failed",
                  diagnostic, not delayed)
