"""Which of a mail's files travel on with the mail we pass it on in.

A customer's files go to the engineers with the notification, an engineer's to
the customers with the relay, within ``[outbound] max_attachment_bytes`` per
mail (in their order; a file that does not fit is skipped, a later smaller one
may still go). Executables and scripts never travel: by name extension, by
content type, or by their first bytes (a Windows or Linux executable renamed
``.pdf``) (``blocked_extensions``, ``blocked_types``), nor a ZIP archive holding
one. What stays behind is listed with its number on the ticket, for ``mailgate attachment REF N``. A
signed mail's signature part (``smime.p7s``) neither travels nor is listed: it
signs the original, which stays stored, not our mail.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

from mailgate.config import Config
from mailgate.message import Attachment

#: A signature part of a signed mail (S/MIME, OpenPGP): it signs the mail it came in, not
#: the mail we pass the text on in, where clients show it as a broken or unknown file.
SIGNATURE_TYPES = frozenset({"application/pkcs7-signature", "application/x-pkcs7-signature",
                             "application/pgp-signature"})
_EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"\xfe\xed\xfa", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe")


@dataclass(frozen=True)
class Listed:
    """One file of the mail, as the templates list it (``files``)."""

    number: int | None  # on the ticket: ``mailgate attachment REF N``
    filename: str
    content_type: str
    size: int
    attached: bool
    why: str = ""  # why it was not attached

    def as_dict(self) -> dict[str, object]:
        return {"number": self.number, "filename": self.filename,
                "content_type": self.content_type, "size": self.size,
                "attached": self.attached, "why": self.why}


@dataclass(frozen=True)
class Selection:
    attached: list[Attachment]
    listed: list[Listed]

    @property
    def withheld(self) -> list[Listed]:
        return [f for f in self.listed if not f.attached]


def blocked(config: Config, attachment: Attachment) -> str | None:
    """Why this file must not be passed on, or None."""
    outbound = config.outbound
    stem, dot, extension = attachment.filename.lower().rpartition(".")
    if dot and stem and extension in outbound.blocked_extensions:
        return f"not passed on: .{extension} files can run code (outbound.blocked_extensions)"
    if attachment.content_type.lower() in outbound.blocked_types:
        return (f"not passed on: {attachment.content_type} can run code "
                "(outbound.blocked_types)")
    if attachment.data.startswith(_EXECUTABLE_MAGIC):
        return "not passed on: the file is a program"
    if attachment.data.startswith(b"PK\x03\x04"):
        inside = _zipped_program(config, attachment.data)
        if inside:
            return f"not passed on: the archive holds {inside}, which can run code"
    return None


MAX_ZIP_NAMES = 10_000  # names read from an archive's directory (no file is unpacked)


def _zipped_program(config: Config, data: bytes) -> str | None:
    """The first name in a ZIP archive (one level deep) that ``blocked`` would refuse by its
    extension, else None: a zipped ``.exe`` is the oldest way past an extension list. Only
    the archive's directory is read; an archive that cannot be read passes (its bytes are
    no program by themselves)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [info.filename for _, info in zip(range(MAX_ZIP_NAMES),
                                                       archive.infolist(), strict=False)]
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError):
        return None
    blocked_ext = config.outbound.blocked_extensions
    for name in names:
        stem, dot, extension = name.rsplit("/", 1)[-1].lower().rpartition(".")
        if dot and stem and extension in blocked_ext:
            return name
    return None


def select(config: Config, attachments: Sequence[Attachment],
           numbers: Sequence[int | None] = ()) -> Selection:
    """The files to attach and the list of all of them (``numbers``: on the ticket)."""
    room = config.outbound.max_attachment_bytes
    attached: list[Attachment] = []
    listed: list[Listed] = []
    for i, attachment in enumerate(attachments):
        if attachment.content_type.lower() in SIGNATURE_TYPES \
                or attachment.filename.lower() in ("smime.p7s", "signature.asc"):
            continue  # stored with the mail, never passed on nor listed
        number = numbers[i] if i < len(numbers) else None
        size = len(attachment.data)
        why = blocked(config, attachment)
        if why is None and size > room:
            why = (f"not attached: over outbound.max_attachment_bytes "
                   f"({config.outbound.max_attachment_bytes} bytes per mail)")
        if why is None:
            attached.append(attachment)
            room -= size
        listed.append(Listed(number, attachment.filename, attachment.content_type, size,
                             why is None, why or ""))
    return Selection(attached, listed)
