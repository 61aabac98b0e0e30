"""Speed tricks in the header decoding: each leans on a private detail of the stdlib.

They only make parsing cheaper; ``headers._HeaderCache`` is where they are used.
Each depends on CPython's ``email`` package internals (checked on 3.11), named
in its docstring or comment:

* ``_SimpleHeader`` / ``_SimpleAddressHeader``: plain ``str`` stand-ins for the
  registry's header objects; rely on ``EmailPolicy.header_fetch_parse``,
  ``header_store_parse`` and the private ``EmailPolicy._fold`` recognising a
  parsed header by duck typing (``hasattr(value, "name")``), and on readers
  taking only ``name``, ``defects``, ``fold`` (and ``addresses``) from it.
* ``_Message``: overrides the private ``email.message.Message._get_params_preserve``,
  through which ``get_param`` and ``get_params`` (so ``get_filename``,
  ``get_boundary``, ``get_content_charset``, ...) split a field.

Kept because measured worth their coupling (``bench/tricks.py``): the plain-str
stand-ins save about 390 us of a 4 KB mail's ~700 us parse (over 10 % of a mail's
CPU end to end), and, standing in for the ASCII values of unstructured fields too
(``headers._unstructured``: ``Received``, ``DKIM-Signature``, ``Authentication-Results``,
``X-...``), about 500 us more of a mail with a real MTA's header block (23 such fields:
1,130-1,400 us -> 650-750 us a parse); ``_Message`` bounds hostile input (quadratic
splitting), which is not a speed trick. Each is checked against the stock behaviour by a test
(``tests/test_properties.py``, ``tests/test_hostile.py``), so a CPython upgrade that
changes what they rely on fails the suite, not production. Dropped after measuring:
a shared class-caching ``HeaderRegistry`` (~35 us a mail) and header objects of
short Content-Type values shared between messages (~110 us): below 5 %.
"""

from __future__ import annotations

import re
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
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

    Depends on ``email.policy.EmailPolicy.header_fetch_parse``/``header_store_parse`` and
    the private ``EmailPolicy._fold`` taking any value with a ``name`` attribute as an
    already parsed header (``hasattr(value, "name")``), and on nothing reading more of it.
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

    Depends on the same ``hasattr(value, "name")`` duck typing as ``_SimpleHeader``, and
    on readers using only ``addresses`` of an ``email.headerregistry.AddressHeader`` (no
    ``groups``).
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


class _Message(EmailMessage):
    """EmailMessage that splits its MIME parameters once per field value.

    ``Message.get_param`` (charset, filename, boundary, ...) re-splits the whole
    field on every call, quadratically in the number of quotes and semicolons.

    Depends on the private ``email.message.Message._get_params_preserve(failobj, header)``
    being what ``get_param`` and ``get_params`` (so ``get_filename``, ``get_boundary``,
    ``get_content_charset``, ...) call to split a field.
    """

    def _get_params_preserve(self, failobj: Any, header: str) -> Any:
        value = self.get(header, None)
        if value is None:
            return failobj
        cache = self.__dict__.setdefault("_mailgate_params", {})
        key = (header.lower(), str(value))
        if key not in cache:
            cache[key] = super()._get_params_preserve(failobj, header)  # type: ignore[misc]
        return cache[key]
