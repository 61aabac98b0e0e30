"""Mistakes in the team's addresses that load as valid addresses but lose mail.

Why: ``[team] engineers`` maps short names to addresses, and each address is both where
notifications go and who may answer and command by mail. Two mistakes slip through the
address check of ``fields.Address`` and only show in production:

* **one address under two names** (``bob`` and ``robert`` both ``bob@example.com``): a
  copy-paste slip that leaves the intended second engineer without notifications, and
  ``#assign`` picks a name the team did not mean;
* **a domain without a dot** (``bob@examplecom``, ``team@example``): no such host on the
  internet; every notification to it bounces or sits in the queue. Refused, unless the
  domain is the gateway's own (an address of ``[gateway] addresses`` or one of its
  ``domains``): a test or single-host setup with ``support@localhost`` may have its team
  at ``localhost`` too.

Both are errors of ``check-config`` (and of loading the config: the daemon does not start
with them), naming the keys, like every other config error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def problems(engineers: Mapping[str, str], team_address: str | None,
             gateway_addresses: Iterable[str], gateway_domains: Iterable[str]) -> list[str]:
    """What is wrong with ``[team] address`` and ``[team] engineers`` (addresses lower
    case, as the config model stores them), one line per mistake, keys named."""
    found: list[str] = []
    names: dict[str, list[str]] = {}
    for name, address in engineers.items():
        names.setdefault(address, []).append(name)
    for address, listed in names.items():
        if len(listed) > 1:
            keys = " and ".join(f"team.engineers.{n}" for n in listed)
            found.append(f"{keys}: {address} is listed under {len(listed)} names; one "
                         "address is one engineer (remove or correct the others)")
    own = {a.rpartition("@")[2] for a in gateway_addresses} | {
        d.lower().lstrip("@") for d in gateway_domains}
    checked = [*((f"team.engineers.{n}", a) for n, a in engineers.items()),
               *((("team.address", team_address),) if team_address else ())]
    for key, address in checked:
        domain = address.rpartition("@")[2]
        if "." not in domain.strip(".") and domain not in own:
            found.append(f"{key}: {address}: the domain {domain!r} has no dot, no mail host "
                         "on the internet is named so (a domain without one is accepted only "
                         "when it is the gateway's own, as in support@localhost)")
    return found
