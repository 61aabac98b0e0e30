"""Speed tricks in the header decoding: each leans on a private detail of the stdlib.

They only make parsing cheaper; ``headers._HeaderCache`` is where they are used.
Each depends on CPython's ``email`` package internals (checked on 3.11), named
in its docstring or comment:

* ``_Registry`` / ``_REGISTRY``: one shared ``HeaderRegistry`` that builds each
  header class once; relies on ``HeaderRegistry.__getitem__`` building a new
  class with ``type()`` on every call and on ``map_to_type`` being the only
  writer of its undocumented ``registry`` dict.
* ``_SimpleHeader`` / ``_SimpleAddressHeader``: plain ``str`` stand-ins for the
  registry's header objects; rely on ``EmailPolicy.header_fetch_parse``,
  ``header_store_parse`` and the private ``EmailPolicy._fold`` recognising a
  parsed header by duck typing (``hasattr(value, "name")``), and on readers
  taking only ``name``, ``defects``, ``fold`` (and ``addresses``) from it.
* ``_SHARED_MIME``: the header objects of short Content-Type / Content-Disposition
  values (``headers._MIME_FIELDS``), shared between messages; relies on
  ``BaseHeader`` objects never being changed after ``init()`` (their state is in
  private attributes such as ``_parse_tree`` and ``_params``).
* ``_Message``: overrides the private ``email.message.Message._get_params_preserve``,
  through which ``get_param`` and ``get_params`` (so ``get_filename``,
  ``get_boundary``, ``get_content_charset``, ...) split a field.

Kept verbatim in one module so that whether each is worth its coupling can be
measured (and any of them dropped) in one place.
"""

from __future__ import annotations

import re
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from typing import Any


class _Registry(HeaderRegistry):
    """HeaderRegistry that builds each header class once (the stock one builds a new class
    with ``type()`` on every field it parses).

    Depends on ``email.headerregistry.HeaderRegistry.__getitem__`` building a new class
    per call (undocumented), and on ``map_to_type`` being the only writer of the
    undocumented ``registry`` dict behind it (the cache would not see other writes).
    """

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls

    def map_to_type(self, name: str, cls: Any) -> None:
        self._classes.pop(name.lower(), None)
        super().map_to_type(name, cls)


# One registry for every message; see _Registry for the stdlib internal it relies on.
_REGISTRY = _Registry()  # shared: its classes are the same for every message


# Printable ASCII without quotes, parentheses or backslashes: a value nothing in it to decode
# (no encoded-word, quoted string or comment), which reads as itself.
_SIMPLE_VALUE = re.compile(r"^[\x20\x21\x23-\x27\x2a-\x5b\x5d-\x7e]{0,998}$")


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


# Content-Type and Content-Transfer-Encoding values repeat from message to message
# ('text/plain; charset="utf-8"'): their registry objects (read-only) are shared by every
# message, so each distinct short value is parsed once per process, not once per message.
# Depends on email.headerregistry.BaseHeader objects never being changed after their
# init() (their state is in private attributes: _parse_tree, _params, _defects, ...).
_SHARED_MIME: dict[tuple[str, str], Any] = {}
_SHARED_MIME_CHARS = 200
_SHARED_MIME_MAX = 512


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
