"""Who wrote a mail, as far as trust goes: the proof an engineer gives, the forgeries refused.

Anyone can write ``From: alice@desk``. An engineer's mail acts as an
engineer's (relayed to the customer, its ``#commands`` obeyed, the first
response met) only with one of these proofs:

- a DKIM or DMARC pass for the engineer's domain in an ``Authentication-Results``
  header of our own MTA (``[security] trusted_authserv_ids``, ``security.trusted_pass``);
- a DKIM signature of the engineer's domain that mailgate verifies itself
  (``[security] verify_dkim``, with dkimpy; its DNS lookup is ``dns_lookup``);
- the per-engineer reply token of our notification (``security.engineer_reply_address``);
- or the admin's explicit, unsafe ``[security] trust_from_header = true``.

Forgeries (``spoof``) are refused whoever they claim to be: a desk or engineer
address only in the display name, several ``From`` headers, ``Sender``
differing from an engineer's ``From``, an obsolete route address
(``<@evil.example:alice@desk>``), a look-alike (IDN homoglyph) of the desk's
or an engineer's domain.

Store-free, worked out once per message before the write transaction (a DNS
lookup may take seconds).
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING

from mailgate import security
from mailgate.config import Config
from mailgate.message import Inbound, header

if TYPE_CHECKING:
    import dkim

DnsLookup = Callable[..., bytes | None]
# The DKIM key lookup: None is dkimpy's own (dnspython). Tests put a local key here.
dns_lookup: DnsLookup | None = None

MAX_SIGNATURES = 3
TOKEN_PROOF = "the per-engineer reply address"
_ADDRESS_IN_NAME = re.compile(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+")
_ROUTE = re.compile(r"<\s*@[^<>]*:")
# Latin look-alikes of other scripts' letters (the common ones of Unicode's confusables):
# Cyrillic, Greek, and a few Latin letters that are not ASCII.
_LOOKALIKE = str.maketrans({
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d", "ӏ": "l", "ԛ": "q",
    "ԝ": "w", "ɡ": "g", "ь": "b", "һ": "h", "ո": "n", "ս": "u", "α": "a", "β": "b",
    "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ħ": "h",
})


@dataclass(frozen=True)
class Identity:
    """What the mail proves about its author, and any forgery found in it."""

    proof: str | None = None  # how an engineer's From is proven (None: not proven)
    spoof: str | None = None  # a forgery: the mail is held
    token_ticket: int | None = None  # the ticket a per-engineer reply token names
    token_generation: int = 0  # and the generation of that token (identify checks it)
    untrusted: tuple[str, ...] = ()  # authserv-ids of Authentication-Results ignored


def examine(config: Config, inbound: Inbound, rcpt_tos: list[str]) -> Identity:
    """The proof and the forgeries of one mail (``rcpt_tos``: its envelope recipients)."""
    msg, sender = inbound.msg, inbound.from_addr
    spoof = forgery(config, inbound)
    if not config.team.is_engineer(sender):
        return Identity(spoof=spoof)
    token = security.ticket_of_engineer_token(config, sender,
                                              security.recipients(msg, rcpt_tos))
    domain = sender.rpartition("@")[2]
    proof = security.trusted_pass(config, msg, domain)
    if proof is None and token is not None:
        proof = TOKEN_PROOF
    if proof is None and config.security.verify_dkim:
        proof = verified_dkim(msg, inbound.raw, domain)
    if proof is None and config.security.trust_from_header:
        proof = "the From header (security.trust_from_header, unsafe)"
    return Identity(proof, spoof, token.ticket if token else None,
                    token.generation if token else 0,
                    tuple(security.untrusted_results(config, msg)))


def config_warnings(config: Config) -> list[str]:
    """What ``check-config`` says about how engineers are believed."""
    sec, found = config.security, []
    if sec.trust_from_header:
        found.append("security.trust_from_header = true is UNSAFE: anyone who writes an "
                     "engineer's address in From is relayed to customers and commands tickets")
    elif not sec.trusted_authserv_ids and (config.team.engineers or config.team.domains):
        how = "a DKIM signature mailgate verifies (security.verify_dkim) or" \
            if sec.verify_dkim else "nothing but"
        found.append("no proof of engineers configured: security.trusted_authserv_ids is "
                     f"empty, so an engineer's reply is believed by {how} its being sent to "
                     "the per-engineer reply address of a notification; set "
                     "trusted_authserv_ids to your MTA's authserv-id (see README, Security)")
    if config.store.backend == "postgresql" and not (sec.token_secret_env
                                                     or sec.token_secret_file):
        found.append("no security.token_secret_env/token_secret_file: each node generates "
                     f"its own reply-token secret ({security.SECRET_FILE} in its state "
                     "folder); give every node the same secret")
    return found


def forgery(config: Config, inbound: Inbound) -> str | None:
    """Why the author's address is forged, or None."""
    msg, sender = inbound.msg, inbound.from_addr
    froms: list[str] = []
    senders: list[str] = []
    for name, value in msg.raw_items():  # one pass over the header
        lower = name.lower()
        if lower in ("from", "sender"):
            (froms if lower == "from" else senders).append(str(value))
    if len(froms) > 1:
        return "several From headers"
    raw_from = froms[0] if froms else ""
    if _ROUTE.search(raw_from) or _ROUTE.search(" ".join(senders)):
        return "a route address (<@host:address>) in From or Sender"
    # as written and as decoded: an RFC 2047 encoded display name hides it from the first
    names = f"{_display_part(raw_from)} {inbound.from_name or ''}"
    for found in _ADDRESS_IN_NAME.findall(names) if "@" in names else ():
        claimed = found.strip(".").lower()
        if claimed != sender and _protected_address(config, claimed):
            return f"the display name claims {claimed} but the address is {sender or 'none'}"
    if config.team.is_engineer(sender):
        other = _sender_address(msg)
        if other and other != sender:
            return f"Sender {other} differs from the engineer's From {sender}"
        odd = _ambiguous_header(inbound.raw, msg)
        if odd:
            return odd
    look_alike = homoglyph(config, sender.rpartition("@")[2])
    if look_alike:
        return f"{sender.rpartition('@')[2]} imitates {look_alike}"
    return None


_BARE_CR = re.compile(rb"\r(?!\n)")
# fields a message has at most once (RFC 5322 3.6): two copies let a signature cover one
# while mailgate reads the other (a replayed signed mail with a Subject or Cc put on top)
_SINGLE = ("subject", "to", "cc", "date", "message-id", "in-reply-to", "references",
           "reply-to", "sender")


def _ambiguous_header(raw: bytes, msg: EmailMessage) -> str | None:
    """Why the header of an engineer's mail could be read two ways, or None: a bare CR
    (Python's parser ends a line there, DKIM verifiers and MTAs do not) or a second copy
    of a field that may appear once."""
    end = min((i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0),
              default=len(raw))
    if _BARE_CR.search(raw[:end]):
        return "a bare CR inside the header (it would be read as two different headers)"
    seen: set[str] = set()
    for name, _value in msg.raw_items():
        lower = name.lower()
        if lower in _SINGLE:
            if lower in seen:
                return f"two {name} headers (a field that may appear only once)"
            seen.add(lower)
    return None


def homoglyph(config: Config, domain: str) -> str | None:
    """The desk's or an engineer's domain that ``domain`` imitates, or None."""
    shown = _unicode(domain)
    if shown.isascii():
        return None
    shape = _skeleton(shown)
    for own in protected_domains(config):
        if own != shown and _skeleton(own) == shape:
            return own
    return None


def protected_domains(config: Config) -> set[str]:
    """The desk's and the engineers' domains: the ones a forger imitates."""
    found = {a.rpartition("@")[2] for a in [*config.gateway.addresses, config.support_address,
                                            *config.team.engineers.values()]}
    found.update(config.gateway.domains, config.team.domains)
    if config.team.address:
        found.add(config.team.address.rpartition("@")[2])
    return {d.lower() for d in found if d}


def verified_dkim(msg: EmailMessage, raw: bytes, domain: str) -> str | None:
    """A valid DKIM signature of ``domain`` (or a parent) over the From header, checked by
    mailgate itself; None when there is none (or the key cannot be fetched)."""
    if b"dkim-signature" not in raw[:65536].lower():
        return None
    # dkimpy (and dnspython under it: ~30 ms) is imported by the processes that verify
    import dkim

    try:
        verifier = dkim.DKIM(raw, minkey=1024, timeout=5)
        signatures = _all(msg, "DKIM-Signature")[:MAX_SIGNATURES]
        for index, value in enumerate(signatures):
            fields = dkim.parse_tag_value(re.sub(r"\s+", "", value).encode())
            signer = fields.get(b"d", b"").decode("ascii", "replace")
            signed = [h.strip().lower() for h in fields.get(b"h", b"").split(b":")]
            if not security.aligned(signer, domain) or b"l" in fields or b"from" not in signed:
                continue  # another domain's, or a body-length limit (text may be added)
            ok = verifier.verify(idx=index, dnsfunc=dns_lookup) if dns_lookup else \
                verifier.verify(idx=index)
            if ok and _covers(verifier, msg, domain):
                return f"a DKIM signature of {signer} verified by mailgate"
    except Exception:  # a malformed signature or a failed lookup proves nothing
        return None
    return None


# the fields an engineer's mail acts through besides From: threading and recipients
_MUST_SIGN = ("subject", "cc", "in-reply-to", "references")


def _covers(verifier: dkim.DKIM, msg: EmailMessage, domain: str) -> bool:
    """What dkimpy itself verified (not what mailgate's parser numbered) is a signature of
    ``domain`` over From and over every threading or Cc field the mail has: a signed mail
    replayed with a Subject or Cc of the attacker's on top proves nothing."""
    signer = (verifier.domain or b"").decode("ascii", "replace")
    signed = {bytes(h).lower() for h in verifier.include_headers}
    present = {name.lower() for name, _value in msg.raw_items()}
    return security.aligned(signer, domain) and b"from" in signed and all(
        name.encode() in signed for name in _MUST_SIGN if name in present)


def _all(msg: EmailMessage, name: str) -> list[str]:
    """The raw (unparsed) values of every ``name`` header."""
    return [str(v) for k, v in msg.raw_items() if k.lower() == name.lower()]


def _display_part(value: str) -> str:
    """The From header without its angle-bracket address: the display name (and comments)."""
    return re.sub(r"<[^<>]*>\s*$", " ", value)


def _protected_address(config: Config, address: str) -> bool:
    return config.team.is_engineer(address) or config.accepts(address) \
        or address == (config.team.address or "")


def _sender_address(msg: EmailMessage) -> str:
    value = header(msg, "Sender")
    found = re.search(r"[^\s<>\"]+@[^\s<>\"]+", value)
    return found[0].lower() if found else ""


def _unicode(domain: str) -> str:
    """A domain as shown to people: punycode labels (``xn--``) decoded."""
    labels = []
    for label in domain.lower().split("."):
        if label.startswith("xn--"):
            with contextlib.suppress(UnicodeError, ValueError):
                label = label.encode("ascii").decode("idna")
        labels.append(label)
    return ".".join(labels)


def _skeleton(domain: str) -> str:
    """What a domain looks like: compatibility forms folded, accents dropped, other
    scripts' look-alike letters read as the Latin letters they imitate."""
    folded = unicodedata.normalize("NFKD", domain.casefold().translate(_LOOKALIKE))
    return "".join(c for c in folded if not unicodedata.combining(c)).translate(_LOOKALIKE)
