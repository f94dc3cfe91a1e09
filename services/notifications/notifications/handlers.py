from rewards_shared.events import Event

from . import inbox
from .messages import COMPOSERS


def notify(session, event: Event) -> None:
    inbox.deliver(session, event)


HANDLERS = {event_type: notify for event_type in COMPOSERS}
