"""Take the files out of a composed mail that the smarthost refused as too large.

A mail that carries files (``multipart/mixed``: the text first, then one part per file,
as ``compose`` builds it) may exceed the smarthost's size limit once base64 has grown its
files by a third. The sender then sends it once more with the files replaced by a short
list of what stayed behind, so the text still arrives. The headers and the text part are
kept byte for byte; only the file parts are dropped.
"""

from __future__ import annotations

import email
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, MIMEPart


@dataclass(frozen=True)
class Trimmed:
    raw: bytes
    files: list[str]  # "name (N bytes)" of each file left out


def without_files(raw: bytes, why: str) -> Trimmed | None:
    """``raw`` without its file parts and with a note listing them (``why`` they are not
    attached); None when it has no files to take out."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    boundary = msg.get_boundary()
    if msg.get_content_type() != "multipart/mixed" or not boundary:
        return None
    files = list(msg.iter_parts())[1:]
    head_end = raw.find(b"\r\n\r\n")
    delimiter = b"--" + boundary.encode("ascii", "replace")
    segments = raw[head_end + 4:].split(delimiter) if head_end >= 0 else []
    if not files or len(segments) != len(files) + 3:  # preamble, text, files, closing
        return None
    listed = [f"{part.get_filename() or 'attachment'} "
              f"({len(part.get_payload(decode=True) or b'')} bytes)" for part in files]
    note = MIMEPart(policy=policy.SMTP)
    note.set_content(
        "Not attached: the files below made this mail larger than our mail server accepts"
        f" ({why}). They are kept with the ticket.\n\n"
        + "".join(f"  - {name}\n" for name in listed), disposition="inline")
    body = (segments[0] + delimiter + segments[1] + delimiter + b"\r\n" + note.as_bytes()
            + b"\r\n" + delimiter + b"--\r\n")
    return Trimmed(raw[:head_end + 4] + body, listed)
