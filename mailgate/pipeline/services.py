"""What the steps share besides the store: config, tag format, detectors and the mailer."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from mailgate.config import Config
from mailgate.conversation import Conversation
from mailgate.mailer import Mailer
from mailgate.refs import TagFormat
from mailgate.render import Renderer
from mailgate.replies import Understanding

KEPT_LEXICONS = 8  # distinct (gratitude file text, judge) lexicons a process keeps


class Services:
    """Built once per pipeline (per loaded config); steps read it, never change it."""

    def __init__(self, config: Config, renderer: Renderer) -> None:
        self.config = config
        self.renderer = renderer
        self.tags = TagFormat(config.gateway.reference_prefix, config.gateway.reference_width)
        self.own_addresses = frozenset([*config.gateway.addresses, config.support_address])
        self.mailer = Mailer(config, renderer)
        self.conversation = Conversation(config, self.mailer, self.tags)
        extra = config.conversation.gratitude_file
        self._gratitude_file = config.path(extra) if extra else None
        if self._gratitude_file is not None:  # an admin's file: a typo stops start or reload
            _ = self.understanding

    @cached_property
    def understanding(self) -> Understanding:
        """The replies lexicon, built where first read (a pipeline that never reads a reply
        to a closed ticket never builds it) and shared in the process (``shared_lexicon``)."""
        return shared_lexicon(self._gratitude_file, self.config.conversation.sentence_judge)


_LEXICONS: dict[tuple[str, bytes, bool], Understanding] = {}


def shared_lexicon(extra: Path | None, judge: bool) -> Understanding:
    """``Understanding.load(extra, judge=judge)``, built once per process for the same
    gratitude file text: each daemon start and reload (and test daemon) would build the
    same one again; it is only read."""
    try:
        text = extra.read_bytes() if extra is not None else b""
    except OSError:  # the load names the file and the error
        return Understanding.load(extra, judge=judge)
    key = (str(extra), text, judge)
    found = _LEXICONS.get(key)
    if found is None:
        found = Understanding.load(extra, judge=judge)
        with_same_text = extra is None or _read(extra) == text  # not edited meanwhile
        if with_same_text:
            if len(_LEXICONS) >= KEPT_LEXICONS:
                _LEXICONS.clear()
            _LEXICONS[key] = found
    return found


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None
