"""Step 3, admission: mail the upstream spam filter flagged, or that fails the admin's
authentication policy (``[security] require_auth``), is held, never answered."""

from __future__ import annotations

from mailgate import security
from mailgate.pipeline.context import Context, Quarantine
from mailgate.pipeline.services import Services
from mailgate.store import Store


def admission(services: Services, store: Store, ctx: Context) -> None:
    """Decide whether the mail may be handled at all."""
    msg = ctx.inbound.msg
    refused = security.spam_reason(services.config, msg) or \
        security.auth_failure(services.config, msg)
    if refused:
        raise Quarantine(refused)
