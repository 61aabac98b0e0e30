"""Which mail domains name an organisation, and which are public mail providers.

Two addresses at ``acme.se`` are colleagues; two at ``gmail.com`` are strangers
to each other. The repeat-report step (organisation scope) and the colleague
rule of the identify step ask ``organisation`` before treating a shared domain
as a shared company. The shipped list is ``mailgate/data/public_domains.txt``;
the admin adds to it with ``[conversation] public_domains``.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources


@cache
def shipped_public_domains() -> frozenset[str]:
    """The public mail domains shipped in the package (read once)."""
    text = resources.files("mailgate.data").joinpath("public_domains.txt").read_text("utf-8")
    lines = (line.partition("#")[0].strip().lower() for line in text.splitlines())
    return frozenset(line for line in lines if line)


def domain_of(address: str) -> str:
    """The domain of an address, lower case ('' when it has none)."""
    return address.rpartition("@")[2].strip().lower() if "@" in address else ""


def is_public(domain: str, extra: Iterable[str] = ()) -> bool:
    """True for a public mail provider's domain (or a subdomain of one)."""
    domain = domain.lower().rstrip(".")
    known = shipped_public_domains()
    extra_set = {d.lower() for d in extra}
    labels = domain.split(".")
    return any(".".join(labels[i:]) in known or ".".join(labels[i:]) in extra_set
               for i in range(len(labels) - 1))


def organisation(address: str, extra: Iterable[str] = ()) -> str | None:
    """The organisation domain of an address; None for a public provider or no domain."""
    domain = domain_of(address)
    if not domain or "." not in domain or is_public(domain, extra):
        return None
    return domain
