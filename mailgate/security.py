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
- **Engineer reply tokens**: our notifications to engineers ask for replies at
  ``support+sup-000123.<16 letters>@example.com``, an HMAC of the ticket and the
  notified address (an engineer, or the team address). A reply from an engineer
  to that address proves they got our notification: it is one of the proofs an
  engineer's mail needs (``mailgate.identity``). The secret is the configured
  one, else a random one generated once in the state folder.
- **Engineer results**: a DKIM or DMARC pass for the engineer's domain, read
  only from the topmost ``Authentication-Results`` of a trusted authserv-id.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import re
import secrets
from email.message import EmailMessage
from pathlib import Path
from typing import NamedTuple

from mailgate.config import Config
from mailgate.errors import ConfigError
from mailgate.message import header

_TOKEN = re.compile(r"^(?P<base>[^+@]+)\+(?P<prefix>[A-Za-z][A-Za-z0-9]*)-?(?P<number>[0-9]+)"
                    r"\.(?P<token>[a-z2-7]{8})@(?P<domain>.+)$", re.IGNORECASE | re.ASCII)
_ENGINEER_TOKEN = re.compile(r"^[^+@]+\+(?P<prefix>[A-Za-z][A-Za-z0-9]*)-?(?P<number>[0-9]{1,12})"
                             r"\.(?P<token>[a-z2-7]{16})(?:\.g(?P<generation>[0-9]{1,6}))?"
                             r"@[^@]+$", re.IGNORECASE | re.ASCII)
#: The event that retires a ticket's per-engineer reply addresses: their number is the
#: generation the next notification's address carries.
TOKEN_EXPOSED = "reply_token_exposed"
_COMMENT = re.compile(r"\([^()]*\)")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_METHOD = re.compile(r"([A-Za-z][\w-]*)(?:/\d+)?=([A-Za-z]+)")
_PROPERTY = re.compile(r"[A-Za-z][\w-]*\.[A-Za-z][\w.-]*")
SECRET_FILE = "reply-token.secret"
_stored: dict[Path, bytes] = {}


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
        if _authserv(value) not in trusted:
            break  # written before our MTA got the mail: forged or stale, and all below it
        for method, result, _props in results_of(value):
            if method in ("spf", "dkim", "dmarc"):
                results.setdefault(method, result)
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


def _authserv(value: str) -> str:
    """The authserv-id of an ``Authentication-Results`` value ('' for an empty one)."""
    first = value.split(";", 1)[0].strip()
    return first.split()[0].lower() if first else ""


def aligned(domain: str, author_domain: str) -> bool:
    """Is a signing domain the author's domain or a parent of it (relaxed alignment)?"""
    domain, author_domain = domain.lower().rstrip("."), author_domain.lower().rstrip(".")
    return bool(domain) and (author_domain == domain or author_domain.endswith("." + domain))


def trusted_pass(config: Config, msg: EmailMessage, author_domain: str) -> str | None:
    """A DKIM or DMARC pass for ``author_domain`` stamped by our own MTA, or None.

    Read from the top down; only the headers of a trusted authserv-id count, and only
    those above the first header another server wrote (it was there before our MTA got
    the mail). Per method, only the topmost header that reports it counts: a lower header
    claiming ``pass`` under our name was forged or is stale, even when ours says ``none``."""
    trusted = {t.lower() for t in config.security.trusted_authserv_ids}
    try:
        values = [str(v) for v in msg.get_all("Authentication-Results") or []]
    except Exception:
        return None
    decided: set[str] = set()
    for value in values[:20]:
        authserv = _authserv(value)
        if authserv not in trusted:
            break
        reported = set()
        for method, result, props in results_of(value):
            if method not in ("dkim", "dmarc") or method in decided:
                continue
            reported.add(method)  # the topmost header reporting a method decides it (a
            # mail may carry several DKIM signatures: any aligned pass there counts)
            keys = ("header.from",) if method == "dmarc" else ("header.d", "header.i")
            domain = next((v for k, v in props if k in keys), "").rpartition("@")[2]
            ok = aligned(domain, author_domain) if method == "dkim" else \
                domain.lower() == author_domain.lower()
            if ok and result == "pass":
                return f"{method}=pass for {domain} from {authserv}"
        decided |= reported
    return None


def results_of(value: str) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """The results of one ``Authentication-Results`` value as RFC 8601 writes them:
    ``method=result`` opening each ``;``-separated part, then ``ptype.property=value``
    tokens of that part only; comments and quoted strings are no tokens (a HELO name or a
    quoted local part that spells "dkim=pass" is a value, never a result)."""
    text = _QUOTED.sub('""', _COMMENT.sub(" ", value))
    found = []
    for part in text.split(";")[1:]:
        tokens = part.split()
        head = _METHOD.fullmatch(tokens[0]) if tokens else None
        if head is None:
            continue
        props = [(k.lower(), v.strip('"')) for k, _, v in
                 (t.partition("=") for t in tokens[1:]) if _PROPERTY.fullmatch(k)]
        found.append((head[1].lower(), head[2].lower(), props))
    return found


def untrusted_results(config: Config, msg: EmailMessage) -> list[str]:
    """Authserv-ids of ``Authentication-Results`` headers we do not trust (for reasons)."""
    trusted = {t.lower() for t in config.security.trusted_authserv_ids}
    try:
        values = [str(v) for v in msg.get_all("Authentication-Results") or []]
    except Exception:
        return []
    return [a for a in (_authserv(v) for v in values[:20]) if a and a not in trusted]


def _secret(config: Config) -> bytes:
    sec = config.security
    if sec.token_secret_env:
        value = os.environ.get(sec.token_secret_env)
        if not value:
            raise ConfigError(f"security.token_secret_env: ${sec.token_secret_env} is not set")
        return value.encode()
    if sec.token_secret_file:
        return config.path(sec.token_secret_file).read_bytes().strip()
    return stored_secret(config.state_dir / SECRET_FILE)


def stored_secret(path: Path) -> bytes:
    """The random secret kept in ``path``, made (mode 0600) the first time it is needed.

    Several processes may ask at once: each writes a candidate, and the first one linked
    into place is everybody's."""
    found = _stored.get(path)
    if found:
        return found
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        candidate = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_urlsafe(32).encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(candidate, path)
        except FileExistsError:
            pass
        finally:
            candidate.unlink()
    value = path.read_bytes().strip()
    if not value:
        raise ConfigError(f"the reply-token secret {path} is empty")
    _stored[path] = value
    return value


def verifying_secrets(config: Config) -> list[bytes]:
    """The secrets a token may have been made with: the one tokens are made with now, and,
    once the admin configured one, the random secret mailgate made before it (while its
    file ``reply-token.secret`` is in the state folder: delete the file to revoke what it
    signed), so the reply addresses already in engineers' inboxes keep working."""
    current = _secret(config)
    sec = config.security
    if not (sec.token_secret_env or sec.token_secret_file):
        return [current]
    earlier = _earlier_secret(config.state_dir / SECRET_FILE)
    return [current, earlier] if earlier and earlier != current else [current]


def _earlier_secret(path: Path) -> bytes | None:
    """The random secret in ``path``, read again only when the file changed (it is asked
    for every mail that names a reply address: no read of the disk each time)."""
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return None
    return _read_secret(path, stamp)


@functools.lru_cache(maxsize=4)
def _read_secret(path: Path, stamp: int) -> bytes | None:
    try:
        return path.read_bytes().strip() or None
    except OSError:
        return None


def token(config: Config, ticket_id: int, secret: bytes | None = None) -> str:
    digest = hmac.new(secret or _secret(config), f"ticket:{ticket_id}".encode(),
                      hashlib.sha256).digest()
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
        if any(hmac.compare_digest(match["token"], token(config, number, secret))
               for secret in verifying_secrets(config)):
            return number
    return None


def engineer_token(config: Config, ticket_id: int, address: str, generation: int = 0,
                   secret: bytes | None = None) -> str:
    """The per-engineer token: an HMAC of the ticket, the notified address and the
    ticket's token generation (0 until an address was seen going to an outsider)."""
    text = f"engineer:{ticket_id}:{address.strip().lower()}"
    if generation:
        text += f":{generation}"
    digest = hmac.new(secret or _secret(config), text.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:16]


def engineer_reply_address(config: Config, ticket_id: int, reference: str,
                           recipient: str, generation: int = 0) -> str:
    """Where the engineer (or team address) ``recipient`` answers a notification."""
    local, _, domain = config.support_address.rpartition("@")
    token = engineer_token(config, ticket_id, recipient, generation)
    mark = f".g{generation}" if generation else ""
    return f"{local}+{reference.lower()}.{token}{mark}@{domain}"


class EngineerToken(NamedTuple):
    """A valid per-engineer reply address found in a mail: its ticket and generation."""

    ticket: int
    generation: int


def ticket_of_engineer_token(config: Config, sender: str,
                             addresses: list[str]) -> EngineerToken | None:
    """The ticket a per-engineer reply address among ``addresses`` names, if it is valid
    for ``sender`` (or for the team address, which notifies every engineer)."""
    found = engineer_tokens(config, addresses, [sender])
    return found[0] if found else None


def engineer_tokens(config: Config, addresses: list[str],
                    holders: list[str] | None = None) -> list[EngineerToken]:
    """Valid per-engineer reply addresses among ``addresses``, for any of ``holders``
    (default: every engineer) or the team address."""
    holders = [*(holders if holders is not None else config.team.engineers.values()),
               *([config.team.address] if config.team.address else [])]
    found = []
    keys = verifying_secrets(config) if addresses else []
    for address in addresses:
        match = _ENGINEER_TOKEN.match(address.strip().lower())
        if not match or match["prefix"].upper() != config.gateway.reference_prefix \
                or not config.accepts(address):
            continue
        number, generation = int(match["number"]), int(match["generation"] or 0)
        if any(hmac.compare_digest(match["token"],
                                   engineer_token(config, number, h, generation, key))
               for h in holders for key in keys):
            found.append(EngineerToken(number, generation))
    return found


def recipients(msg: EmailMessage, rcpt_tos: list[str]) -> list[str]:
    """Every address the mail was sent to (envelope first, then To/Cc)."""
    found = [r.lower() for r in rcpt_tos]
    for name in ("To", "Cc", "Delivered-To", "X-Original-To"):
        value = header(msg, name)
        found.extend(a.strip("<> ").lower() for a in re.findall(r"[^\s,<>\"]+@[^\s,<>\"]+",
                                                                   value))
    return found


def signed_token(config: Config, purpose: str, secret: bytes | None = None) -> str:
    """An 8-character HMAC of ``purpose`` under the token secret (rating links use it)."""
    digest = hmac.new(secret or _secret(config), purpose.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:8]
