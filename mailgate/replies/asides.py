"""Asides beside a thank-you that ask nothing of the team, read by their structure.

1. **A conditional promise** (``promises``): "Thanks! I'll let you know if it happens
   again", "Als het probleem terugkomt, laat ik het weten", "Falls der Fehler wieder kommt,
   melde ich mich", "如果再出问题我再联系你们", "문제가 다시 생기면 연락드리겠습니다",
   "سأتواصل معكم إذا تكررت المشكلة". Two parts in one sentence: a condition (a leading
   marker: if, should, in case, als, mocht, falls, wenn, sollte, si, se, om, hvis, jos,
   jeśli, gdyby, pokud, если, якщо, eğer, إذا, لو, もし, 如果, 要是; or a conditional ending
   in Japanese, Korean and Turkish: たら, ば, 場合は, -면, -rsa) about the problem coming back
   or anything going wrong, and a main clause in which the customer will get in touch,
   report or let the team know (first person: "I'll let you know", "melde ich mich", "dam
   znać", "os aviso", "연락드리겠습니다"; never "let me know", "melden Sie sich", "avísame").
   It is the customer's own promise about a future that may not come: a pleasantry.
   Not one (the sentence is read as before, and reopens):
   - a condition with a request to the team ("if it happens again, please call me") or a
     question ("what should I do if it comes back?"): the promise pattern needs the
     customer as the one who writes, and the condition may hold no request, question,
     "but"/"still" (a problem that is there now: "if it still fails tomorrow"), qualifier,
     wish or afterthought;
   - a condition that names no trouble: "I'll let you know if it works", "… when I have
     tested it" are pending checks;
   - a negation in the condition without an "again" word ("if the error doesn't go away",
     "if it doesn't work": the customer has not seen it work yet);
   - an unconditional promise or the customer's own future check: "I'll let you know
     tomorrow how it went", "Amanhã testo novamente", "Domani riprovo da casa". The tuning
     parts' writers label a pending check substantive (tune4 "ich melde mich morgen",
     tune10 "dan laat ik maandag weten hoe het ging", "I'll send a photo tomorrow"), and a
     conditional promise thanks (tune6, eval9's label calls): so does this step;
   - anything else in the sentence (a statement that it DID happen again: "It crashed
     again, I'll let you know if it happens once more") is cut off from the promise and
     read as any clause is.
2. **A pointer at the attached file by a verb** (``without_attaching``): "Segue em anexo a
   foto", "Vi allego lo screenshot", "Te adjunto la foto", "Je vous joins une capture",
   "附件是截图". With a file in the mail it says nothing to act on (the team gets the file
   with the notice), as the noun forms ("In allegato la foto", "Anbei ein Foto") already
   do. Read clause by clause (a thank-you and a pointer share one sentence in Chinese:
   "谢谢，已经可以打印了，附件是测试页的照片。"), with sentences ending at 。！？ even
   without a space ("谢谢！附件是截图。" keeps its 谢谢); a clause that asks, reports a
   problem, says "but" or names a purpose ("para que lo revisen") stays.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailgate.replies.clause import Understanding

#: the customer will get in touch / report / let the team know: first person only
_PROMISE_FORMS = (
    # en
    # "Will let you know if ...", "Thanks, will shout if ...": no subject, but none before it
    r"(?:\b(?:i|we)(?:['’]ll| will| shall)|(?<![\w'’]\s)\bwill)(?: (?:just|simply|certainly|"
    r"definitely|of course|"
    r"surely|then|immediately|also))? (?:let you(?: guys| all)? know|get back to you|"
    r"be (?:back )?in touch|get in touch|(?:re)?contact you|reach out|shout|keep you posted|"
    r"give you a (?:shout|call|ring|buzz)|drop you a (?:line|note|mail)|"
    r"write(?: back| again)?(?: to you)?|e-?mail you|call you|ring you|ping you|tell you|"
    r"report (?:it|back)|raise (?:it|a (?:new )?ticket)|come back to you|"
    r"open a (?:new )?ticket|reopen (?:it|the ticket)|send (?:you )?an? (?:e-?mail|message|note))"
    r"(?: again| straight away| right away| immediately| asap)?\b"
    r"|\byou['’]ll (?:hear|be hearing) from (?:me|us)(?: again)?\b",
    # de
    r"\b(?:ich|wir) (?:melde|meld|melden) (?:mich|uns)\b|\b(?:melde|meld) ich mich\b"
    r"|(?<!\w\s)\b(?:melde|meld) mich\b|(?<!\w\s)\b(?:gebe|geb) (?:euch |ihnen |dir )?bescheid\b"
    r"|\bmelden wir uns\b|\b(?:ich|wir) (?:werde|werden) (?:mich|uns)(?: \w+){0,2} melden\b"
    r"|\bwerde ich mich(?: \w+){0,2} melden\b"
    r"|\b(?:ich|wir) (?:gebe|geb|geben|sage|sag|sagen) (?:ihnen |euch |dir )?(?:\w+ )?bescheid\b"
    r"|\b(?:gebe|geb|sage|sag|geben|sagen) (?:ich|wir) (?:ihnen |euch |dir )?(?:\w+ )?bescheid\b"
    r"|\b(?:ich|wir) (?:rufe|rufen) (?:sie |euch |dich )?(?:\w+ )?an\b"
    r"|\brufe ich (?:sie |euch |dich )?(?:\w+ )?an\b"
    r"|\b(?:ich|wir) (?:komme|kommen) (?:auf (?:sie|euch|dich) )?(?:\w+ )?zurück\b"
    r"|\bkomme ich (?:auf (?:sie|euch|dich) )?(?:\w+ )?zurück\b"
    r"|\b(?:ich|wir) (?:schreibe|schreiben) (?:ihnen|euch|dir)\b"
    r"|\bschreibe ich (?:ihnen|euch|dir)\b"
    r"|\b(?:hören|hört) (?:sie|ihr) (?:\w+ )?von (?:mir|uns)\b",
    # nl
    r"\b(?:ik|we|wij) (?:laat|laten) (?:het|jullie|u|je|jou|dat)(?: \w+){0,3} weten\b"
    r"|\b(?:laat ik|laten we|laten wij) (?:het|jullie|u|je|dat)(?: \w+){0,3} weten\b"
    r"|\b(?:ik|we|wij) (?:meld|melden) (?:me|mij|ons|het)\b|\bmeld ik (?:me|mij|het)\b"
    r"|\b(?:ik|we|wij) (?:neem|nemen) (?:\w+ )?contact(?: met (?:jullie|u|je))? op\b"
    r"|\bneem ik (?:\w+ )?contact(?: met (?:jullie|u|je))? op\b"
    r"|\b(?:ik|we|wij) (?:kom|komen) (?:er )?(?:bij (?:jullie|u|je) )?op terug\b"
    r"|\bkom ik (?:er )?(?:bij (?:jullie|u|je) )?op terug\b"
    r"|\b(?:hoort u|hoor je|horen jullie) (?:het )?(?:\w+ )?van (?:me|mij|ons)\b"
    r"|\b(?:ik|we) (?:mail|bel|mailen|bellen) (?:jullie|u|je)\b"
    r"|\b(?:mail|bel) ik (?:jullie|u|je)\b",
    # sv, da, nb
    r"\b(?:jag|vi) (?:hör|hörs) av (?:mig|oss)\b|\bhör (?:jag|vi) av (?:mig|oss)\b"
    r"|(?<!\w\s)\b(?:hör av mig|återkommer)\b"
    r"|\b(?:jag|vi) (?:återkommer|säger till|meddelar|mejlar|ringer|skriver|tar kontakt|"
    r"kontaktar er)\b|\b(?:återkommer|meddelar|mejlar|ringer|skriver|kontaktar) (?:jag|vi)\b"
    r"|\bsäger (?:jag|vi) till\b|\btar (?:jag|vi) kontakt\b"
    r"|\b(?:jeg|vi) (?:giver|sender|gir) (?:jer |dere |dig |deg )?beskj?ed\b"
    r"|\b(?:giver|sender|gir) (?:jeg|vi) (?:jer |dere |dig |deg )?beskj?ed\b"
    r"|\b(?:jeg|vi) (?:vender|melder|kommer) tilba[gk]e\b"
    r"|\b(?:vender|melder) (?:jeg|vi) tilba[gk]e\b"
    r"|\b(?:jeg|vi) (?:siger til|sier fra|melder fra|skriver|ringer|kontakter (?:jer|dere)|"
    r"tager kontakt|tar kontakt)\b|\b(?:siger (?:jeg|vi) til|sier (?:jeg|vi) fra|"
    r"melder (?:jeg|vi) fra|tager (?:jeg|vi) kontakt|tar (?:jeg|vi) kontakt)\b"
    r"|\b(?:skriver|ringer|kontakter) (?:jeg|vi)\b"
    r"|\b(?:i|dere|du) (?:hører|høre) fra (?:mig|meg|os|oss)\b",
    # fi
    r"\b(?:ilmoitan|ilmoittelen|ilmoitamme|ilmoittelemme|otan yhteyttä|otamme yhteyttä|"
    r"palaan asiaan|palaamme asiaan|laitan (?:teille )?viestiä|soitan|kerron|"
    r"olen (?:taas )?yhteydessä|olemme (?:taas )?yhteydessä)\b",
    # pl, cs
    r"\b(?:dam|damy) (?:wam |państwu |panu |pani |ci )?(?:od razu |znów |znowu )?znać\b"
    r"|\b(?:odezwę|odezwiemy|skontaktuję|skontaktujemy) się\b|\bsię (?:odezwę|odezwiemy)\b"
    r"|\b(?:napiszę|napiszemy|zgłoszę|zgłosimy|zadzwonię|zadzwonimy|poinformuję|poinformujemy)\b"
    r"|\b(?:ozvu|ozveme) se\b|\bse (?:ozvu|ozveme)\b|\b(?:dám|dáme) (?:vám |ti )?(?:hned )?vědět\b"
    r"|\b(?:napíšu|napíšeme|zavolám|zavoláme|nahlásím|nahlásíme)\b",
    # ru, uk
    r"\b(?:напишу|напишем|сообщу|сообщим|отпишусь|отпишемся|свяжусь|свяжемся|позвоню|позвоним|"
    r"обращусь|обратимся|маякну)\b|\b(?:дам|дадим) (?:вам |тебе )?знать\b"
    r"|\b(?:напишемо|повідомлю|повідомимо|звернуся|звернемося|зателефоную|відпишу|відпишуся|"
    r"зв['’]яжуся|зв['’]яжемося)\b|\b(?:дам|дамо) (?:вам |тобі )?знати\b",
    # tr
    r"\b(?:(?:size|sizi|size de|size tekrar|tekrar) )?(?:haber|bilgi) (?:veririm|vereceğim|"
    r"veriyorum|veririz|vereceğiz|ederim)\b"
    r"|\b(?:(?:size|sizi|sizinle|size tekrar|tekrar) )?(?:yazarım|yazacağım|yazarız|dönerim|"
    r"döneceğim|döneriz|ararım|arayacağım|ulaşırım|"
    r"ulaşacağım|bildiririm|bildireceğim)\b|\biletişime (?:geçerim|geçeceğim|geçeriz)\b",
    # fr
    r"\b(?:je |j['’]|on |nous )(?:vous |te |vous le |le )?(?:recontacte|recontacterai|"
    r"recontacterons|recontactera|contacterai|réécris|réécrirai|écrirai|préviens|préviendrai|"
    r"préviendrons|rappelle|rappellerai|tiens au courant|tiendrai au courant|"
    r"tiendrai informée?s?|tiens informée?s?|fais signe|ferai signe|ferons signe|signale|"
    r"signalerai|reviens vers (?:vous|toi)|reviendrai vers (?:vous|toi)|"
    r"reprendrai contact|reprends contact)\b|\bvous aurez de mes nouvelles\b",
    # es
    r"\b(?:os|les|te|le) (?:lo )?(?:aviso|avisaré|avisamos|avisaremos|escribo|escribiré|llamo|"
    r"llamaré|digo|diré|comento|comentaré|informo|informaré|contacto|contactaré)\b"
    r"|\b(?:me|nos) (?:pongo|pondré|ponemos|pondremos) en contacto(?: (?:con vosotros|"
    r"con ustedes|contigo|con usted))?\b|\b(?:vuelvo|volveré|volvemos) a (?:escribir|"
    r"escribiros|escribirles|contactar|contactaros|llamar)\b|\b(?:aviso|avisaré)\b",
    # it
    r"\b(?:vi|ti|le|la) (?:faccio|farò|facciamo|faremo) sapere\b|\bfaccio sapere\b"
    r"|\b(?:vi|ti|la|le) (?:ricontatto|ricontatterò|ricontattiamo|contatto|contatterò|riscrivo|"
    r"riscriverò|scrivo|scriverò|chiamo|chiamerò|richiamo|avviso|avviserò|aggiorno|aggiornerò|"
    r"informo|informerò|segnalo|segnalerò)\b|\bmi (?:faccio|farò|rifaccio) (?:sentire|vivo)\b"
    r"|\b(?:lo|la) (?:segnalo|segnalerò)\b|\b(?:ci|mi) (?:risentiamo|risentiremo|sentiamo)\b",
    # pt
    r"\b(?:(?:te|vos|lhe|lhes) )?(?:aviso|avisarei|avisamos|avisaremos)(?:-(?:vos|te|lhe|lhes))?"
    r"(?: (?:vocês|você|a vocês|vcs|vc|o senhor|a senhora))?\b"
    r"|\b(?:vou|vamos) (?:te |vos |lhe |lhes )?(?:avisar|informar|contactar|contatar|"
    r"escrever|ligar|entrar em conta(?:c)?to)(?: (?:vocês|com vocês|convosco|a vocês|você))?\b"
    r"|\b(?:entro|entrarei|entramos) em conta(?:c)?to(?: (?:com vocês|convosco|com você|"
    r"consigo))?\b|\b(?:volto|voltarei|voltamos) a (?:falar|escrever|contactar|contatar|"
    r"entrar em conta(?:c)?to)(?: (?:com vocês|convosco|consigo|com você))?\b"
    r"|\b(?:dou|darei|damos) (?:notícias|sinal|um toque|um alô)\b",
    # ar (a leading "and"/"so" letter is part of the word: "وسأتواصل")
    r"(?<!\w)[وف]?(?:سوف |رح |راح )?(?:س|ب)?[أان](?:بلغكم|خبركم|راسلكم|علمكم|كلمكم|بلغك|"
    r"خبرك|راسلك|كلمك)(?!\w)"
    r"|(?<!\w)[وف]?(?:سوف [أان]|س[أان]|ب[أان]?|رح [أان]|راح [أان])(?:تواصل|تصل|كتب|رجع|عود|"
    r"راسل)(?: (?:معكم|معك|بكم|بك|لكم|لك|إليكم|اليكم))?(?!\w)",
    # ja
    r"(?:また|改めて|再度)?(?:ご?連絡(?:します|いたします|致します|させていただきます|"
    r"させて頂きます|差し上げます)|お知らせ(?:します|いたします|致します)|"
    r"ご?報告(?:します|いたします|致します|させていただきます)|ご?相談(?:します|いたします|"
    r"させていただきます)|お?問い合わせ(?:します|いたします|ます))",
    # zh
    r"(?:我们?)?(?:会|就)?(?:再|马上|立即|及时|第一时间)?(?:(?:联系|聯繫|联络|告诉|告訴|通知|"
    r"反馈给|找)(?:你们|您们|您|你|贵司|大家)|(?:跟|和)(?:你们|您|你)(?:说|講|讲|联系))"
    r"|我们?(?:会|就)?再?(?:联系|聯繫|反馈|报修|報修)|再(?:联系|聯繫|反馈|报修)",
    # ko
    r"(?:다시 |또 |바로 |즉시 )?(?:연락|말씀|문의|보고|알려)\s?(?:드리겠습니다|드릴게요|"
    r"드릴께요|드리겠어요|드리도록 하겠습니다|하겠습니다|할게요|할께요)",
)
#: the forms of spaced scripts, and those of Arabic, Japanese, Chinese and Korean (tried
#: only on a line that holds such letters: one pattern of all forms costs 0.2 ms a line)
_PROMISE_SPACED = re.compile("|".join(f"(?:{p})" for p in _PROMISE_FORMS[:-4]), re.IGNORECASE)
_PROMISE_JOINED = re.compile("|".join(f"(?:{p})" for p in _PROMISE_FORMS), re.IGNORECASE)
#: the words of the spaced forms (of four letters or more, and the short verbs that stand
#: alone: "hör av mig", "ik bel u", "gir jeg beskjed"; and the words their optional
#: letters spell): a line of a spaced script with none of them holds no promise
_PROMISE_WORDS = frozenset(
    w.casefold() for w in re.findall(r"[^\W\d_]+", re.sub(
        r"\\[bwsdBWSD]", " ", "|".join(_PROMISE_FORMS[:-4]))) if len(w) >= 4) | {
    "hör", "bel", "gir", "dám", "besked", "beskjed", "tilbage", "tilbake", "contato",
    "contacto", "informé", "informés"}

#: a condition's leading word (what follows it, to the promise or the clause's end, is the
#: condition)
_MARKER = re.compile(
    r"(?<!\w)(?:si jamais|se mai|if ever|if|should|in case|whenever|when|in the event that|"
    r"quando|когда|kun|falls|"
    r"wenn|sollte|sollten|"
    r"im falle?|sofern|sobald|als|indien|mocht|mochten|wanneer|zodra|si|s['’](?=il)|"
    r"au cas où|en cas de|dès que|quand|lorsque|en caso de que|por si|cuando|se|qualora|"
    r"nel caso|casomai|caso|om|ifall|i fall|skulle|när|hvis|dersom|når|i tilfælde af|"
    r"i tilfelle|jos|mikäli|jeśli|jeżeli|gdyby|jakby|w razie|gdy|kiedy|pokud|jestli|"
    r"jestliže|kdyby|když|v případě|jakmile|если|в случае|коли|как только|якщо|у разі|"
    r"в разі|як тільки|eğer|şayet)(?!\w)"
    r"|(?<!\w)[وف]?(?:إذا|اذا|لو|في حال|حال|إن|عند)(?!\w)"
    r"|もし|万が一|万一|如果|要是|万一|假如|若是|一旦|如再|再有|如有|만약|혹시",
    re.IGNORECASE)
#: a conditional ending closing the condition right before the promise (ja, ko, tr, zh; in
#: Chinese "有问题" alone is the condition: "有问题再联系", "再有问题我再找你们")
_SUFFIX = re.compile(
    r"(?:たら|だら|れば|えば|けば|せば|てば|めば|べば|げば|なら|ならば|場合は|場合には|場合|際は|"
    r"際には|時は|ときは|ようでしたら|ようなら|ようであれば|면|경우|경우에는|경우엔|때는|때"
    r"|[^\W\d_]{2,}(?:r|z)s[ae](?:k|m|n[ıi]z)?|的话|的話|(?:有|出)(?:什么|啥)?问题)[、,，\s]*$",
    re.IGNORECASE)
#: what ends a condition or a sentence: a promise and its condition share one clause run
_BREAK = re.compile(r"[.!?;:。！？；\n]|\s[-–—]\s")
_COMMA = re.compile(r"[,，、]")
#: the condition speaks of trouble coming back (a recurrence verb; the lexicon's "again"
#: words count too) or of anything at all going wrong ("anything", "coś", "何か", "有问题");
#: a problem word alone does not: "if it doesn't work", "se domani non funziona", "if the
#: error doesn't go away" are pending checks of a problem not yet seen fixed
_TROUBLE = re.compile(
    r"(?<!\w)(?:happen(?:s|ed)?|recurs?|recurred|comes? back|returns?|reappears?|crops? up|"
    r"pops? up|acts? up|plays? up|goes wrong|anything|something|(?:a|any) (?:more )?(?:issues?|"
    r"problems?|trouble|questions?)|persists?|resurfaces?"
    r"|auftr\w*|auftaucht|zurückkommt|wiederkommt|irgendwas|etwas|was sein"
    r"|terugkomt|terug komt|gebeurt|misgaat|mis gaat|iets"
    r"|revient|recommence|réappara\w*|se reproduit|se représente|quoi que ce soit|quelque chose"
    r"|vuelv[ea] a|se repite|reaparece|pasa|pasar|algo"
    r"|ripresent\w*|ricapit\w*|si ripete|ritorna|succede|qualcosa"
    r"|volt(?:ar|e) a|repetir|acontecer|acontece|alguma coisa"
    r"|händer|något|tillbaka|sker|noget|tilbage|tilbake|skjer|noe"
    r"|toistuu|ilmenee|palaa|jotain|jotakin"
    r"|wróci|powtórz\w*|coś|vrátí|zopakuje|opakuje|něco"
    r"|повтор\w*|вернётся|вернется|возникнет|что-то|что-нибудь|повернеться|виникне|щось"
    r"|again|wieder|nochmal|nochmals|erneut|weer|opnieuw|de nouveau|à nouveau|otra vez|de nuevo"
    r"|di nuovo|de novo|novamente|igen|igjen|uudelleen|uudestaan|taas|znowu|znów|ponownie"
    r"|znovu|opět|zase|снова|опять|знову|tekrar|yine|yeniden|مرة أخرى|مجدد\w*"
    r"|bir şey|tekrarlanırsa|تكرر\w*|يتكرر|تتكرر|رجع\w*|عاد\w*|أي شيء|اي شي)(?!\w)"
    r"|有(?:什么|啥)?问题|什么问题|있으면|있을 경우|있다면"
    r"|また|再発|再び|起き|又|다시|또|発生|何か|复发|重现|出现|出问题|有问题|再出|再有|재발|생기|발생|뭔가",
    re.IGNORECASE)
#: the lexicon's cues a condition may not hold: a request, "but"/"still", a question word,
#: a qualifier ("until", "for now"), a wish, an afterthought
_NOT_IN_CONDITION = frozenset({"contrast", "request", "volition", "advance", "interrogative",
                               "qualifier", "afterthought"})
_WORDS = re.compile(r"[^\W_]+")
_JOINED = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
CONDITION_WORDS = 10  # a longer condition is a sentence of its own
CONDITION_UNKNOWN = 6  # words no list knows, tolerated in it


def promises(understanding: Understanding, text: str) -> tuple[str, list[str]]:
    """``text`` with each conditional promise cut out (the rest of its sentence stays),
    and the promises cut."""
    found: list[str] = []
    out = []
    for line in text.splitlines():
        cut = _promise_span(understanding, line) if _worth_reading(line) else None
        while cut is not None:
            found.append(line[cut[0]:cut[1]].strip(" ,，、"))
            line = f"{line[:cut[0]]} {line[cut[1]:]}"
            cut = _promise_span(understanding, line)
        out.append(line)
    return "\n".join(out), found


#: the words of ``_MARKER`` (one of each phrase), looked up in a set: a line holding none
#: (nor a conditional ending, nor a marker of a script without spaces) holds no promise
_MARKER_WORDS = frozenset({
    "if", "should", "case", "whenever", "when", "quando", "когда", "kun", "event", "falls",
    "wenn", "sollte", "sollten", "falle",
    "fall", "sofern", "sobald", "als", "indien", "mocht", "mochten", "wanneer", "zodra", "si",
    "cas", "dès", "quand", "lorsque", "caso", "cuando", "se", "qualora", "casomai", "om",
    "ifall", "skulle", "när", "hvis", "dersom", "når", "tilfælde", "tilfelle", "jos", "mikäli",
    "jeśli", "jeżeli", "gdyby", "jakby", "razie", "gdy", "kiedy", "pokud", "jestli",
    "jestliže", "kdyby", "když", "případě", "jakmile", "если", "случае", "коли", "как", "якщо",
    "разі", "як", "eğer", "şayet"})
_TR_ENDINGS = ("rsa", "rse", "zsa", "zse", "rsak", "rsek", "rsam", "rsem", "rsanız", "rseniz")
_JOINED_HINT = re.compile(
    r"たら|れば|なら|場合|際|時は|ときは|もし|万|면|경우|때|만약|혹시|如果|要是|假如|若|一旦|如|再有"
    r"|的话|的話|问题|問題|إذا|اذا|لو|حال|إن|عند")


def _worth_reading(line: str) -> bool:
    """Whether ``line`` may hold a condition and a promise at all (set lookups per word:
    cheap; a line of Arabic, Japanese, Chinese or Korean with a marker of its script is
    read whole)."""
    if _JOINED_OR_ARABIC.search(line):
        return bool(_JOINED_HINT.search(line)) or _worth_reading(_JOINED_OR_ARABIC.sub(" ", line))
    folded = line.replace("’", "'").casefold()
    words = _WORDS.findall(folded)
    return (any(w in _MARKER_WORDS or w.endswith(_TR_ENDINGS) for w in words)
            or "s'il" in folded) and any(w in _PROMISE_WORDS for w in words)


_JOINED_OR_ARABIC = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\u0600-\u06ff]")


def _promise_span(understanding: Understanding, line: str) -> tuple[int, int] | None:
    """Where in ``line`` a condition and the customer's promise stand together."""
    pattern = _PROMISE_JOINED if _JOINED_OR_ARABIC.search(line) else _PROMISE_SPACED
    for promise in pattern.finditer(line):
        start, end = promise.span()
        # "I'll let you know if it happens again": the condition follows the promise
        marker = _MARKER.search(line, end)
        if marker is not None and not _BREAK.search(line, end, marker.start()) and _filler(
                understanding, line[end:marker.start()]):
            stop = _next_break(line, marker.end())
            if _condition(understanding, line[marker.end():stop]):
                return start, stop
        # "Als het probleem terugkomt, laat ik het weten": it precedes the promise
        opening = _last_break(line, start)
        tail = _next_break(line, end)
        if not _filler(understanding, line[end:tail]):
            continue
        markers = [m for m in _MARKER.finditer(line, opening, start) if m.end() <= start]
        if markers:
            m = markers[0]
            # "Mocht het weer gebeuren, dan neem ik contact op", "Если проблема повторится,
            # я вам напишу": a word or two may stand between the condition and the promise
            cond, gap = line[m.end():start].rstrip(" ,，、"), ""
            commas = list(_COMMA.finditer(cond))
            if commas:
                cond, gap = cond[:commas[-1].start()], cond[commas[-1].end():]
            if len(_WORDS.findall(gap)) <= 2 and _filler(understanding, gap) and _condition(
                    understanding, cond):
                return m.start(), tail
        ending = _SUFFIX.search(line, opening, start)
        if ending is not None and _condition(understanding, line[opening:start]):
            return opening, tail
    return None


def _last_break(line: str, before: int) -> int:
    """Where the condition before a promise at ``before`` may start: after the last
    sentence break, and after the last comma that a condition follows ("Dziękuję, | jeśli
    problem wróci, dam znać")."""
    at = 0
    for m in _BREAK.finditer(line, 0, before):
        at = m.end()
    head = line[at:before].rstrip(" ,，、")
    for comma in reversed([at + m.end() for m in _COMMA.finditer(head)]):
        if _MARKER.search(line, comma, before) or _SUFFIX.search(line, comma, before):
            return comma
    return at


def _next_break(line: str, after: int) -> int:
    found = _BREAK.search(line, after)
    comma = _COMMA.search(line, after)
    ends = [m.start() for m in (found, comma) if m is not None]
    return min(ends) if ends else len(line)


def _filler(understanding: Understanding, text: str) -> bool:
    """Nothing, or a few words that say nothing to act on ("gerne", "straight away")."""
    words = _WORDS.findall(text)
    if not words:
        return True
    if len(words) > 3 or re.search(r"[?？؟]", text):
        return False
    said = understanding.clause(text)
    return not (said.categories - _FILLER) and said.unknown <= 2 and not said.live_problems


_FILLER = frozenset({"gratitude", "apology", "closing", "pleasantry", "greeting", "again"})


def _condition(understanding: Understanding, text: str) -> bool:
    """A condition about trouble coming (back), and nothing else: one clause (no comma
    inside: "if it recurs, printer 5 is broken too, I'll tell you" holds news), no request,
    question, "but"/"still", qualifier, wish; a negation only beside "again"; short."""
    text = text.strip(" ,，、")
    if not text or re.search(r"[?？؟]", text) or _BREAK.search(text) or _COMMA.search(text):
        return False
    words = max(len(_WORDS.findall(text)), len(_JOINED.findall(text)) // 2)
    if words > CONDITION_WORDS:
        return False
    said = understanding.clause(text)
    if said.question or said.categories & _NOT_IN_CONDITION or said.unknown > CONDITION_UNKNOWN:
        return False
    again = "again" in said.categories
    if (said.negated or said.free_negation) and not again:
        return False
    return again or bool(_TROUBLE.search(text))


#: a verb (or a CJK noun) that points at the attached file: "segue em anexo", "vi allego",
#: "te adjunto", "je vous joins", "附件是", "添付", "첨부", "مرفق"
_ATTACHING = re.compile(
    r"(?i)\b(?:segue(?:m)? (?:em )?anex[oa]s?|segue(?:m)? junto|envio (?:em )?anexo|anexo|"
    r"anexei|anexamos|vi allego|ti allego|le allego|allego|alleghiamo|invio in allegato|"
    r"(?:te|os|le|les) adjunto|adjunto|adjunta|adjuntamos|(?:te|os|le|les) envío adjunt[oa]s?|"
    r"(?:je|nous) (?:vous |te )?(?:joins|joignons)|vous trouverez ci-joint|ci-joint[es]?|"
    r"en pièce jointe|en pj)\b|附件|附上|附图|随附|添付|첨부|مرفق")
#: a purpose beside a pointer asks for something ("Adjunto la factura para que la revisen");
#: also read by the package's own pointer check (``replies.structure._pointer_only``)
PURPOSE = re.compile(r"(?i)\b(?:so that|for you|to check|to review|for review|damit|zur "
                     r"(?:prüfung|kontrolle|info)|pour que|afin de|para que|para (?:revis|"
                     r"comprob)|perché|affinché|zodat|så att|så i|żeby|aby|abyste|чтобы|щоб)\b")
#: what a pointer sentence may not hold: anything asking or reporting
POINTER_CUES = frozenset({"problem", "request", "contrast", "again", "negation",
                          "qualifier", "interrogative"})
_SENTENCE_END = re.compile(r"(?<=[.!?。！？؟])\s*|\n")
_CLAUSE = re.compile(r"[,;，；、]")
#: what the pointer shows: at most this many words besides the pointer ("a foto da etiqueta
#: impressa na nova impressora")
POINTER_WORDS = 10


def without_attaching(understanding: Understanding, text: str) -> str:
    """``text`` without the clauses that only point at the attached file by a verb or a
    CJK noun (see the module docstring); called only when the mail carries a file."""
    if not _ATTACHING.search(text):
        return text
    out = []
    for line in text.splitlines():
        if not _ATTACHING.search(line):
            out.append(line)
            continue
        kept = []
        for sentence in _SENTENCE_END.split(line):
            pieces = _CLAUSE.split(sentence)
            rest = [p for p in pieces if not _pointer(understanding, p)]
            if len(rest) == len(pieces):
                kept.append(sentence)
            elif any(_WORDS.search(p) for p in rest):
                kept.append("，".join(p.strip() for p in rest if p.strip()) if _JOINED.search(
                    sentence) else ", ".join(p.strip() for p in rest if p.strip()))
        out.append(" ".join(s for s in kept if s.strip()))
    return "\n".join(out)


def _pointer(understanding: Understanding, clause: str) -> bool:
    found = _ATTACHING.search(clause)
    if found is None or PURPOSE.search(clause) or re.search(r"[?？؟]", clause):
        return False
    rest = clause[:found.start()] + " " + clause[found.end():]
    words = max(len(_WORDS.findall(rest)), len(_JOINED.findall(rest)) // 2)
    if words > POINTER_WORDS:
        return False
    said = understanding.clause(clause)
    return not said.question and not (said.categories & POINTER_CUES) and not said.live_problems
