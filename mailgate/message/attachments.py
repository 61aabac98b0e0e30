"""Attachments as stored: the bytes, a content type and a file name safe anywhere.

The file name comes from the sender, so it is reduced to something that can
be shown and written on any system without a path, device name or hidden
characters.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from mailgate.message.text import clean_text

_UNSAFE_FILENAME = re.compile(r'[/\\:*?"<>|]')
_WINDOWS_DEVICE = re.compile(r"^(?:con|prn|aux|nul|com\d|lpt\d)(?:\..*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes
    # an inline part (a screenshot in the text) and its ``<Content-ID>`` (plain ASCII
    # token or None), so mail that passes it on keeps it inline and its ``cid:`` working
    content_id: str | None = None
    inline: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def safe_filename(name: str) -> str:
    """A file name safe to show and to write on any system.

    No directory part or separator look-alike (NFKC folds fullwidth slashes),
    no control, bidi or invisible characters, no Windows-reserved characters or
    device names, at most 200 bytes of UTF-8 (the extension is kept).
    """
    name = clean_text(unicodedata.normalize("NFKC", str(name)[:4096]), 4096)
    name = _UNSAFE_FILENAME.sub("_", name).strip(". ")
    if _WINDOWS_DEVICE.match(name):
        name = "_" + name
    if len(name.encode("utf-8")) > 200:
        stem, dot, ext = name.rpartition(".")
        if not dot or len(ext) > 16:
            stem, dot, ext = name, "", ""
        room = 200 - len(ext.encode("utf-8")) - len(dot)
        stem = stem.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip(". ")
        name = f"{stem}{dot}{ext}"
    return name or "attachment"
