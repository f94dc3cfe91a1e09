"""One function per consumed event type: each runs inside the consumer's transaction."""
from __future__ import annotations

from sqlalchemy.orm import Session

from rewards_shared import outbox
from rewards_shared.events import Event

from . import ledger, rules

SOURCE = "points"


def journey_completed(session: Session, event: Event) -> None:
    journey = event.load_data()
    award = rules.award_for_journey(journey)
    if award.points <= 0:
        return
    posted = ledger.earn(session, member_id=journey["member_id"], points=award.points,
                         source_type="journey", source_id=journey["journey_id"],
                         cause=f"journey:{journey['journey_id']}",
                         rule_id=award.rule_id, rule_version=award.rule_version)
    if not posted.created:
        return
    current = ledger.balance(session, journey["member_id"])
    outbox.add(session, Event.create("points.earned", SOURCE, journey["member_id"], {
        "member_id": journey["member_id"], "points": award.points,
        "transfer_id": str(posted.transfer.id), "source_type": "journey",
        "source_id": journey["journey_id"], "rule_id": award.rule_id,
        "rule_version": award.rule_version, "available": current.available,
    }))


HANDLERS = {
    "transit.journey.completed": journey_completed,
}
