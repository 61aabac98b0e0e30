"""Step 7, alert: a monitoring alert for a problem that already has an open ticket joins it.

Only mail that would open a new ticket is looked at; an alert rule
(``[[conversation.alerts]]``) gives its correlation key, and an open ticket
with that key takes it (a recovery notice too) instead of a new ticket.
"""

from __future__ import annotations

from mailgate.alerts import recognise
from mailgate.pipeline.context import Context, Threading
from mailgate.pipeline.services import Services
from mailgate.store import Store


def alert(services: Services, store: Store, ctx: Context) -> None:
    """Decide whether the mail is an alert, and whether it joins an open ticket."""
    if ctx.route is None or ctx.route.action != "new":
        return
    found = recognise(services.config, ctx.inbound)
    if found is None:
        return
    ctx.alert = found
    open_id = store.open_ticket_by_key(found.correlation_key)
    if open_id is None:
        ctx.decide("alert", f"alert {found.correlation_key}: no open ticket, a new one")
        return
    ctx.threading = Threading(store.ticket(open_id), "alert", found.correlation_key)
    ctx.decide("alert", f"alert {found.correlation_key} joins ticket {open_id}")
