"""Who wrote a mail that a web form or a group relayed: the person in ``Reply-To``.

Contact forms (WordPress, shop systems) send ``From: Website <wordpress@shop>`` or
``<noreply@shop>`` with ``Reply-To: <the visitor>``; Google Groups send ``From: "'Jane
Doe' via IT" <it@customer>`` with ``Reply-To`` and ``X-Original-Sender: jane@customer``.
Answered as written, the engineer's reply would go to the form (or nowhere) and a
``noreply`` form would be filed as automatic mail that nobody is told of. Such a mail's
author is the one address in ``Reply-To`` when ``From`` is a form or robot address (or the
group's post names the same person in ``X-Original-Sender``): the ticket's requester and
the one the relays go to. Never an address of ours or an engineer's: a ``Reply-To`` is as
easy to forge as a ``From``, and must not make anyone an engineer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailgate.autoreply import is_robot_address
from mailgate.config import Config
from mailgate.message import Inbound, header

#: local parts of the addresses web forms and shop systems send from
_FORM_LOCAL = re.compile(
    r"^(?:wordpress|wp|www-?data|apache|nginx|httpd|webmaster|website|web|webform|forms?|"
    r"contact[-_.]?form|contactform|kontakt[-_.]?formular|formulaire|formulario|modulo|"
    r"typo3|joomla|drupal|shopify|webshop|shop[-_.]?system|wix|squarespace|jotform|"
    r"typeform|formspree|hubspot|notifications?)(?:$|[._+=\d-])", re.IGNORECASE)


@dataclass(frozen=True)
class Relayed:
    """The author of a relayed mail and why: ``via`` is the relaying ``From`` address."""

    address: str
    name: str | None
    via: str
    why: str


def relayed_author(config: Config, inbound: Inbound, *, from_list: bool) -> Relayed | None:
    """The person a form or group relayed ``inbound`` for, or None (see the module
    docstring); ``from_list``: the mail came through a mailing list or group."""
    if len(inbound.reply_to) != 1:
        return None
    name, address = inbound.reply_to[0]
    address, sender = address.lower(), (inbound.from_addr or "").lower()
    if not address or not sender or address == sender or config.accepts(address) \
            or config.team.is_engineer(address) or is_robot_address(address):
        return None
    if from_list and header(inbound.msg, "X-Original-Sender").strip().lower() == address:
        return Relayed(address, name or None, sender,
                       f"{address} posted it through the group {sender} (X-Original-Sender"
                       ", Reply-To)")
    if is_robot_address(sender) or _FORM_LOCAL.search(sender.rpartition("@")[0]):
        return Relayed(address, name or None, sender,
                       f"{address} wrote it through the form {sender} (Reply-To)")
    return None
