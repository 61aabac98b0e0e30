"""The named steps, in the order every message goes through them.

Deciding steps read the message's facts and the store and fill in their
field of the ``Context``; none of them writes. A step that settles the
message (a duplicate, a bounce) ends the deciding part; a step that raises
``Quarantine`` holds the message. Then the writer (``record``) applies the
decisions and ``respond`` queues the mail they call for.

Where is a decision made? One module per step, named after it.
"""

from __future__ import annotations

from collections.abc import Callable

from mailgate.pipeline.context import Context
from mailgate.pipeline.services import Services
from mailgate.pipeline.steps.admission import admission
from mailgate.pipeline.steps.alert import alert
from mailgate.pipeline.steps.bounce import bounce
from mailgate.pipeline.steps.dedupe import dedupe
from mailgate.pipeline.steps.identify import identify
from mailgate.pipeline.steps.rate import rate
from mailgate.pipeline.steps.record import record
from mailgate.pipeline.steps.repeat import repeat
from mailgate.pipeline.steps.respond import respond
from mailgate.pipeline.steps.route import route
from mailgate.pipeline.steps.thread import thread
from mailgate.store import Store

Step = Callable[[Services, Store, Context], None]

DECIDING: tuple[Step, ...] = (dedupe, bounce, admission, thread, identify, rate, route, alert,
                              repeat)
WRITING: tuple[Step, ...] = (record, respond)
STEPS: tuple[Step, ...] = DECIDING + WRITING

__all__ = ["DECIDING", "STEPS", "WRITING", "Step"]
