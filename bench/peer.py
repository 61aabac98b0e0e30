"""Section 5: the same mails through Roundup's mail gateway and through mailgate.

Roundup (https://www.roundup-tracker.org) is installed with pip into a
throwaway virtualenv under ``bench/out/roundup-venv`` (made once, reused).
Each run makes a fresh "classic" tracker on the sqlite backend, configured to
do the same work as mailgate: an unknown sender may open an issue by mail
(``Anonymous`` gets ``Email Access``, so the sender becomes a user), and the
author of a new issue gets the notification mail (``messages_to_author =
new``), which Roundup writes to a file instead of sending (``[mail] debug``),
as mailgate's outbox writes ``.eml`` files.

Five ways through, all with the same distinct 4 KB mails:
- ``roundup-mailgw TRACKER < mail``: one process per mail, as an MTA pipes;
- ``roundup-mailgw TRACKER mailbox FILE``: one process for the whole batch;
- ``mailgate ingest -c CONFIG < mail``: one process per mail, no daemon running
  (each stores its mail; a drainer the first one starts processes them: ticket,
  acknowledgement queued); until the spool is drained;
- the same beside a running ``mailgate serve`` (as deployed behind Postfix): ingest
  stores the mail and wakes the daemon, which processes it; until the spool is drained;
- ``mailgate serve`` over SMTP, 8 sessions, until the spool is drained.
"""

from __future__ import annotations

import asyncio
import mailbox
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from load import Mail, make_mail, run_closed
from server import OUT, Mailgate, installed_mailgate

ROUNDUP = "roundup==2.6.0"
VENV = OUT / "roundup-venv"


class Skipped(Exception):
    """The peer cannot be run here; the message says why."""


def ensure_roundup(spec: str = ROUNDUP) -> Path:
    """The ``bin`` folder of a virtualenv with Roundup (created on first use)."""
    bin_dir = VENV / "bin"
    stamp = VENV / "installed.txt"
    if stamp.exists() and stamp.read_text() == spec and (bin_dir / "roundup-mailgw").exists():
        return bin_dir
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True,
                       capture_output=True, timeout=300)
        subprocess.run([str(bin_dir / "pip"), "install", "-q", spec], check=True,
                       capture_output=True, timeout=600)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise Skipped(f"cannot install {spec}: {exc} {detail.decode(errors='replace')[-300:]}"
                      ) from exc
    stamp.write_text(spec)
    return bin_dir


def make_tracker(bin_dir: Path, home: Path) -> None:
    """A fresh classic tracker (sqlite) that accepts mail from unknown senders."""
    admin = str(bin_dir / "roundup-admin")
    run = {"check": True, "capture_output": True, "timeout": 120}
    home.parent.mkdir(parents=True, exist_ok=True)
    options = {"tracker_web": "http://localhost:8917/", "mail_domain": "example.com",
               "mail_host": "localhost", "mail_debug": "sent.mbox",
               "nosy_messages_to_author": "new"}
    subprocess.run([admin, "-i", str(home), "install", "classic", "sqlite",
                    ",".join(f"{k}={v}" for k, v in options.items())], **run)
    text = (home / "config.ini").read_text()
    for line in ("debug = sent.mbox", "messages_to_author = new", "domain = example.com"):
        if f"\n{line}\n" not in text:
            raise Skipped(f"Roundup's install did not set {line!r} in config.ini")
    schema = home / "schema.py"
    line = "#db.security.addPermissionToRole('Anonymous', 'Email Access')"
    if line not in schema.read_text():
        raise Skipped("unexpected Roundup schema.py: no Anonymous Email Access line")
    schema.write_text(schema.read_text().replace(line, line[1:]))
    subprocess.run([admin, "-i", str(home), "initialise", "bench-admin-pw"], **run)


def roundup_counts(bin_dir: Path, home: Path) -> tuple[int, int]:
    """(issues in the tracker, mails it wrote to its debug file)."""
    listing = subprocess.run([str(bin_dir / "roundup-admin"), "-i", str(home), "list", "issue"],
                             check=True, capture_output=True, text=True).stdout
    issues = sum(1 for line in listing.splitlines() if line.strip())
    sent = home / "sent.mbox"
    mails = len(mailbox.mbox(str(sent))) if sent.exists() else 0
    return issues, mails


def peer(work: Path, messages: int, tag: str) -> dict[str, Any]:
    bin_dir = ensure_roundup()
    version = subprocess.run([str(bin_dir / "roundup-mailgw"), "--version"],
                             capture_output=True, text=True).stdout.strip()
    out: dict[str, Any] = {"messages": messages,
                           "roundup": f"roundup {version}" if version else ROUNDUP,
                           "roundup_backend": "sqlite"}
    mails = [make_mail(f"{tag}-p", i) for i in range(messages)]
    mailgw = str(bin_dir / "roundup-mailgw")

    home = work / "roundup-pipe"
    make_tracker(bin_dir, home)
    started = time.perf_counter()
    for mail in mails:
        subprocess.run([mailgw, str(home)], input=mail.data, check=True, capture_output=True,
                       timeout=120)
    seconds = time.perf_counter() - started
    issues, sent = roundup_counts(bin_dir, home)
    out["roundup_pipe_s"] = round(seconds, 2)
    out["roundup_pipe_msgs_per_s"] = round(messages / seconds, 1)
    out["roundup_pipe_issues"], out["roundup_pipe_mails"] = issues, sent

    home = work / "roundup-mbox"
    make_tracker(bin_dir, home)
    spool = work / "incoming.mbox"
    box = mailbox.mbox(str(spool))
    for mail in mails:
        box.add(mail.data.replace(b"\r\n", b"\n"))
    box.close()
    started = time.perf_counter()
    subprocess.run([mailgw, str(home), "mailbox", str(spool)], check=True, capture_output=True,
                   timeout=1800)
    seconds = time.perf_counter() - started
    issues, sent = roundup_counts(bin_dir, home)
    out["roundup_mbox_s"] = round(seconds, 2)
    out["roundup_mbox_msgs_per_s"] = round(messages / seconds, 1)
    out["roundup_mbox_issues"], out["roundup_mbox_mails"] = issues, sent

    # No daemon: each ingest stores its mail; the first starts a drainer that processes the
    # spool while the next ones arrive; the clock stops when all are processed.
    mg = Mailgate(work / "mailgate-ingest", start=False)
    started = time.perf_counter()
    _ingest_each(mg, mails)
    seconds = mg.wait_drained() - started
    counts = mg.counts()
    out["mailgate_ingest_s"] = round(seconds, 2)
    out["mailgate_ingest_msgs_per_s"] = round(messages / seconds, 1)
    out["mailgate_ingest_tickets"] = counts.get("spool_done", 0)
    out["mailgate_ingest_acks"] = counts["outbox"]

    # The deployed pipe setup: Postfix pipes each mail to `mailgate ingest`, which stores it
    # and wakes the running daemon; the clock stops when the daemon has processed them all.
    mg = Mailgate(work / "mailgate-ingest-daemon")
    try:
        started = time.perf_counter()
        _ingest_each(mg, mails)
        drained = mg.wait_drained()
        counts = mg.counts()
        out["mailgate_ingest_daemon_s"] = round(drained - started, 2)
        out["mailgate_ingest_daemon_msgs_per_s"] = round(messages / (drained - started), 1)
        out["mailgate_ingest_daemon_tickets"] = counts.get("spool_done", 0)
        out["mailgate_ingest_daemon_acks"] = counts["outbox"]
    finally:
        mg.stop()
    roundup = out["roundup_pipe_msgs_per_s"]
    out["ingest_vs_roundup_pipe"] = round(out["mailgate_ingest_msgs_per_s"] / roundup, 1)
    out["ingest_daemon_vs_roundup_pipe"] = round(
        out["mailgate_ingest_daemon_msgs_per_s"] / roundup, 1)

    mg = Mailgate(work / "mailgate-smtp")
    try:
        run = asyncio.run(run_closed("127.0.0.1", mg.port, mails, 8))
        drained = mg.wait_drained()
        counts = mg.counts()
        out["mailgate_smtp_s"] = round(drained - run.started, 2)
        out["mailgate_smtp_msgs_per_s"] = round(messages / (drained - run.started), 1)
        out["mailgate_smtp_tickets"] = counts.get("spool_done", 0)
        out["mailgate_smtp_acks"] = counts["outbox"]
    finally:
        mg.stop()
    return out


def _ingest_each(mg: Mailgate, mails: list[Mail]) -> None:
    """Pipe each mail to its own `mailgate ingest` process, as an MTA's pipe transport does."""
    for mail in mails:
        subprocess.run([str(installed_mailgate()), "ingest", "-c", str(mg.config), "-f",
                        mail.mail_from, "-r", mail.rcpt], input=mail.data, check=True,
                       capture_output=True, timeout=120)
