"""Spam and authentication policy, and per-ticket reply tokens.

- **Spam**: the upstream filter's verdict (``X-Spam-Flag: YES``,
  ``X-Spam-Status: Yes``, or the admin's own header rules) quarantines the
  mail: no ticket, no acknowledgement, so no backscatter to forged senders.
- **Authentication**: ``Authentication-Results`` headers are believed only
  from the admin's trusted ``authserv-id`` (anyone can write that header; only
  the receiving MTA's own is evidence). The policy can quarantine mail whose
  SPF/DKIM/DMARC failed, and can require a pass before email commands count.
- **Reply tokens**: with ``reply_tokens``, our mail asks for replies at
  ``support+SUP-000123.k3j9xq2m@example.com``: an HMAC of the ticket number
  under the admin's secret. A reply to that address proves its sender
  received our mail, so it joins the ticket as a participant; a stranger who
  merely guesses a ticket number cannot.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from email.message import EmailMessage

from mailgate.config import Config
from mailgate.errors import ConfigError
from mailgate.message import header

_RESULT = re.compile(r"\b(spf|dkim|dmarc)\s*=\s*([a-z]+)", re.IGNORECASE)
_TOKEN = re.compile(r"^(?P<base>[^+@]+)\+(?P<prefix>[A-Za-z][A-Za-z0-9]*)-?(?P<number>\d+)"
                    r"\.(?P<token>[a-z2-7]{8})@(?P<domain>.+)$", re.IGNORECASE)


def spam_reason(config: Config, msg: EmailMessage) -> str | None:
    """Why the upstream filter says this is spam, or None."""
    for rule in config.security.spam_headers:
        name, _, value = rule.partition(":")
        try:
            values = [str(v) for v in msg.get_all(name.strip()) or []]
        except Exception:
            continue
        wanted = value.strip().lower()
        for found in values:
            if found.strip().lower().startswith(wanted):
                return f"spam by upstream filter: {name.strip()}: {found.strip()[:80]}"
    return None


def auth_results(config: Config, msg: EmailMessage) -> dict[str, str]:
    """SPF/DKIM/DMARC results stamped by a trusted authserv-id (first result wins)."""
    trusted = {t.lower() for t in config.security.trusted_authserv_ids}
    results: dict[str, str] = {}
    try:
        values = [str(v) for v in msg.get_all("Authentication-Results") or []]
    except Exception:
        return results
    for value in values[:20]:
        authserv = value.split(";", 1)[0].strip().split()[0].lower() if value.strip() else ""
        if authserv not in trusted:
            continue
        for method, result in _RESULT.findall(value):
            results.setdefault(method.lower(), result.lower())
    return results


def auth_failure(config: Config, msg: EmailMessage) -> str | None:
    """Why the mail fails the admin's authentication policy, or None."""
    required = config.security.require_auth
    if not required:
        return None
    results = auth_results(config, msg)
    failed = [f"{m}={results.get(m, 'none')}" for m in required
              if results.get(m) in ("fail", "softfail", "permerror")]
    return f"authentication failed: {', '.join(failed)}" if failed else None


def authenticated(config: Config, msg: EmailMessage) -> bool:
    """True when a trusted server saw DKIM or SPF pass (for email commands)."""
    results = auth_results(config, msg)
    return results.get("dkim") == "pass" or results.get("spf") == "pass"


def _secret(config: Config) -> bytes:
    sec = config.security
    if sec.token_secret_env:
        value = os.environ.get(sec.token_secret_env)
        if not value:
            raise ConfigError(f"security.token_secret_env: ${sec.token_secret_env} is not set")
        return value.encode()
    if sec.token_secret_file:
        return config.path(sec.token_secret_file).read_bytes().strip()
    raise ConfigError("security.reply_tokens needs token_secret_env or token_secret_file")


def token(config: Config, ticket_id: int) -> str:
    digest = hmac.new(_secret(config), f"ticket:{ticket_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:8]


def reply_address(config: Config, ticket_id: int, reference: str) -> str:
    """The per-ticket reply address, or the plain support address without tokens."""
    support = config.support_address
    if not config.security.reply_tokens:
        return support
    local, _, domain = support.rpartition("@")
    return f"{local}+{reference.lower()}.{token(config, ticket_id)}@{domain}"


def ticket_of_token(config: Config, addresses: list[str]) -> int | None:
    """The ticket a valid reply-token address among ``addresses`` names, else None."""
    if not config.security.reply_tokens:
        return None
    for address in addresses:
        match = _TOKEN.match(address.strip().lower())
        if not match or match["prefix"].upper() != config.gateway.reference_prefix:
            continue
        number = int(match["number"])
        if hmac.compare_digest(match["token"], token(config, number)):
            return number
    return None


def recipients(msg: EmailMessage, rcpt_tos: list[str]) -> list[str]:
    """Every address the mail was sent to (envelope first, then To/Cc)."""
    found = [r.lower() for r in rcpt_tos]
    for name in ("To", "Cc", "Delivered-To", "X-Original-To"):
        value = header(msg, name)
        found.extend(a.strip("<> ").lower() for a in re.findall(r"[^\s,<>\"]+@[^\s,<>\"]+",
                                                                   value))
    return found


def signed_token(config: Config, purpose: str) -> str:
    """An 8-character HMAC of ``purpose`` under the token secret (rating links use it)."""
    digest = hmac.new(_secret(config), purpose.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:8]
