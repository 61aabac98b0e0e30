"""Which numbers of a mail name the *context* of a request (an order, a booking, a course, a
store, an account) rather than a fault.

The repeat comparison (``mailgate.repeats``) counts a shared error code, two shared
identifiers, or a subject naming the first mail's identifier as strong evidence that two
mails report one problem. A customer's order number, a hotel booking, a course code or a
store number is shared by every mail about that order, booking, course or store: the
double charge and the broken lamp of order 100482, the grade export and the Turnitin
submissions of module PSY2041 (the twelfth session's blind part: all five false merges
rested on such a number). A number the mail introduces by such a noun ("my order 100482",
"Reserva CB-30991", "for store 017", "mijn bestelling 20417") stays a distinctive term and
still ties two reports of one fault of that order (the same identifier with the same
symptom, or a follow-up), never on its own.
"""

from __future__ import annotations

import re

#: Nouns that introduce the context of a request, in the languages of the comparison
#: (en, de, nl, sv, ru, fr, es), it, pt, pl and (customers, contracts, models) da, nb, fi,
#: cs, uk, tr.
_NOUNS = (
    "order|orders|order number|booking|reservation|module|course|store|shop|branch|"
    "account|invoice|contract|customer number|customer no|purchase order|"
    "bestellung|bestellnummer|auftrag|auftragsnummer|rechnung|rechnungsnummer|"
    "kundennummer|buchung|buchungsnummer|filiale|vertrag|kurs|konto|"
    "bestelling|bestelnummer|boeking|reservering|factuur|klantnummer|winkel|vestiging|"
    "order|beställning|ordernummer|bokning|faktura|kundnummer|butik|kurs|"
    "заказ|заказа|заказу|бронь|брони|бронирование|счёт|счет|договор|курс|магазин|филиал|"
    "commande|réservation|facture|contrat|compte|magasin|cours|"
    "pedido|reserva|factura|contrato|cuenta|tienda|sucursal|curso|"
    "ordine|prenotazione|fattura|contratto|conto|negozio|filiale|corso|"
    "encomenda|fatura|loja|"
    "zamówienie|zamówienia|rezerwacja|rezerwacji|faktura|umowa|sklep|oddział|"
    # the customer's own account or contract and a device's model (thirteenth session: 8 of
    # the 12 false merges of the retired blind part tune15 rested on "Customer 5580331",
    # "Cliente 5501228", "avtal FTG-11287", "계약번호 BZ-88102", "合同号 ZX-20931", "Model
    # HX-3100": one customer's two matters share them)
    "customer|customer id|client|client number|subscriber|account number|member|"
    "model|device model|"
    "kunde|kundennr|vertragsnummer|modell|"
    "klant|klantnr|contractnummer|abonnee|"
    "kund|kundnr|avtal|avtalsnummer|abonnemang|avtale|avtalenummer|kundenummer|aftale|"
    "asiakas|asiakasnumero|sopimus|sopimusnumero|malli|"
    "klient|numer klienta|abonent|umowy|"
    "zákazník|číslo zákazníka|smlouva|"
    "клиент|лицевой счёт|лицевой счет|абонент|модель|"
    "клієнт|договір|абонент|"
    "müşteri|müşteri no|sözleşme|abone|"
    "numéro client|abonné|modèle|"
    "cliente|número de cliente|abonado|modelo|"
    "codice cliente|abbonato|modello|"
    "nº de cliente|assinante")
_NOUN_SET = frozenset(_NOUNS.split("|"))
#: the same nouns in languages written without spaces: a word that ends with one of them
#: ("企业专线合同", "계약번호", "お客様番号") introduces the number after it
_CJK_NOUNS = (
    "合同号", "合同编号", "合同", "客户号", "客户编号", "客户", "订单号", "订单", "账号", "型号",
    "契約番号", "契約", "お客様番号", "顧客番号", "注文番号", "型番",
    "계약번호", "계약", "고객번호", "주문번호", "모델")
#: a candidate number: up to five letters, an optional dash, a digit and more ("CB-30991",
#: "PSY2041", "100482"); found first, then the words before it are looked at (a regex
#: trying every noun at every position cost ~1 ms on a 4 KB mail)
_NUMBER = re.compile(r"(?<![\w-])([^\W_]{0,5}-?\d[\w-]{1,20})")
#: what may stand between the noun and the number: "no.", "nr", "n°", "number", "#", ":"
_BETWEEN = frozenset({"no", "no.", "nr", "nr.", "n°", "nº", "number", "nummer", "#", ":"})


def context_ids(text: str) -> frozenset[str]:
    """The numbers (lower case, as the comparison's terms) that ``text`` introduces by a
    noun of context: "order 100482", "Reserva CB-30991", "module PSY2041"."""
    text = text[:20_000]
    found = set()
    for match in _NUMBER.finditer(text):
        if not any(c.isdigit() for c in match.group(1)):
            continue
        words = text[max(0, match.start() - 60):match.start()].casefold().split()[-4:]
        words = [w.strip(",;()[]\"'«»„“”") for w in words]
        while words and words[-1].rstrip(":") in _BETWEEN | {""}:
            words.pop()
        if words:
            words[-1] = words[-1].rstrip(":")
        if words and (words[-1] in _NOUN_SET or " ".join(words[-2:]) in _NOUN_SET
                      or words[-1].rstrip("：:").endswith(_CJK_NOUNS)):
            found.add(match.group(1).casefold().strip(".:/-"))
    return frozenset(found)
