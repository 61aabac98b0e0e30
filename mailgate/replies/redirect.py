"""Does an automatic notice ask for something a person should act on? ("I have left the
company, please write to Anna Berg <anna@...>", "This mailbox is no longer monitored",
"Please resend your message to helpdesk@...".)

Why: a header-flagged automatic reply (``mailgate.autoreply``) or an absence notice found
in the text (``mailgate.replies.absence``) is recorded on its ticket and nothing else (no
reopen, nobody answered: loop safety; a robot restarts no SLA clock). That is right for
"I'm out until Monday", but a notice saying the writer is gone, their mailbox is dead or
mail must go elsewhere tells the engineer something they must act on: every later answer
would go nowhere (issue #16). Such a notice is passed on to the assignee (the team when
none) as an internal notification; the ticket keeps its status and the address it names
is NOT added (anyone can write an auto-reply: a person decides).

Rule, on the notice's NEW text (``quotes.reply_parts``: quoted history cut away):

* **left**: the writer no longer works there (``absence.left_phrase``, 20 languages);
* **unmonitored**: this mailbox / address is no longer monitored, read, in use or valid;
  the writer's address changed ("my new address is ...");
* **resend**: "please resend / send your message to X", "from now on write to X",
  "future correspondence to X": counts only when the text names an address other than
  the sender's (an away notice's "please resend after my return" names none).

"I'm away until Monday; in urgent cases contact Anna <anna@...>" is none of these: the
writer is back on Monday, the urgent contact is for urgent cases (recorded only). The
phrases cover the 20 languages of the lexicon (en de fr es it pt nl sv da nb fi pl cs ru
uk tr ar ja zh ko). When unsure, nothing is passed on (the notice is still recorded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailgate.quotes import reply_parts
from mailgate.replies.absence import alternatives, left_phrase
from mailgate.replies.lexicon import fold

MAX_TEXT = 4000  # characters of new text read (an auto-reply's disclaimer is not)
MAX_CONTACTS = 3

_S = r"(?: \S{1,30}){0,3}"  # up to three words between (a politeness word, "your", a name)

#: this mailbox / address is no longer read, or it changed
_UNMONITORED = [
    # en
    r"(?:mailbox|inbox|e-?mail address|address|account|e-?mail)(?: address)? is (?:no longer|"
    r"not) (?:being )?(?:monitored|checked|read|in use|active|valid|used|attended)",
    r"(?:is|are) no longer (?:being )?(?:monitored|checked|read)",
    r"my (?:new )?e-?mail address (?:has )?changed", r"my new (?:e-?mail )?address is",
    r"(?:this|my) address (?:will be|has been|is being) (?:closed|deactivated|discontinued|"
    r"retired|deleted)",
    # de
    r"(?:postfach|e-mail-adresse|mailadresse|adresse|mailbox)(?: \S{1,30}){0,2} (?:wird|ist) "
    r"(?:nicht mehr|nun nicht mehr|ab sofort nicht mehr)(?: \S{1,30}){0,2} (?:überwacht|gelesen|"
    r"genutzt|bearbeitet|aktiv|gültig|erreichbar|in betrieb|abgerufen|betreut)",
    r"(?:meine|die) neue (?:e-mail-)?adresse (?:lautet|ist)",
    # fr
    r"(?:adresse|boîte(?: aux lettres)?|boîte mail|messagerie)(?: \S{1,30}){0,2} n'est plus "
    r"(?:consultée|active|utilisée|valide|surveillée|lue|relevée)",
    r"ma nouvelle adresse",
    # es
    r"(?:dirección|cuenta|buzón)(?: \S{1,30}){0,3} ya no (?:está|es|se)(?: \S{1,30})? "
    r"(?:activ[ao]|monitoriza\w*|revisa\w*|válid[ao]|en uso|utiliza\w*|consulta\w*)",
    r"ya no se (?:revisa|monitoriza|supervisa|consulta|utiliza)", r"mi nueva dirección",
    # it
    r"(?:casella|indirizzo)(?: \S{1,30}){0,3} non è più (?:monitorat\w|attiv\w|in uso|valid\w|"
    r"controllat\w|utilizzat\w|consultat\w)", r"il mio nuovo indirizzo",
    # pt
    r"(?:endereço|e-?mail|caixa)(?: \S{1,30}){0,3} (?:já )?não (?:está|é)(?: mais)? "
    r"(?:monitorad\w|ativ\w|utilizad\w|válid\w|consultad\w|lid\w)", r"(?:o )?meu novo endereço",
    # nl
    r"(?:adres|mailbox|postvak|e-?mailadres)(?: \S{1,30}){0,2} (?:wordt|is) niet (?:meer|langer) "
    r"(?:gelezen|bewaakt|gecontroleerd|gebruikt|actief|in gebruik|geldig)",
    r"mijn nieuwe (?:e-?mail)?adres",
    # sv / da / nb
    r"(?:adress|adressen|brevlåda|brevlådan|inkorg|inkorgen)(?: \S{1,30}){0,2} (?:bevakas|läses|"
    r"används|är) (?:inte|ej)(?: längre)?(?: aktiv)?",
    r"min nya (?:e-?post)?adress",
    r"(?:adresse|adressen|postkasse|postkassen|indbakke|innboks)(?: \S{1,30}){0,2} (?:overvåges|"
    r"læses|benyttes|bruges|overvåkes|leses|brukes|er) ikke(?: længere| lenger)?(?: aktiv)?",
    r"min nye (?:e-?mail|e-?post)?adresse",
    # fi
    r"(?:sähköpostiosoitetta|osoitetta|postilaatikkoa)(?: \S{1,30}){0,2} ei (?:enää )?"
    r"(?:seurata|lueta|käytetä)", r"uusi (?:sähköposti)?osoitteeni",
    # pl / cs
    r"skrzynka(?: \S{1,30}){0,2} nie jest (?:już )?(?:monitorowana|obsługiwana|sprawdzana)",
    r"adres(?: \S{1,30}){0,2} (?:jest już nieaktywny|nie jest już (?:aktywny|używany|"
    r"obsługiwany|monitorowany))", r"mój nowy adres",
    r"(?:schránka|adresa)(?: \S{1,30}){0,2} (?:již |už )?není (?:již |už )?(?:sledována|"
    r"monitorována|aktivní|používána|čtena)", r"moje nová (?:e-?mailová )?adresa",
    # ru / uk
    r"(?:ящик|адрес)(?: \S{1,30}){0,2} (?:больше |уже )?не (?:проверяется|используется|"
    r"обслуживается|активен|просматривается)", r"мой новый (?:электронный )?адрес",
    r"(?:скринька|адреса)(?: \S{1,30}){0,2} (?:більше |вже )?не (?:перевіряється|"
    r"використовується|обслуговується|активна|переглядається)", r"моя нова (?:електронна )?адреса",
    # tr
    r"(?:adresi|kutusu)(?: \S{1,30}){0,2} (?:artık )?(?:kullanılmamaktadır|kullanılmıyor|"
    r"takip edilmemektedir|takip edilmiyor|kontrol edilmemektedir|aktif değildir)",
    r"yeni (?:e-?posta )?adresim",
    # ar
    r"(?:البريد|العنوان)(?: \S{1,30}){0,2} (?:لم يعد|غير) (?:مستخدم|مراقب|نشط|فعال|مفعل)",
    r"لم يعد (?:هذا )?(?:البريد|العنوان)", r"عنواني الجديد",
]
_UNMONITORED_JOINED = [
    r"(?:メールアドレス|アドレス|メールボックス)は(?:現在)?(?:使用|利用|確認|監視)(?:されて|して)"
    r"(?:おりません|いません)", r"新しい(?:メール)?アドレス",
    r"(?:邮箱|郵箱|信箱|邮件地址|郵件地址)(?:已)?(?:不再|停止)(?:使用|监控|監控|查看|查收)",
    r"新(?:的)?(?:邮箱|郵箱|邮件地址|郵件地址|电子邮件地址|電子郵件地址)",
    r"(?:메일\s?주소|이메일\s?주소|메일함|주소)(?:는|은)\s?더\s?이상\s?(?:사용|확인|모니터링)",
    r"새\s?(?:이메일|메일)\s?주소",
]
#: mail must go elsewhere (only with an address other than the sender's in the text)
_RESEND = [
    # en
    r"(?:please )?re-?(?:send|submit|direct|address)" + _S + r" to",
    r"(?:please )?(?:send|forward|direct|address) (?:your|all|any|future)" + _S + r" to",
    r"(?:please )?(?:write|e-?mail|contact|use) " + r"(?:\S{1,40} ){0,6}"
    r"(?:instead|from now on|in future|in the future|going forward|henceforth)",
    r"(?:from now on|in future|in the future|going forward|henceforth),? (?:please )?"
    r"(?:write|send|e-?mail|contact|use|direct)",
    r"future (?:correspondence|e-?mails?|mail|enquiries|requests)",
    r"please update your (?:records|address book|contact details|contacts)",
    # de
    r"(?:senden|schicken|richten|leiten) sie(?: \S{1,30}){0,5} (?:erneut|nochmals|noch einmal|"
    r"künftig|zukünftig|ab sofort|stattdessen)?(?: \S{1,30}){0,3} an",
    r"(?:künftig|zukünftig|ab sofort|stattdessen)(?: \S{1,30}){0,3} (?:an|schreiben|wenden)",
    r"erneut an",
    # fr
    r"(?:renvoyer|réenvoyer|réexpédier|renvoyez|adresser|adressez|envoyer|envoyez|écrire|"
    r"écrivez)(?: \S{1,30}){0,4} (?:désormais|dorénavant|à l'avenir|plutôt)",
    r"(?:désormais|dorénavant|à l'avenir),? (?:merci d'|veuillez )?(?:écrire|adresser|envoyer|"
    r"contacter)", r"(?:merci de|veuillez) (?:renvoyer|réenvoyer|réexpédier)",
    # es
    r"(?:reenvíe|reenvíen|reenviar|vuelva a enviar|envíe|envíen|dirija|dirijan)(?: \S{1,30})"
    r"{0,3} (?:a|al|a la)", r"(?:a partir de ahora|en adelante|de ahora en adelante),? "
    r"(?:por favor )?(?:escriba|contacte|diríjase|envíe)",
    # it
    r"(?:reinviare|rinviare|reinviate|inoltrare|inviare|inviate|scrivere|scrivete)(?: \S{1,30})"
    r"{0,3} (?:a|al|alla|all'indirizzo)(?: \S{1,30}){0,3} (?:d'ora in poi|in futuro|"
    r"invece)", r"(?:d'ora in poi|in futuro),? (?:si prega di )?(?:scrivere|contattare|"
    r"rivolgersi|inviare)", r"(?:si prega di|vi preghiamo di|la prego di) (?:reinviare|rinviare)",
    # pt
    r"(?:reenvie|reencaminhe|reenviar|envie|enviar|escreva|escrever)(?: \S{1,30}){0,3} para"
    r"(?: \S{1,30}){0,3} (?:a partir de agora|doravante|no futuro|em vez disso)",
    r"(?:a partir de agora|doravante|no futuro),? (?:por favor )?(?:escreva|contacte|contate|"
    r"envie)", r"(?:por favor )?(?:reenvie|reencaminhe) (?:a sua|sua|o seu|seu)",
    # nl
    r"(?:stuur|verstuur|zend|mail|richt)(?: \S{1,30}){0,3} (?:opnieuw|nogmaals|voortaan)"
    r"(?: \S{1,30}){0,2} (?:naar|aan)", r"voortaan(?: \S{1,30}){0,2} (?:naar|mailen|contact|"
    r"richten)", r"(?:stuur|verstuur|zend) (?:uw|je) (?:bericht|e-?mail|mail)(?: \S{1,30})? "
    r"(?:opnieuw|nogmaals)",
    # sv / da / nb
    r"(?:skicka|sänd|send)(?: \S{1,30}){0,3} (?:igen|på nytt|istället|i stedet|fremover|"
    r"hädanefter)(?: \S{1,30}){0,2} til(?:l)?", r"(?:hädanefter|fremover|framöver),? "
    r"(?:till|kontakta|kontakt|skriv)",
    # fi
    r"lähetä(?: \S{1,30}){0,3} uudelleen", r"jatkossa(?: \S{1,30}){0,2} (?:osoitteeseen|"
    r"yhteyttä|kirjoita)",
    # pl / cs
    r"(?:ponowne|ponownie) (?:przesłanie|wysłanie|przesłać|wysłać)", r"(?:od teraz|w przyszłości|"
    r"odtąd),? (?:prosz\w+ )?(?:pisać|kierować|kontaktować|o kontakt)",
    r"prosz\w+ (?:o )?(?:kierowanie|przesyłanie)(?: \S{1,30}){0,2} (?:na adres|do)",
    r"(?:zašlete|pošlete|přepošlete)(?: \S{1,30}){0,3} znovu",
    r"(?:nadále|napříště|odteď),? (?:prosím )?(?:pište|kontaktujte|se obracejte|zasílejte)",
    # ru / uk
    r"(?:отправьте|перешлите|направьте|пришлите)(?: \S{1,30}){0,3} (?:повторно|заново)",
    r"(?:впредь|в дальнейшем|теперь),? (?:пожалуйста,? )?(?:пишите|обращайтесь|направляйте)",
    r"(?:надішліть|перешліть|направте)(?: \S{1,30}){0,3} (?:повторно|знову)",
    r"(?:надалі|відтепер|тепер),? (?:будь ласка,? )?(?:пишіть|звертайтеся|надсилайте)",
    # tr
    r"(?:tekrar|yeniden)(?: \S{1,30}){0,3} (?:gönderin|gönderiniz|gönderebilirsiniz|iletin|"
    r"iletiniz)", r"(?:bundan sonra|artık)(?: \S{1,30}){0,3} (?:adresine|yazın|yazınız|"
    r"gönderin|gönderiniz)",
    # ar
    r"(?:يرجى|الرجاء) (?:إعادة|اعادة) (?:إرسال|ارسال)", r"(?:من الآن فصاعدا|مستقبلا)"
    r"(?: \S{1,30}){0,3} (?:إلى|الى|مراسلة|التواصل)",
]
_RESEND_JOINED = [
    r"(?:再送|再送信|送信し直|お送り直|送り直)", r"今後は(?:\S{0,30})(?:へ|に|まで)",
    r"(?:重新|再次)(?:发送|發送|寄送|转发|轉發)", r"(?:今后|今後)请|(?:今后|今後)請",
    r"(?:다시|재)\s?(?:보내|발송|전송)", r"앞으로는",
]

#: urgent cases and the absence period: "send your request to X" there is for the time
#: the writer is away
_URGENT = re.compile(
    r"urgen|dringend|eilig|spoed|brådskande|haster|hastende|kiireelli|pilne|pilnych|naléhav"
    r"|срочн|терміну|терміно|acil|عاجل|至急|緊急|急ぎ|紧急|急事|급한|긴급|absence|abwesenheit"
    r"|ausencia|assenza|ausência|afwezigheid|frånvaro|fravær|poissaolo|nieobecnoś|"
    r"nepřítomnost|отсутстви|відсутност|yokluğum|غياب|不在|期間中|缺席|부재|meantime|meanwhile"
    r"|zwischenzeit|entre-temps|mientras tanto|frattempo|entretanto|ondertussen|until my return"
    r"|bis zu meiner rückkehr|jusqu'à mon retour|hasta mi regreso|fino al mio rientro"
    r"|até ao meu regresso|até o meu retorno|tot mijn terugkeer")
#: a role written before a name, capitalised in German ("an meinen Kollegen Jonas Brandt")
_ROLES = frozenset({"kollege", "kollegen", "kollegin", "nachfolger", "nachfolgerin",
                    "vertretung", "ansprechpartner", "ansprechpartnerin", "colleague",
                    "successor"})
#: a line break inside a paragraph (a wrapped line), not a paragraph's end
_WRAPPED = re.compile(r"(?<![\n])[ \t]*\n[ \t]*(?![\n\s])")
_ADDRESS = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")
#: a name written before an address: "Anna Berg <anna@...>", "Paul Girard (p.girard@...)"
_NAMED = re.compile(r"([^\W\d_][\w'’.-]{0,30}(?: [^\W\d_][\w'’.-]{0,30}){0,2})\s{0,3}[<(\[]"
                    r"\s{0,3}(?:mailto:)?$")


_UNMONITORED_RE = alternatives(_UNMONITORED, True)
_UNMONITORED_JOINED_RE = alternatives(_UNMONITORED_JOINED, False)
_RESEND_RE = alternatives(_RESEND, True)
_RESEND_JOINED_RE = alternatives(_RESEND_JOINED, False)
_SENTENCE_END = re.compile(r"[.!?。！？]\s|[。！？]|\n")


@dataclass(frozen=True)
class Redirect:
    """What an automatic notice asks: ``kind`` is "left" (the writer no longer works
    there), "unmonitored" (the mailbox is not read any more, the address changed) or
    "resend" (mail must go to another address); ``evidence`` the sentence that decided;
    ``contacts`` the addresses it gives, as "Name <address>" or "address"."""

    kind: str
    evidence: str
    contacts: tuple[str, ...]

    @property
    def asks(self) -> str:
        """"automatic notice asks to contact X" (or says the writer is gone), for the
        ticket's event and the notice to the assignee."""
        whom = ", ".join(self.contacts)
        if whom:
            return f"automatic notice asks to contact {whom}"
        return {"left": "automatic notice says the writer no longer works there",
                "unmonitored": "automatic notice says this mailbox is no longer read"}.get(
                    self.kind, "automatic notice asks to write elsewhere")

    def outside(self, sender: str) -> list[str]:
        """The contacts' addresses at another domain than ``sender``'s: anyone can write
        an auto-reply, so the engineer is told to check before writing to them."""
        domain = sender.rpartition("@")[2].lower()
        found = [_ADDRESS.search(c) for c in self.contacts]
        return [m.group() for m in found if m is not None
                and m.group().rpartition("@")[2].lower() != domain]


def redirect(body: str, sender: str, own: frozenset[str] = frozenset()) -> Redirect | None:
    """What the automatic notice ``body`` (its whole text) asks a person to act on, or None
    ("I'm away until Monday"). ``sender``: the notice's From address (not a contact it
    gives); ``own``: the desk's addresses (lower case; not a contact either). Never raises."""
    try:
        parts = reply_parts(body)
        text = "\n".join(t for t in (parts.text, parts.late) if t.strip())[:MAX_TEXT]
        text = _WRAPPED.sub(" ", text)  # "Please resend your\nmessage to": one line
        folded = fold(text)
        contacts = _contacts(text, {sender.lower(), *own})
        found = left_phrase(folded)
        kind = "left"
        if found is None:
            found, kind = _UNMONITORED_RE.search(folded) or \
                _UNMONITORED_JOINED_RE.search(folded), "unmonitored"
        if found is None and contacts:
            found, kind = _resend(folded), "resend"
        if found is None:
            return None
        return Redirect(kind, _evidence(text, folded, found), tuple(contacts))
    except Exception:  # pragma: no cover - defensive: the notice is recorded only
        return None


def _resend(folded: str) -> re.Match[str] | None:
    """The first "send it to X instead" phrase outside a sentence about urgent cases or
    the writer's absence ("in urgent cases please send your request to Anna": an away
    notice's furniture, recorded only)."""
    for found in [*_RESEND_RE.finditer(folded), *_RESEND_JOINED_RE.finditer(folded)]:
        if not _URGENT.search(_sentence(folded, found)):
            return found
    return None


def _contacts(text: str, not_these: set[str]) -> list[str]:
    """The addresses the text gives, with the name written before each, in order."""
    found: list[str] = []
    seen: set[str] = set()
    for match in _ADDRESS.finditer(text):
        address = match.group().strip(".").lower()
        if address in not_these or address in seen:
            continue
        seen.add(address)
        named = _NAMED.search(text[max(0, match.start() - 80):match.start()])
        words = named.group(1).split() if named else []
        while words and (not words[0][0].isupper() or words[0].lower() in _ROLES):
            words.pop(0)  # "my colleague Anna Berg", "meinen Kollegen Jonas": the name
        found.append(f"{' '.join(words)} <{address}>" if words else address)
        if len(found) == MAX_CONTACTS:
            break
    return found


def _evidence(text: str, folded: str, found: re.Match[str]) -> str:
    """The sentence of the deciding phrase as written (``folded`` offsets mapped back
    character by character: "ß" folds to "ss"), else as folded."""
    origin: list[int] = []
    for i, char in enumerate(text):
        origin += [i] * len(fold(char))
    if len(origin) != len(folded):  # "n't" and the like: the one-by-one fold differs
        return _sentence(folded, found)
    said = _sentence(folded, found)
    start = folded.find(said[:40].rstrip("…"))
    if start < 0:
        return said
    stop = min(len(origin) - 1, start + len(said.rstrip("…")) - 1)
    shown = " ".join(text[origin[start]:origin[stop] + 1].split())
    return shown if len(shown) <= 160 else shown[:159] + "…"


def _sentence(folded: str, found: re.Match[str]) -> str:
    """The sentence around the deciding phrase, clipped (folded: lower case)."""
    starts = [m.end() for m in _SENTENCE_END.finditer(folded, 0, found.start())]
    start = starts[-1] if starts else 0
    stop = _SENTENCE_END.search(folded, found.end())
    said = " ".join(folded[start:stop.end() if stop else len(folded)].split())
    return said if len(said) <= 160 else said[:159] + "…"
