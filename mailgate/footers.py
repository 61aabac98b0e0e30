"""Where a reply's own text ends: signatures, client footers and legal disclaimers.

Why: a "Sent from my iPhone" or a confidentiality notice full of words like
"error" and "notify" must not decide whether a reply reopens a ticket, and a
line that only looks like one ("Sent from my phone, laptop still broken") must
not be cut. Used by ``mailgate.quotes`` after the quoted history is cut away.
"""

from __future__ import annotations

import functools
import re

_I = re.IGNORECASE
RULE = re.compile(r"^\s*(?:[_\-—=]{10,}|(?:\* ?){3,})\s*$")  # Outlook line, html2text <hr>
SIG_DELIM = re.compile(r"^\\?--\s*$")  # html2text escapes it as \--
_FOOTER = re.compile(
    r"^\s*(?:sent from my|sent from|sent with|get outlook for|skickat från min|skickat från"
    r"|hämta outlook för|отправлено с|отправлено из|verzonden vanaf mijn|verzonden met"
    r"|outlook voor|gesendet von meinem|gesendet von|gesendet mit|von meinem|outlook für"
    r"|envoyé de mon|envoyé de"
    r"|envoyé depuis|télécharger outlook pour|enviado desde mi|enviado con|obtener outlook para"
    r"|inviato da|inviato dal mio|enviado do meu|enviado a partir do meu|sendt fra min|sendt fra"
    r"|lähetetty laitteesta|lähetetty|wysłane z|wysłano z|odesláno z|odesláno ze"
    r"|надіслано з|отправлено с моего|gönderildi|发自我的|發自我的|来自我的)"
    r" ([\w.+'-]+(?: [\w.+'-]+){0,3}?)(?: (?:gesendet|downloaden|beziehen))?"
    r"\s*(?:<[^>\s]*>|\[[^\]\s]*\])?\s*$",
    _I,
)
#: lowercase words a device name may contain; any other word must be capitalised or have a digit,
#: so "Sent from my phone laptop still broken" is not a footer
_DEVICE_WORDS = {
    "my", "for", "the", "mail", "iphone", "ipad", "phone", "smartphone", "mobile", "device",
    "tablet", "android", "ios", "windows", "outlook", "gmail", "yahoo", "mein", "meinem", "mijn",
    "min", "mi", "mon", "för", "für", "voor", "para", "pour", "телефона", "устройства",
    "mobiltelefon", "telefoon", "telefon", "handy", "móvil", "teléfono", "téléphone", "portable",
    "de", "el", "la", "le", "van", "galaxy", "samsung", "huawei", "blackberry", "protonmail",
    "meu", "mio", "dal", "do", "z", "ze", "з", "mého", "mojego", "laitteesta", "iphonu",
    "iphonea", "iphone'a", "telefonu", "smartfona", "androidu", "iphonesta", "puhelimesta",
    "androidista", "мобильной", "мобильного", "мобільної", "мобільного", "mobilní", "mobilnej",
    "mobilen", "mobiele", "móvel", "cellulare", "почты", "пошти",
}
_DISCLAIMER_LABEL = re.compile(
    r"^[\s*_]*(?:confidentiality notice|confidentiality|disclaimer|important notice|"
    r"sekretess|konfidentialitet|vertraulichkeitshinweis|haftungsausschluss|vertrouwelijkheid|"
    r"avis de confidentialité|aviso de confidencialidade?|aviso legal|конфиденциальность|"
    r"konfidensielt|fortroligt|fortrolighed|luottamuksellinen|poufne|důvěrné|riservatezza|"
    r"дисклеймер|уведомление о конфиденциальности)\b",
    _I,
)
_DISCLAIMER_FAMILIES = [
    re.compile(p, _I)
    for p in (
        r"confidential|privileged|konfidentiell|sekretess|vertraulich|vertrouwelijk"
        r"|confidentiel|confidencial|конфиденциальн|riservat|confidenzial|fortrolig"
        r"|luottamuksellinen|poufn|důvěrn|конфіденційн|gizli|機密|机密|保密|기밀|سري"
        r"|taushetsbelagt|taushetsplikt|tystnadsplikt|verschwiegenheit|geheimhaltung"
        r"|salassa pidettäv|tajemnic|geheim|tajemstv|тайн|таємниц|守秘|professional secrecy"
        r"|secret professionnel|secreto profesional|segreto professionale|sigilo profissional"
        r"|beroepsgeheim|berufsgeheimnis|offentlighetsprincip|journalført|offentliggjort",
        r"recipient|addressee|adressat|mottagare|empfänger|geadresseerde|ontvanger|destinataire"
        r"|destinatario|адресат|получател|destinatário|modtager|mottaker|vastaanottaja"
        r"|adresat|adresát|одержувач|alıcı|受信|宛先|收件人|수신자|المستلم|المرسل إليه"
        r"|sender|avsender|avsändare|absender|afzender|expéditeur|remitente|remetente|mittente"
        r"|отправител|відправник|nadawc|odesílatel|gönderen|lähettäjä|afsender|送信者|发件人"
        r"|발신자|المرسل",
        r"delete|destroy|notify|prohibited|unauthori[sz]ed|radera|förstör|löschen|vernichten"
        r"|verwijder|supprimer|détruire|eliminar|destruir|удалит|уничтож|запрещ|eliminare"
        r"|liable|liability|responsib|haftung|haftet|verantwortlich|responsab|aansprakelijk"
        r"|vastuu|odpowiedzialn|odpovědn|ответственн|відповідальн|sorumlu|مسؤول|責任|责任|책임"
        r"|cancellare|apagar|elimine|slet|poista|usuń|smaž|smazat|znič|видаліть|знищ|sil|削除"
        r"|破棄|删除|삭제|파기|حذف|إتلاف|elimin|varsle|underrett"
        # forbidden to read, copy or pass on: "jede Form der … Weitergabe … unzulässig"
        r"|unzulässig|untersagt|verboten|interdit|vietat|prohibid|proibid|zabronion|zakázan"
        r"|forbudt|förbjud|kielletty|verboden|niet toegestaan|yasaktır|заборонен"
        r"|weitergabe|vervielfältig|disseminat|distribution|divulga|diffusion|rozpowszechn"
        r"|kopiowan|kopírován|kopiering|videreformidl|spridning|копирован|копіюван",
        # "if you received it in error": the sentence every disclaimer has
        r"in error|by mistake|erroneous|av misstag|ved en feil|ved en fejl|irrtümlich|fälschlich"
        r"|per errore|par erreur|por error|por erro|по ошибке|ошибочно|помилково|omyłkowo"
        r"|omylem|yanlışlıkla|hatalı olarak|virheellisesti|erehdyksessä|abusivement|onterecht"
        r"|per vergissing|誤って|誤送信|错误地|误发|잘못 전송|잘못 수신|عن طريق الخطأ|بالخطأ",
    )
]
_MAIL_REFERENCE = re.compile(
    r"e-?mail|message|meddelande|e-?post|nachricht|bericht|courriel|mensaje|correo|сообщени|письм"
    r"|messaggio|mensagem|besked|melding|viesti|wiadomo|zpráv|повідомлен|лист|ileti|posta|mesaj"
    r"|mejl|mail|korrespondan|communication|kommunikation|meddelelse|henvendelse"
    r"|メール|邮件|郵件|메일|رسالة|البريد",
    _I,
)
_CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]")
_ENVIRONMENT = re.compile(
    r"before printing|innan du skriver ut|vor dem ausdrucken|voordat u .{0,20}print|avant"
    r" d'imprimer|antes de imprimir|прежде чем распечатать",
    _I,
)
# "Think of the environment before you print" in any wording: both words in one short line
_GREEN = re.compile(r"environment|umwelt|miljø|miljö|milieu|ambiente|environnement|środowisk"
                    r"|prostředí|окружающ|довкілл|çevre|البيئة|環境|环境|環保|环保|환경"
                    r"|ympäristö", _I)
_PRINT = re.compile(r"print|druck|imprim|stamp|skriv|tulost|drukuj|tisk|tišt|печат|друк|yazd"
                    r"|طباع|印刷|打印|인쇄", _I)



def strip_signature(lines: list[str]) -> list[str]:
    """Cut at the "-- " delimiter; drop mobile/client footer lines."""
    for k, line in enumerate(lines):
        if SIG_DELIM.match(line):
            lines = lines[:k]
            break
    lines = without_footers(lines)
    while lines and (not lines[-1].strip() or RULE.match(lines[-1])):
        lines.pop()
    return lines


_JOINED_FOOTER = re.compile(
    r"^\s*(?:(?:发自我的|發自我的|来自我的)\s*\w+(?:\s?\w+)?(?:手机|手機|平板)?|iphoneから送信"
    r"|android(?:から|で)送信|.{0,20}から送信|내 \w+에서 보냄|\w+에서 보냄|"
    r"iphone'?(?:umdan|dan|den) gönderildi|\w+ cihazımdan gönderildi|أُ?رسلت من \w+(?: \w+)?)\s*$",
    _I,
)


def _is_footer(line: str) -> bool:
    """A client footer such as "Sent from my iPhone" or "Get Outlook for iOS<https://…>"."""
    # every _JOINED_FOOTER form holds a letter outside ASCII (CJK, Hangul, Arabic, "ö")
    if len(line) <= 60 and not line.isascii() and _JOINED_FOOTER.match(line):
        return True
    m = _FOOTER.match(line) if len(line) <= 120 else None
    return m is not None and all(
        w[0].isupper() or any(c.isdigit() for c in w) or w.casefold() in _DEVICE_WORDS
        for w in m.group(1).split())


#: In ASCII text, a word each ``_FOOTER`` form that ASCII text can match holds, as lower
#: case (the other forms need a letter outside ASCII: "från", "envoyé", "wysłane", Cyrillic,
#: CJK; no letter outside ASCII matches an ASCII one under the pattern's IGNORECASE either)
_ASCII_FOOTER_WORDS = ("sent", "sendt", "outlook", "verzonden", "gesendet", "von meinem",
                       "enviado", "inviato")


def without_footers(lines: list[str]) -> list[str]:
    """``lines`` without client footer lines ("Sent from my iPhone") wherever they stand."""
    text = "\n".join(lines)
    if text.isascii():  # one look at the whole text spares most mails a test per line
        lower = text.lower()
        if not any(word in lower for word in _ASCII_FOOTER_WORDS):
            return list(lines)
    return [line for line in lines if not _is_footer(line)]


def strip_disclaimers(lines: list[str]) -> list[str]:
    """Drop trailing paragraphs that read like a confidentiality or print-saving notice."""
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    if not paragraphs[-1]:
        paragraphs.pop()
    while paragraphs and _is_disclaimer(" ".join(paragraphs[-1])):
        paragraphs.pop()
    return [line for k, p in enumerate(paragraphs) for line in ([""] if k else []) + p]


@functools.lru_cache(maxsize=256)  # a paragraph is asked about by the cutter and the reader
def _is_disclaimer(text: str) -> bool:
    if len(text) > 5000:
        return False
    if (_ENVIRONMENT.search(text) or (_GREEN.search(text) and _PRINT.search(text))) \
            and len(text) < 200:
        return True
    if len(text) < (25 if _CJK.search(text) else 60):
        return False
    # it speaks of "this e-mail", not of the customer's data (or has all the legal shape:
    # confidential, for the addressee, delete it, received in error)
    if not _MAIL_REFERENCE.search(text):
        return all(p.search(text) for p in _DISCLAIMER_FAMILIES)
    families = sum(1 for p in _DISCLAIMER_FAMILIES if p.search(text))
    return families >= 2 or (families >= 1 and bool(_DISCLAIMER_LABEL.match(text)))


def legal_sentence(text: str) -> bool:
    """A sentence of a legal or print notice: it speaks of "this e-mail" in a notice's words
    (confidential, the addressee or sender, delete or forbidden, received in error), or of
    the environment and printing."""
    if len(text) < 200 and (_ENVIRONMENT.search(text) or (
            _GREEN.search(text) and _PRINT.search(text))):
        return True
    return bool(_MAIL_REFERENCE.search(text)) and any(p.search(text) for p in _DISCLAIMER_FAMILIES)


#: a firm's other notices in a signature, by their words: personal data and privacy
_PRIVACY = re.compile(
    r"personal data|privacy|datenschutz|dsgvo|gdpr|rgpd|données personnelles|dati personali"
    r"|dados pessoais|datos personales|persoonsgegevens|personuppgift|personoplysning"
    r"|personopplysning|henkilötie|tietosuoja|dane osobowe|danych osobowych|osobní údaj"
    r"|osobních údajů|персональн|kişisel veri|kvkk|個人情報|个人信息|個人資料|개인정보"
    r"|البيانات الشخصية", _I)
#: a trade fair, a stand or hall, an invitation to visit: two of the three
_FAIR = re.compile(r"messe|\bfair\b|salon|feria|fiera|beurs|mässa|messut|targ|veletrh|выставк"
                   r"|виставк|fuar|معرض|展示会|展会|博览会|전시회|박람회", _I)
_STAND = re.compile(r"\bstand\b|\bbooth\b|\bhalle\b|\bhall\b|pavil|pabellón|padiglione|pavilhão"
                    r"|osasto|stoisko|stánek|стенд|павильон|павільйон|جناح|ブース|展位|부스", _I)
_INVITE = re.compile(r"besuchen sie uns|visit us|navštivte nás|приглашаем|запрошуємо|odwiedź nas"
                     r"|zapraszamy|bezoek ons|besök oss|besøg os|besøk oss|vieni a trovarci"
                     r"|venga a visitarnos|venha visitar|visitez-nous|rendez-nous visite"
                     r"|bizi ziyaret|お越しください|欢迎莅临|방문해 주", _I)
#: the firm's terms of business ("Op al onze diensten zijn de algemene voorwaarden … van
#: toepassing")
_TERMS = re.compile(r"terms and conditions|terms of business|general terms|algemene voorwaarden"
                    r"|geschäftsbedingungen|\bagb\b|conditions générales|condiciones generales"
                    r"|condizioni generali|termos e condições|condições gerais|allmänna villkor"
                    r"|almindelige (?:betingelser|vilkår)|alminnelige vilkår|yleiset ehdot"
                    r"|ogólne warunki|obchodní podmínky|общие условия|загальні умови"
                    r"|genel (?:şartlar|koşullar)|الشروط العامة|約款|取引条件|条款|약관", _I)
#: a closure over holidays: a closing word with a date
_CLOSED = re.compile(r"\bclosed\b|geschlossen|fermé|fermeture|cerrad|chiuso|chiusura|fechad"
                     r"|gesloten|stängt|lukket|stengt|suljettu|nieczynn|zamknięt|zavřeno|uzavřen"
                     r"|закрыт|зачинен|kapalı|مغلق|休業|休み|放假|休息|휴무|휴업", _I)
#: a company's registration sentence ("Společnost je zapsána v obchodním rejstříku …")
_REGISTERED = re.compile(r"rejstřík|handelsregister|registered in|registered office"
                         r"|registre du commerce|registro (?:delle imprese|mercantil)"
                         r"|registo comercial|handelsregister|kamer van koophandel"
                         r"|bolagsverket|erhvervsstyrelsen|foretaksregister|kaupparekister"
                         r"|rejestr|реестр|реєстр|ticaret sicil|السجل التجاري|商業登記"
                         r"|工商|법인등록|사업자등록", _I)


def firm_notice(text: str) -> bool:
    """A sentence a firm puts below its signatures: a legal or print notice
    (``legal_sentence``), a note on personal data or its terms of business, a trade-fair
    invitation (a fair and a
    stand or a visit), a closure with its dates, a registration line, or a notice under a
    bracketed title ("【夏季休業のお知らせ】…"). Said of the firm, not to the engineer."""
    if len(text) > 600:
        return False
    return legal_sentence(text) or bool(
        _PRIVACY.search(text) or _TERMS.search(text)
        or sum(bool(p.search(text)) for p in (_FAIR, _STAND, _INVITE)) >= 2
        or (_CLOSED.search(text) and re.search(r"\d", text)) or _REGISTERED.search(text)
        or re.match(r"\s*[【\[［][^】\]］]{2,20}[】\]］]", text)
        or (_PRINT.search(text) and _MAIL_REFERENCE.search(text) and len(text) < 200))


def without_notices(lines: list[str]) -> list[str]:
    """``lines`` without the paragraphs that read like a confidentiality or print notice,
    wherever they stand (in a signature block they are often followed by more lines)."""
    out: list[str] = []
    paragraph: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            paragraph.append(line)
            continue
        if paragraph and not _is_disclaimer(" ".join(paragraph)):
            out += [*paragraph, ""]
        paragraph = []
    return out
