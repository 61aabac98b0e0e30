"""What the steps share besides the store: config, tag format, detectors and the mailer."""

from __future__ import annotations

from mailgate.config import Config
from mailgate.conversation import Conversation
from mailgate.mailer import Mailer
from mailgate.refs import TagFormat
from mailgate.render import Renderer
from mailgate.replies import Understanding


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
        self.understanding = Understanding.load(config.path(extra) if extra else None,
                                                judge=config.conversation.sentence_judge)
