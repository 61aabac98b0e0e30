"""The lines that end a message: sign-offs, names, firm, register and org lines, contact
and device lines, notices; and where an old message's sign-off leaves off.

Why separate: these predicates read single lines for their shape (a name, a firm's legal
form, a register number, a rule), not for what they ask; the body reader and the
bottom-posting check (``structure``) use them to find where the customer's words end.
They need only ``clause`` (a line is read as a clause to tell a name from a formula).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise

from mailgate.footers import firm_notice, legal_sentence, strip_disclaimers, strip_signature
from mailgate.quotes import AFTERTHOUGHT
from mailgate.replies.clause import _CLAUSE, _JOINED_CHARS, _QUESTION, Clause, Understanding
from mailgate.replies.lexicon import fold

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
_CLOCK = re.compile(r"(?<!\d)\d{1,2}:\d{2}(?!\d)")



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
