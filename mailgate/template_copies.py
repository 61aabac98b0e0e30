"""An admin's copy of the packaged templates, after an upgrade: which files are an older
packaged version nobody edited, so the new one can be copied over them.

``mailgate init`` copies the packaged templates into the desk's folder; an upgrade
improves the packaged ones (a notice that names the first-response due time, say) but never
touches the copy, which keeps being used. ``template-history.json`` (written by
``tools/template_history.py``) lists the SHA-256 of every version each packaged template
ever had: a copy whose bytes are one of them, but not the current one, was not edited by
the admin and is stale. ``check-config`` warns of those; ``mailgate templates update``
copies the current version over them. An edited copy is the admin's: never overwritten,
never warned of (mailgate cannot tell an edit from an old version it does not know).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from mailgate.defaults import TEMPLATE_HISTORY, TEMPLATES


@cache
def shipped_history() -> dict[str, frozenset[str]]:
    """Template file name -> the SHA-256 of every version it was shipped in."""
    try:
        data = json.loads(TEMPLATE_HISTORY.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {name: frozenset(hashes) for name, hashes in data.items()}


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def stale_copies(folder: Path, history: Mapping[str, frozenset[str]] | None = None,
                 packaged: Path = TEMPLATES) -> list[str]:
    """The file names in ``folder`` that are an older, unedited packaged version."""
    if folder.resolve() == packaged.resolve() or not folder.is_dir():
        return []
    known = shipped_history() if history is None else history
    stale = []
    for path in sorted(folder.glob("*.j2")):
        current = _digest(packaged / path.name)
        mine = _digest(path)
        if current is not None and mine != current and mine in known.get(path.name, ()):
            stale.append(path.name)
    return stale


def update_copies(folder: Path, history: Mapping[str, frozenset[str]] | None = None,
                  packaged: Path = TEMPLATES) -> list[str]:
    """Copy the current packaged version over each stale copy; the names updated."""
    names = stale_copies(folder, history, packaged)
    for name in names:
        shutil.copyfile(packaged / name, folder / name)
    return names


def warnings(folder: Path) -> list[str]:
    """What ``check-config`` says of stale copies."""
    names = stale_copies(folder)
    if not names:
        return []
    return [f"{folder}: {', '.join(names)} are an older version of the packaged templates, "
            "unedited: this version's improvements are not used; `mailgate templates update` "
            "copies the new ones over them (edited templates are never touched)"]
