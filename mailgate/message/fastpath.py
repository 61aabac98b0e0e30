"""Speed tricks in the header decoding: plain ``str`` stand-ins for header objects.

They only make parsing cheaper; ``headers._HeaderCache`` (the policy's ``header_factory``,
a documented customisation point) is where they are used. They rest on documented
behaviour of the public ``email.policy.EmailPolicy`` API, not on its internals:
``header_fetch_parse`` and ``header_store_parse`` return "unchanged" a value with a
``name`` attribute, and ``fold``/``fold_binary`` call the ``fold(policy=...)`` method of
such a value ("having a name attribute means it is a header object of some sort"; the
``EmailPolicy`` reference of the library documentation). So:

* ``_SimpleHeader`` / ``_SimpleAddressHeader``: ``str`` values with ``name``, ``defects``,
  ``fold`` (and ``addresses``), which is all our readers take from a header object
  (``headers``, ``inbound``).

Kept because measured worth it (``bench/tricks.py``): the plain-str stand-ins save about
390 us of a 4 KB mail's ~700 us parse (over 10 % of a mail's CPU end to end), and, standing
in for the ASCII values of unstructured fields too (``headers._unstructured``: ``Received``,
``DKIM-Signature``, ``Authentication-Results``, ``X-...``), about 500 us more of a mail with
a real MTA's header block (23 such fields: 1,130-1,400 us -> 650-750 us a parse). Each is
checked against the stock registry's reading by a test (``tests/test_properties.py``), so a
CPython upgrade that changes what they read fails the suite, not production. Dropped after
measuring: a shared class-caching ``HeaderRegistry`` (~35 us a mail). Header objects of
short Content-Type/Content-Disposition values are shared between messages
(``headers._shared_mime_header``), which rests on documented behaviour only (header objects
are read-only), not on this module's.
"""

from __future__ import annotations

import re
from email.headerregistry import Address, HeaderRegistry
from typing import Any

# Printable ASCII without quotes, parentheses or backslashes: a value nothing in it to decode
# (no encoded-word, quoted string or comment) and no space at either end (the registry strips
# those), which reads as itself.
_SIMPLE_VALUE = re.compile(
    r"^(?:[\x21\x23-\x27\x2a-\x5b\x5d-\x7e](?:[\x20\x21\x23-\x27\x2a-\x5b\x5d-\x7e]{0,996}"
    r"[\x21\x23-\x27\x2a-\x5b\x5d-\x7e])?)?$")


class _SimpleHeader(str):
    """A header value that needs no decoding, as the registry's objects present it: a str
    with ``name`` and ``defects`` (and ``fold``, should it be copied into another message).

    Relies on the documented ``EmailPolicy`` behaviour (module docstring): a value with a
    ``name`` attribute is taken as a parsed header; and on nothing of ours reading more.
    """

    name: str
    defects: tuple[()] = ()

    def __new__(cls, name: str, value: str) -> _SimpleHeader:
        self = super().__new__(cls, value)
        self.name = name
        return self

    def fold(self, *, policy: Any) -> str:
        return HeaderRegistry()(self.name, str(self)).fold(policy=policy)


_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
# One mailbox written plainly: "Name Words <local@domain>" or "local@domain", where the name
# is atoms and single spaces and the address a dot-atom at a dotted domain.
_SIMPLE_MAILBOX = re.compile(
    rf"^(?:(?P<name>{_ATEXT}(?: {_ATEXT})*) <(?P<local>{_ATEXT}(?:\.{_ATEXT})*)"
    r"@(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)>"
    rf"|(?P<bare_local>{_ATEXT}(?:\.{_ATEXT})*)@(?P<bare_domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+))$")


class _SimpleAddressHeader(_SimpleHeader):
    """An address field of one plainly written mailbox, as the registry presents it (its
    ``addresses``), without running the address parser (a tenth of a millisecond each).

    Relies on what ``_SimpleHeader`` does, and on our readers using only ``addresses`` of
    an ``email.headerregistry.AddressHeader`` (no ``groups``).
    """

    addresses: tuple[Address, ...]

    @classmethod
    def of(cls, name: str, value: str, match: re.Match[str]) -> _SimpleAddressHeader:
        self = cls(name, value)
        local, domain = match["local"] or match["bare_local"], match["domain"] or \
            match["bare_domain"]
        self.addresses = (Address(display_name=match["name"] or "", username=local,
                                  domain=domain),)
        return self
