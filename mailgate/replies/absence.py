"""Is a reply's new text only an absence notice? ("I'm out of the office until 14/12.")

Why: an out-of-office sent without Auto-Submitted / X-Autoreply / Precedence headers and
under a plain "Re:" subject (an Outlook rule, a webmail's vacation text pasted by hand, a
phone's "I'm on leave" signature reply) used to read as the customer's answer: it reopened
a closed ticket, cancelled the auto-close of an ``awaiting_reply`` one and was relayed to
the engineer (issue #16). ``mailgate.autoreply`` knows such mail only by headers and
subject; this module reads the text. The pipeline treats a text found here exactly like a
header-flagged out-of-office (``Automatic("out-of-office", ...)``): recorded on the
ticket with an event, nothing reopened, no auto-close cancelled, nobody answered.

Rule, on the NEW text only (``quotes.reply_parts``: quoted history and ``-- `` signature
cut away; the text below a quote counts as new text):

1. at least one **core** phrase says the writer is away: out of office, on (annual,
   parental, maternity, sick) leave, on holiday, travelling, back / returning on a date,
   or no longer working there ("I no longer work at X, please write to Y": a *changed
   contact*; recorded the same way, its reason says so; the new address is NOT added to
   the ticket, a person decides);
2. every other sentence is an absence notice's furniture: a greeting, "thank you for your
   message", a date, whom to contact in urgent cases, an auto-forward note, "I will reply
   when I return", "limited access to e-mail", a closing formula and the signature below
   it (names, phone numbers, addresses);
3. nothing else: no question mark anywhere, no problem, contrast ("but"), "again", partial
   success or success word of the reply lexicon (``replies.toml``) outside the phrases
   above, no request outside a "contact X" sentence, and at most ``SENTENCE_WORDS`` words
   no list knows in a sentence (``TOTAL_WORDS`` in all). "I'm out until Monday, but the
   export still fails" stays the customer's reply.

When unsure it is NOT an absence: the normal reply judgement applies. The phrases cover
the 20 languages of the lexicon with the wording of Outlook's and Gmail's vacation
texts and the local formal forms; ``Absence.evidence`` is the phrase that decided, for the
ticket's event and ``mailgate explain``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from mailgate.quotes import reply_parts
from mailgate.replies.lexicon import HARMLESS, Lexicon, fold

MAX_TEXT = 1500  # a longer new text is no absence notice
SENTENCE_WORDS = 2  # words no list knows, tolerated in one sentence
CONTACT_WORDS = 4  # ... in one that names whom to contact (a name, a department): 3 if
# it also holds the absence phrase
TOTAL_WORDS = 8  # ... in the whole text
MAX_SENTENCES = 14
MAX_SENTENCE = 300  # characters
#: lexicon categories that make a text more than an absence notice
_VETO = frozenset({"problem", "contrast", "again", "solved", "gone", "once", "afterthought"})


@dataclass(frozen=True)
class Absence:
    """Why a reply's text is an absence notice: ``kind`` is "away" or "left" (no longer
    works there: a changed contact), ``evidence`` the phrase that decided."""

    kind: str
    evidence: str

    @property
    def reason(self) -> str:
        """For the ticket's event and ``mailgate explain``."""
        what = "absence notice (no longer there: a changed contact)" if self.kind == "left" \
            else "absence notice"
        return f"{what} in the reply's text: {self.evidence!r}"


_L = r"(?<![^\W_])"  # no letter or digit before
_R = r"(?![^\W_])"  # ... after
#: the writer no longer works there (checked before ``_AWAY``)
_LEFT = [
    r"(?:i )?no longer (?:work|working|employed|with|at)",
    r"(?:i|i'm|i am|has|have|'ve) (?:now )?left (?:the company|the firm|the organi[sz]ation)",
    r"(?:is|am) no longer (?:with|at|part of|employed)",
    r"(?:e-?mail |mail )?(?:address|mailbox) is no longer (?:monitored|in use|active|valid)",
    r"(?:arbeite|bin) (?:nicht mehr|nun nicht mehr|seit \S{1,30} nicht mehr)(?: \S{1,30}){0,4} "
    r"(?:tätig|beschäftigt|angestellt)", r"nicht mehr (?:im unternehmen|bei \S{1,30} tätig)",
    r"habe (?:das unternehmen|die firma) verlassen",
    r"ne (?:travaille|fais) plus", r"(?:ai|a) quitté (?:la société|l'entreprise)",
    r"ya no (?:trabajo|formo parte)", r"non (?:lavoro|faccio parte) più",
    r"não (?:trabalho|faço parte)(?: \S{1,30}){0,3} mais", r"já não (?:trabalho|faço parte)",
    r"(?:ben|is) niet (?:meer|langer) (?:werkzaam|in dienst)", r"werk niet meer",
    r"arbetar (?:inte|inte längre) (?:kvar|längre)", r"har slutat", r"har (?:fratrådt|sluttet)",
    r"arbejder ikke længere", r"jobber ikke (?:lenger|her lenger)",
    r"en (?:enää )?työskentele enää",
    r"nie pracuję już", r"już nie pracuję", r"(?:již|už) (?:nepracuji|nepracuju)",
    r"больше не работаю", r"уже не работаю", r"більше не працюю", r"вже не працюю",
    r"artık \S{1,30} (?:çalışmıyorum|çalışmamaktayım)", r"artık çalışmıyorum",
    r"لم أعد أعمل",
]
_LEFT_JOINED = [r"退職いたしました", r"退職しました", r"退社いたしました", r"已离职", r"已離職",
                r"已经离职", r"퇴사(?:하였습니다|했습니다|하여)"]
#: the writer is away / on leave / out of office / back on a date
_AWAY = [
    # en
    r"out of (?:the )?office", r"(?:out|away) of the office", r"ooo",
    r"on (?:annual |parental |maternity |paternity |sick |medical |study |family |holiday "
    r"|vacation |compassionate |bereavement )?(?:leave|vacation|holidays?)",
    r"(?:annual|parental|maternity|paternity|sick|medical) leave", r"(?:off|out) sick",
    r"on (?:a )?business (?:trip|travel)", r"away on business",
    r"(?:i am|i'm|i will be|i'll be|i shall be|currently|will be) (?:currently |now )?"
    r"(?:away|absent|travell?ing|unavailable|not available|not in the office"
    r"|off work|out of town|on the road)", r"when i (?:return|get back|am back|'m back)",
    r"(?:i'll|i will|i shall) be back (?:in the office |at (?:my desk|work) )?"
    r"(?:on|from|next|tomorrow|by|after|in|at|\d)",
    r"back (?:in the office|at (?:my desk|work)) on",
    r"(?:i )?(?:will )?(?:be )?return(?:ing)? (?:to (?:the )?(?:office|work) )?on",
    r"return(?:ing)? to the office", r"until my return", r"(?:up)?on my return",
    # de
    r"nicht im (?:büro|hause|haus)", r"außer haus", r"ausser haus",
    r"(?:meiner|meine|während der) abwesenheit",
    r"(?:im|in) (?:urlaub|jahresurlaub|elternzeit|mutterschutz|sonderurlaub)",
    r"urlaubsbedingt", r"(?:auf|in) (?:einer )?dienstreise", r"krankgeschrieben",
    r"(?:bin ich|ich bin)(?: \S{1,30}){0,6} (?:nicht erreichbar|erkrankt|krank|unterwegs|abwesend)",
    r"(?:bin ich|ich bin)(?: \S{1,30}){0,6} (?:wieder (?:im büro|im hause|im haus|da|erreichbar"
    r"|zurück|verfügbar|für sie da)|zurück)",
    r"(?:wieder|zurück) im büro",
    # fr
    r"(?:je suis|je serai) absente?", r"en (?:congés?|vacances|déplacement|arrêt maladie)",
    r"en congé (?:maternité|paternité|parental|maladie)", r"hors du bureau",
    r"de retour (?:le|au bureau|à partir|dès|lundi|mardi|mercredi|jeudi|vendredi)",
    r"(?:je )?serai de retour", r"à mon retour", r"jusqu'à mon retour",
    # es
    r"fuera de (?:la )?oficina", r"de (?:vacaciones|viaje|permiso)",
    r"(?:estoy|estaré|estarei|estou) ausente",
    r"de baja(?: por (?:maternidad|paternidad|enfermedad))?", r"de licencia",
    r"(?:volveré|regresaré|me reincorporaré|me incorporaré|estaré de vuelta)"
    r"(?: (?:a la oficina|al trabajo|a partir|el|después)| \d)",
    r"a mi (?:regreso|vuelta)",
    # it
    r"fuori (?:ufficio|sede)", r"in (?:ferie|vacanza|trasferta|malattia|maternità)",
    r"(?:sono|sarò) assente",
    r"in congedo(?: (?:parentale|di maternità|di paternità))?",
    r"(?:rientrerò|sarò di nuovo (?:in ufficio|disponibile)|rientro (?:in ufficio|il|previsto))",
    r"al mio rientro",
    # pt
    r"fora do escritório", r"de férias", r"em férias",
    r"de (?:licença|baixa)(?: (?:maternidade|paternidade|médica|parental))?",
    r"em (?:licença|viagem)(?: (?:maternidade|paternidade|médica|de trabalho))?",
    r"(?:regressarei|retornarei|voltarei|estarei de volta|estarei de regresso)"
    r"(?: (?:ao escritório|ao trabalho|no dia|dia|a partir|em|após)| \d)",
    r"(?:retorno|regresso) (?:ao escritório|no dia|dia|em|a)",
    r"(?:no|ao) meu (?:regresso|retorno)",
    # nl
    r"(?:ik ben|ben ik)(?: \S{1,30}){0,5} afwezig", r"(?:niet|buiten) (?:op )?kantoor",
    r"(?:met|op) vakantie",
    r"met (?:verlof|zwangerschapsverlof|ouderschapsverlof)", r"(?:zwangerschaps|ouderschaps)verlof",
    r"(?:ben ik|ik ben)(?: \S{1,30}){0,5} (?:ziek|weer (?:aanwezig|op kantoor|bereikbaar|terug)"
    r"|terug)", r"weer (?:aanwezig|op kantoor)",
    r"terug op kantoor", r"bij terugkomst",
    # sv / da / nb
    r"(?:jag är|är jag|jeg er|er jeg)(?: \S{1,30}){0,4} (?:frånvarande|fraværende)",
    r"(?:inte|ikke) på kontoret", r"på (?:semester|ferie|tjänsteresa|reise)",
    r"(?:föräldra|tjänst)ledig", r"föräldraledighet", r"sjukskriven", r"sygemeldt",
    r"sykmeldt", r"på barsel", r"(?:i|på) (?:foreldre)?permisjon", r"(?:mitt|mit) fravær",
    r"(?:jag är|jeg er|jeg vil være|jeg kommer|är jag|er jeg|kommer jeg)(?: \S{1,30}){0,3}"
    r" (?:tillbaka|tilbake|tilbage|åter)", r"(?:åter|tillbaka|tilbake|tilbage) på kontoret",
    r"åter i tjänst",
    r"(?:jag är|jeg er)(?: \S{1,30}){0,3} (?:ledig|sjuk|syg|syk)",
    # fi
    r"olen(?: \S{1,30}){0,3} poissa(?: toimistolta)?", r"poissa toimistolta",
    r"(?:vuosi|loma|talvi|kesä)?lomalla",
    r"(?:vanhempain|perhe|äitiys|isyys|opinto)vapaalla", r"sairauslomalla", r"työmatkalla",
    r"palaan (?:toimistolle|töihin|lomalta|\d)", r"takaisin toimistolla",
    # pl / cs
    r"poza biurem", r"(?:jestem|będę) nieobecn[ya]", r"na urlopie(?: \S{1,30})?",
    r"na zwolnieniu(?: lekarskim)?",
    r"w delegacji", r"(?:wracam|wrócę|powrócę) (?:do biura|do pracy|z urlopu|dnia|po|\d)",
    r"będę (?:ponownie )?(?:dostępn[ya]|w biurze)",
    r"mimo (?:kancelář|kancelar|kanceláře|úřad)", r"(?:jsem|budu) nepřítomn[ýáa]",
    r"na (?:dovolené|mateřské|rodičovské|nemocenské|služební cestě)",
    r"vrátím se (?:do kanceláře|do práce|z dovolené|dne|po|\d)",
    r"zpět (?:v kanceláři|dne|od)",
    # ru / uk
    r"вне офиса", r"отсутствую", r"(?:в|во) (?:отпуске|командировке)",
    r"в (?:декретном|ежегодном) отпуске", r"на больничном",
    r"вернусь (?:в офис|на работу|из отпуска|после|\d)",
    r"буду (?:на месте|в офисе)",
    r"поза офісом", r"(?:я|буду)(?: \S{1,30}){0,3} відсутн(?:ій|я|ій)",
    r"(?:у|в) (?:відпустці|відрядженні|декретній відпустці)",
    r"на лікарняному", r"повернуся (?:в офіс|до офісу|на роботу|з відпустки|після|\d)",
    r"буду (?:на місці|в офісі)",
    # tr
    r"ofis dışında(?:yım)?", r"ofiste değilim", r"(?:yıllık )?izindeyim", r"izinliyim",
    r"(?:doğum|yıllık|ebeveyn) izni(?:ndeyim)?", r"raporluyum", r"tatildeyim",
    r"iş seyahatindeyim", r"(?:\d\S{0,12}(?: \S{1,30}){0,2}|ofise|işe|izinden) döneceğim",
    r"ofiste olacağım",
    # ar
    r"خارج المكتب", r"في إجازة", r"في اجازة", r"إجازة (?:سنوية|مرضية|أمومة)",
    r"سأعود (?:إلى المكتب|إلى العمل|في|يوم|بتاريخ)",
    r"في مهمة عمل",
]
#: joined scripts (no spaces, no word boundaries)
_AWAY_JOINED = [
    r"不在に(?:して|いた)", r"不在で(?:す|ござい)", r"休暇(?:を(?:いただいて|取得して)|中|の|で)",
    r"出張(?:中|の|で|に)", r"(?:育児|産前産後|病気)休(?:暇|業)", r"育休", r"産休", r"療養",
    r"(?:出社|出勤|帰社)(?:いた)?(?:します|予定)", r"(?:日|曜)[にはから]{0,2}戻ります",
    r"戻り(?:は|次第|予定)",
    r"不在办公室", r"不在辦公室", r"(?:正在|目前)?休(?:假|年假|产假|產假|病假)", r"出差",
    r"(?:产假|產假|育儿假|育兒假|病假|年假)", r"(?:返回|回到|回来|回來)(?:办公室|辦公室|公司)",
    r"[日号號](?:返回|回来|回來|返岗|返崗|上班)",
    r"休假",
    r"부재(?:\s?중)?", r"휴가(?:\s?중)?", r"출장(?:\s?중)?", r"(?:육아|출산)\s?휴(?:직|가)",
    r"병가", r"복귀(?:할|합니다|예정)?",
]
#: the furniture of an absence notice: urgent cases, whom to contact, forwarding, replying
#: later, limited access (words and short phrases, all languages)
_SUPPORT = [
    r"urgent(?:ly)?", r"(?:matters?|issues?|requests?|cases?|enquir(?:y|ies)|inquir(?:y|ies))",
    r"immediate|pressing|assistance|help|support",
    r"contact(?:s|ing)?|call|reach(?:ed)?|write|escrib\w*|écrire|scriv\w*|escrev\w*|schreiben"
    r"|skriv\w*|kirjoita|napisz|napište|пишите|напишите|пишіть|yazabilirsiniz|get in touch"
    r"|colleagues?|team|desk",
    r"forward(?:ed|ing)?|redirect(?:ed)?", r"reply|respond|answer|get back|read|attend",
    r"(?:limited|no|restricted|intermittent) access|access|e-?mails?|messages?|mail",
    r"(?:wieder|weer|di nuovo|de nuevo|de novo|igen|igjen|again) (?:erreichbar|bereikbaar"
    r"|verfügbar|da|aanwezig|disponibile|disponible|disponível|tilgængelig|tilgjengelig"
    r"|available)|available again|wieder erreichbar",
    r"successor|nachfolger(?:in)?|successeur|sucesora?|successore|sucessora?|opvolger"
    r"|efterträdare|efterfølger|etterfølger|seuraaja(?:ni)?|następc[aąy]|nástupce|преемник\w*"
    r"|наступник\w*|halefim\w*|from now on|ab sofort|künftig|désormais|de ahora en adelante"
    r"|d'ora in poi|a partir de agora|voortaan|hädanefter|fremover|jatkossa|odtąd|отныне"
    r"|віднині|bundan sonra",
    r"(?:will|shall) not be able to (?:reply|respond|answer|read|check)|unable to (?:reply"
    r"|respond|answer|read|check)|keine? (?:zugriff|e-mails? lesen)",
    r"(?:after|upon|on) my return|when i(?: am|'m)? back|nach meiner rückkehr"
    r"|après mon retour|dès mon retour|a mi (?:regreso|vuelta)|cuando (?:regrese|vuelva)"
    r"|al mio (?:rientro|ritorno)|no meu (?:retorno|regresso)|quando (?:retornar|voltar)"
    r"|na mijn terugkeer|bij (?:mijn )?terugkomst|efter min återkomst|vid min återkomst"
    r"|när jag är tillbaka|når jeg er (?:tilbage|tilbake)|ved min (?:tilbagekomst|retur)"
    r"|paluuni jälkeen|palattuani|(?:en|enkä) (?:lue|seuraa|pääse) sähköpost\w{0,6}"
    r"|po (?:moim )?powrocie|po (?:svém |mém )?návratu|(?:se vám )?ozvu(?: se)?"
    r"|после (?:моего )?возвращения|по возвращении|після (?:мого )?повернення"
    r"|döndüğümde|dönüşümde|عند عودتي|بعد عودتي",
    r"as soon as possible|asap|promptly|possible|delay(?:ed)?|shortly|soon",
    r"(?:during|in) my absence|(?:mi|mia|la mia|minha|a minha|ma|mon) (?:ausencia|assenza"
    r"|ausência|absence)|absence|ausencia|assenza|ausência|abwesenheit|afwezigheid"
    r"|frånvaro|fravær|poissaoloni|nieobecności|nepřítomnosti|отсутствия|відсутності"
    r"|yokluğum|غيابي",
    r"dringend(?:en|e)?|eilig(?:en|e)?|fällen?|angelegenheiten|anliegen|fragen|wenden|kontakt(?:ieren)?",
    r"kolleg(?:e|in|en|innen)|vertretung|vertreten|weitergeleitet|weitergeleitet|beantworten|antworten"
    r"|bearbeiten|nachricht(?:en)?|e-mails?|zugriff|eingeschränkt(?:em|en)?|erreichen|erreichbar",
    r"urgen(?:ce|t|tes?)|contacte[rz]?|collègues?|transmis|transféré|messages?|courriels?"
    r"|répondrai|traiterai|accès|limité|joindre|adresser",
    r"urgen(?:cia|te|tes)|contact(?:e|ar|o|a)|compañer[oa]s?|reenviad[oa]|mensajes?|correos?"
    r"|responderé|atenderé|acceso|limitado|asuntos?",
    r"urgen(?:za|ze|ti|te)|contatt(?:are|ate|i)|collegh(?:i|e)|colleg[ao]|inoltrat[ao]|messaggi[o]?"
    r"|risponderò|accesso|limitato",
    r"urgência|urgências|urgente|contact(?:e|ar|ate)|colega|colegas|reencaminhad[ao]|encaminhad[ao]"
    r"|mensage(?:m|ns)|responderei|acesso|limitado|assuntos?",
    r"dringende?|spoed|contact|collega'?s?|doorgestuurd|berichten|bericht|beantwoorden|toegang|beperkte?",
    r"brådskande|ärenden?|kontakta|kollega|kollegor|vidarebefordra(?:s|t)?|besvara|svarar|tillgång"
    r"|begränsad|hastende|haster|henvendelser|kontakt|kolleger?|videresendt|besvare|svare|adgang"
    r"|tilgang|begrænset|begrenset|e-post|eposter?|mails?",
    r"kiireellisissä|kiireelliset|asioissa|asiat|ota yhteyttä|yhteyttä|kollegaani|kollega"
    r"|välitetä|vastaan|sähköposti(?:in|t)?|viesteihin|rajoitetusti",
    r"pilnych|pilne|sprawach|sprawy|kontakt|skontaktuj|proszę|kolegą|koleżanką|przekazywane"
    r"|odpowiem|wiadomości|dostęp|ograniczony|naléhavých|naléhavé|záležitostech|kontaktujte"
    r"|obraťte|kolegu|kolegyni|přeposílány|odpovím|zprávy|přístup|omezený",
    r"срочн\w*|вопросам|обращайтесь|свяжитесь|коллег\w*|пересыла\w*|отвечу|сообщени\w*|доступ\w*"
    r"|ограничен\w*|терміново|термінових|питань|звертайтеся|звертайтесь|колег\w*|пересила\w*"
    r"|відповім|повідомлен\w*|обмежен\w*",
    r"acil|durumlarda|konular|için|iletişime geçebilirsiniz|iletişime|ulaşabilirsiniz|meslektaşım"
    r"|iletilmeyecek|iletilecektir|yanıt(?:layacağım|vereceğim)|e-?posta(?:lara|nız)?|erişimim"
    r"|sınırlı",
    r"عاجل(?:ة)?|الأمور|للأمور|الحالات|يرجى|التواصل|الاتصال|زميلي|زميلتي|سأرد|رسائل|رسالتك"
    r"|البريد|الإلكتروني",
]
#: "send it (again) to X": a changed contact's request; "resend" is an absence notice's
#: furniture, and a sentence that resends (or sends "your message") counts as a "contact X"
#: one ("send the invoice to my colleague" is still a request: the customer's reply)
_SEND_VERBS = (
    r"send|senden|schicken|envoy\w*|envíe\w*|invia\w*|envie\w*|stuur|verstuur|skicka|sänd"
    r"|lähetä|wysła\w*|przesła\w*|zašlete|pošlete|отправьте|перешлите|пришлите|надішліть"
    r"|перешліть|gönder\w*|إرسال")
_RESEND_VERBS = (r"re-?send\w*|renvoy\w*|réenvoy\w*|réexpédi\w*|reenví\w*|reenvi\w*|reinvi\w*"
                 r"|rinvi\w*")
_MESSAGE_WORDS = (
    r"message|messages|e-?mail|mail|nachricht|mensaje|messaggio|mensagem|bericht|meddelande"
    r"|besked|melding|viestisi|wiadomoś\w*|zprávu|письмо|сообщение|лист|повідомлення"
    r"|mesajınızı|رسالتك")
_RESEND_WORDS = (f"{_RESEND_VERBS}|(?:{_SEND_VERBS})(?: \\S{{1,30}}){{0,3}} (?:{_MESSAGE_WORDS})"
                 f"|(?:{_MESSAGE_WORDS})(?: \\S{{1,30}}){{0,3}} (?:{_SEND_VERBS})")
_SUPPORT.append(_RESEND_VERBS)
_SUPPORT_JOINED = [
    r"(?:メールの)?(?:確認|返信|対応)(?:が|は)?(?:でき(?:ません|かねます)|いたしかねます)|期間中",
    r"(?:无法|無法|不能)(?:及时|及時)?(?:回复|回覆|回復|查看|处理|處理|收发|收發)(?:邮件|郵件)?",
    r"(?:답변|회신|확인)이?\s?(?:늦어질|어렵|불가)\S*|양해\s?(?:부탁드립니다|바랍니다)"
    r"|ご了承(?:ください|願います|のほど)|敬请谅解|敬請諒解|谅解|諒解",
    r"至急|緊急|急ぎ|ご用件|ご連絡|連絡|不在中|お問い合わせ|問い合わせ|転送|返信|返答|ご了承|対応|メール",
    r"缺席|紧急|緊急|急事|事宜|事务|联系|聯繫|聯絡|同事|转发|轉發|回复|回覆|邮件|郵件|处理|處理",
    r"부재|급한|긴급|용무|업무|문의|연락|동료|전달|회신|답변|메일|이메일",
]
#: words and marks that carry nothing: pronouns, articles, prepositions, auxiliaries,
#: months, weekdays and time words of the 20 languages (the lexicon's harmless words too)
_FILLER_WORDS = """
i me my we our you your he she his her it its the a an and or to of from until till till
in on at by for with will be am is are was have has had this that there these all any
during period between including inclusive incl through thru as then after before back
today tomorrow next week weeks monday tuesday wednesday thursday friday saturday sunday
january february march april may june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec also not no can cannot may might would
ich bin wir sie ihr ihre ihrer ihnen mein meine meiner mich mir der die das den dem des
ein eine einer einem und oder bis zum zur vom von ab am im an in mit für bei ist sind
sein werde werden wird wieder zurück dann nach vor ab einschließlich einschliesslich
danke vielen dank montag dienstag mittwoch donnerstag freitag samstag sonntag januar
februar märz april mai juni juli august september oktober november dezember bitte sich
je suis nous vous votre vos mon ma mes le la les un une et ou au aux du des de jusqu
jusqu'au jusqu'à à en pour avec par sur dans sera serai seront merci lundi mardi mercredi
jeudi vendredi samedi dimanche cas d d' chez depuis toute tout pouvez janvier février mars
avril mai juin juillet août septembre
octobre novembre décembre inclus pendant ce cette période veuillez s'il plaît
yo estoy estaré mi mis su sus usted ustedes el la los las un una y o hasta del al de en
con por para desde día días lunes martes miércoles jueves viernes sábado domingo enero
febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre gracias
por favor durante este esta inclusive
io sono sarò il lo la i gli le un una e o fino al alla del della di da in con per dal
dalla giorno lunedì martedì mercoledì giovedì venerdì sabato domenica gennaio febbraio
marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre grazie
cortesemente prego il suo sua vostra
eu estou estarei meu minha seu sua o a os as um uma e ou até ao à do da de em com por
para no na dia segunda terça quarta quinta sexta sábado domingo feira janeiro fevereiro
março abril maio junho julho agosto setembro outubro novembro dezembro obrigado obrigada
favor por favor durante este esta período inclusive pelo pela
ik ben wij u uw jij je mijn de het een en of tot met van vanaf op in voor bij zal zijn
ben weer maandag dinsdag woensdag donderdag vrijdag zaterdag zondag januari februari
maart april mei juni juli augustus september oktober november december bedankt dank
graag gelieve vriendelijk tijdens deze periode
jag är vi ni du din ditt er min mitt och eller till från med på i för den det en ett
vill kommer att t.o.m tom måndag tisdag onsdag torsdag fredag lördag söndag januari
februari mars april maj juni juli augusti september oktober november december tack vänligen
jeg er vi du din jer og eller til fra med på i for den det en et vil kommer at mandag
tirsdag onsdag torsdag fredag lørdag søndag januar februar marts mars april maj mai juni
juli august september oktober november december tak takk venligst vennligst til og med
olen olemme minä sinä te teidän ja tai asti saakka alkaen klo maanantai tiistai
keskiviikko torstai perjantai lauantai sunnuntai tammikuu helmikuu maaliskuu huhtikuu
toukokuu kesäkuu heinäkuu elokuu syyskuu lokakuu marraskuu joulukuu kiitos ajalla
jestem będę ja my pan pani państwo mój moja i lub do od z w na dnia dla poniedziałek wtorek
środa czwartek piątek sobota niedziela stycznia lutego marca kwietnia maja czerwca lipca
sierpnia września października listopada grudnia dziękuję
jsem budu já my vy váš vaše můj moje a nebo do od s v na dne pro pondělí úterý středa
čtvrtek pátek sobota neděle ledna února března dubna května června července srpna září
října listopadu prosince děkuji
я буду мы вы ваш ваше ваши мой моя и или до с со в во на по для от января февраля марта
апреля мая июня июля августа сентября октября ноября декабря понедельник вторник среда
четверг пятница суббота воскресенье включительно спасибо пожалуйста
я буду ми ви ваш ваше мій моя і й або до з зі у в на по для від січня лютого березня
квітня травня червня липня серпня вересня жовтня листопада грудня включно дякую будь ласка
ben biz siz sizin benim ve veya ile kadar tarihine tarihinde tarihleri arasında
ocak şubat mart nisan mayıs haziran temmuz ağustos eylül ekim kasım aralık teşekkürler
lütfen
since seit desde sedan siden dal
puede pueden podrá pode podem poderá può potete können kann kunnen kunt kan voi voitte
może można můžete можете можна temas
أنا نحن أنت حتى من إلى مع في على يوم تاريخ شكرا الرجاء و
"""
_FILLER = frozenset(_FILLER_WORDS.split())
_JOINED_FILLER = re.compile(
    r"[\u3040-\u309f]|[\d０-９]+\s?(?:年|月|日|号|號|일|월)|[年月日号號]|まで|より|から|までの"
    r"|期間|間|予定|誠に|勝手ながら|申し訳|ございません|いたします|しております|おります"
    r"|下さい|様|我|目前|正在|将于|將於|将|將|于|於|在|中|办公室|辦公室|期间|期間|之前|之后|之後|的|了|会|會|无法|無法|及时|及時"
    r"|您好|你好|谢谢|謝謝|请|請|如有|至|到|时间|時間|届时|屆時|저는|현재|중이며|중입니다"
    r"|입니다|합니다|드립니다|있습니다|이라|수|예정|까지|부터|동안|에게|이며|에|는|은|이|가|을|를|께서|께|으로|로|및|감사합니다")
_JOINED = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_CONTACTS = re.compile(
    r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}|https?://\S+|www\.\S+"
    r"|\+?\(?\d[\d ()./-]{5,30}\d"
    r"|\b\d{1,4}(?:[./-]\d{1,4}){1,2}\.?|\b\d+(?:st|nd|rd|th|\.|er|º|ª)?(?![^\W\d_])"
    r"|\b\d{1,2}[:h]\d{2}\b|[(){}\[\]<>\"'«»„“”|•·*–—/:-]")
_SENTENCE = re.compile(r"[.!。！;\n]+(?=\s|$)|\n|(?<=[。！])")
#: the writer WAS away ("Sorry, I was on holiday"): back, and writing a reply themselves
_PAST = re.compile(
    f"{_L}(?:i was|i've been|i have been|was|were|war|waren|j'étais|étais|ai été|estuve"
    f"|estaba|he estado|ero|sono stat[oa]|estive|estava|tenho estado|ik was|was ik|jag var"
    f"|var jag|jeg var|var jeg|har vært|har været|olin|byłem|byłam|był[ao]?|byl[ao]?"
    f"|jsem byl[ao]?|был[аио]?|був|була|були|idim|iydim|كنت){_R}|でした|していました|"
    f"おりました|いました|了|했습니다|였습니다|었습니다")
#: someone answers for the absent person: a human reply, read as one
_FOR_SOMEONE = re.compile(
    f"{_L}(?:on behalf of|answering for|replying for|reply for|antworte (?:für|an stelle)"
    f"|in vertretung|je réponds pour|réponds à la place|contesto (?:yo )?(?:por|en nombre)"
    f"|rispondo (?:io )?(?:per|al posto)|respondo (?:eu )?(?:pel[oa]|por|em nome)"
    f"|antwoord namens|svarar för|svarer for|svarer på vegne|vastaan \\S{1,30} puolesta"
    f"|odpowiadam za|odpovídám za|отвечаю за|відповідаю за|adına yanıt){_R}"
    f"|代わりに|代为|代為|대신")
#: where a sentence ends for the evidence: a full stop before a capital ("14.12. im Urlaub"
#: goes on)
_SENTENCE_END = re.compile(r"[.!]\s+(?=[^\W\d_])|[。！]")
_QUESTION = re.compile(r"[?？؟]")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def alternatives(parts: list[str], bounded: bool) -> re.Pattern[str]:
    """One pattern for a phrase list: any of ``parts``, between word boundaries when
    ``bounded`` (words of spaced scripts), anywhere otherwise (CJK, joined)."""
    body = "|".join(f"(?:{p})" for p in parts)
    return re.compile(f"{_L}(?:{body}){_R}" if bounded else f"(?:{body})")


_LEFT_RE = alternatives(_LEFT, True)
_LEFT_JOINED_RE = alternatives(_LEFT_JOINED, False)
_AWAY_RE = alternatives(_AWAY, True)
_AWAY_JOINED_RE = alternatives(_AWAY_JOINED, False)
_SUPPORT_RE = alternatives(_SUPPORT, True)
_SUPPORT_JOINED_RE = alternatives(_SUPPORT_JOINED, False)
_CONTACT_WORD = re.compile(
    f"{_L}(?:contact\\w*|call|reach|write|escrib\\w*|écrire|scriv\\w*|escrev\\w*|schreiben|"
    f"skriv\\w*|kirjoita|napisz|napište|пишите|напишите|пишіть|yazabilirsiniz|wenden|kontakt\\w*|contacte\\w*|contatt\\w*|"
    f"ota yhteyttä|skontaktuj\\w*|obraťte|обращайтесь|свяжитесь|звертайте\\w*|iletişime|"
    f"ulaşabilirsiniz|التواصل|الاتصال|neem contact|adresser|joindre|forward\\w*|"
    f"weitergeleitet|transféré|reenviad\\w*|inoltrat\\w*|encaminhad\\w*|doorgestuurd|"
    f"vidarebefordra\\w*|videresendt|välitetä|przekazywane|přeposílány|пересыла\\w*|"
    f"пересила\\w*|iletil\\w*|{_RESEND_WORDS}){_R}|連絡|联系|聯繫|聯絡|연락|転送|转发|轉發|전달"
    f"|再送|重新发送|重新發送|다시\\s?보내")


def absence_notice(body: str, lexicon: Callable[[], Lexicon]) -> Absence | None:
    """The absence notice ``body`` (a reply's whole text) is, or None (see the module
    docstring). ``lexicon`` is asked for only when a phrase of absence is found (most
    replies have none; a desk that reads no reply to a closed ticket never builds it).
    Never raises: on any failure it is no absence."""
    try:
        parts = reply_parts(body)
        text = "\n".join(t for t in (parts.text, parts.late) if t.strip())
        if not text or len(text) > MAX_TEXT or _QUESTION.search(text):
            return None
        folded = fold(text)
        core = _LEFT_RE.search(folded) or _LEFT_JOINED_RE.search(folded) or _core(folded)
        return None if core is None else _read(lexicon(), text, folded, core)
    except Exception:  # pragma: no cover - defensive: the normal judgement applies
        return None


def _read(lexicon: Lexicon, text: str, folded: str, core: re.Match[str]) -> Absence | None:
    left = _LEFT_RE.search(folded) or _LEFT_JOINED_RE.search(folded)
    if _FOR_SOMEONE.search(folded) or any(  # "I have left the company" is past by nature
            _PAST.search(s) for s in _SENTENCE.split(folded) if s and _away(s) is not None):
        return None
    sentences = [s for s in _SENTENCE.split(folded) if s and s.strip()]
    if len(sentences) > MAX_SENTENCES:
        return None
    if any(len(s) > MAX_SENTENCE for s in sentences):
        return None  # no absence notice writes that long a sentence (nor a word)
    total, signature = 0, False
    for sentence in sentences:
        unknown = _unknown(lexicon, sentence)
        if unknown is None:
            return None
        words, closing = unknown
        if signature:  # below the closing formula: names, titles, company, phone numbers
            continue
        total += words
        limit = SENTENCE_WORDS if not _CONTACT_WORD.search(sentence) else CONTACT_WORDS - (
            _core(sentence) is not None)
        if words > limit or total > TOTAL_WORDS:
            return None
        signature = closing
    kind = "left" if left is not None else "away"
    return Absence(kind, _evidence(text, folded, core))


def left_phrase(folded: str) -> re.Match[str] | None:
    """Where ``folded`` (``lexicon.fold``-ed text) says the writer no longer works there,
    or None: ``replies.redirect`` passes such a notice on to the assignee."""
    return _LEFT_RE.search(folded) or _LEFT_JOINED_RE.search(folded)


def _away(folded: str) -> re.Match[str] | None:
    return _AWAY_RE.search(folded) or _AWAY_JOINED_RE.search(folded)


def _core(folded: str) -> re.Match[str] | None:
    return _away(folded) or _LEFT_RE.search(folded) or _LEFT_JOINED_RE.search(folded)


def _unknown(lexicon: Lexicon, sentence: str) -> tuple[int, bool] | None:
    """Words no list knows in ``sentence`` (folded) and whether it is a closing formula;
    None when it holds a problem, "but", "again", a success, or a request outside a
    "contact X" sentence (something more than an absence notice)."""
    contact = _CONTACT_WORD.search(sentence) is not None
    rest = _LEFT_JOINED_RE.sub(" ", _LEFT_RE.sub(" ", sentence))
    rest = _AWAY_JOINED_RE.sub(" ", _AWAY_RE.sub(" ", rest))
    rest = _SUPPORT_JOINED_RE.sub(" ", _SUPPORT_RE.sub(" ", rest))
    rest = _CONTACTS.sub(" ", rest)
    hits, words = lexicon.hits(rest)
    closing = False
    for hit in hits:
        if hit.category in _VETO or (hit.category == "request" and not contact):
            return None
        closing = closing or hit.category == "closing"
    covered = [(h.start, h.end) for h in hits if h.category in HARMLESS
               or h.category in ("negation", "request", "volition", "qualifier")]
    count = 0
    for start, end in words:
        word = rest[start:end]
        if any(s <= start and end <= e for s, e in covered) or word in _FILLER:
            continue
        if _JOINED.search(word):
            left = _JOINED_FILLER.sub("", word)
            count += (len(left) + 2) // 3
        else:
            count += 1
    return count, closing


def _evidence(text: str, folded: str, core: re.Match[str]) -> str:
    """The sentence of ``text`` that holds the deciding phrase, as written, clipped. Folding
    can change lengths ("ß" is "ss"): offsets are mapped back character by character."""
    origin: list[int] = []
    for i, char in enumerate(text):
        origin += [i] * len(fold(char))
    if len(origin) != len(folded):  # "n't" and the like: the one-by-one fold differs
        text, origin = folded, list(range(len(folded)))
    first, last = origin[core.start()], origin[max(core.start(), core.end() - 1)] + 1
    ends = [m.end() for m in _SENTENCE_END.finditer(text) if _starts(text, m.end())]
    start = max([text.rfind("\n", 0, first) + 1, *(e for e in ends if e <= first)])
    stops = [text.find("\n", last), *(e for e in ends if e > last)]
    end = min((i for i in stops if i != -1), default=len(text))
    found = " ".join(text[start:end].split())
    return found if len(found) <= 160 else found[:159] + "…"


def _starts(text: str, at: int) -> bool:
    """Whether a sentence starts at ``at``: a capital or a letter without case (CJK), not
    "14. december", "14. 12." or "1. März"."""
    char = text[at:at + 1]
    if not char:
        return True
    word = _WORD.match(text, at)
    after_number = text[:at].rstrip()[-2:-1].isdigit()
    return char.isalpha() and not char.islower() and not (
        after_number and word is not None and fold(word.group()) in _MONTHS)


#: months written after an ordinal's full stop ("1. März", "14. prosince")
_MONTH_WORDS = """januar februar märz april mai juni juli august september oktober
november dezember marts mars maj desember december ledna února března dubna května června
července srpna září října listopadu prosince"""
_MONTHS = frozenset(_MONTH_WORDS.split())
