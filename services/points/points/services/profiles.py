"""The research profile a member may share: where they live (a postcode district) and how they made such
trips before joining, used by the council's evidence only with their consent."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rewards_shared.auth import Principal
from rewards_shared.errors import Invalid
from rewards_shared.events.schemas import USUAL_MODES

from .. import ledger
from ..models import Member
from .members import living_member

if TYPE_CHECKING:
    from ..bootstrap import Points

POSTCODE_DISTRICT = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")
FIELDS = ("home_area", "usual_mode", "research_consent")


def postcode_district(text: str | None) -> str | None:
    """`ls6`, `LS 6` → `LS6`; a full postcode or anything else is refused (only the district is kept)."""
    if text is None:
        return None
    district = text.strip().upper().replace(" ", "")
    if not POSTCODE_DISTRICT.match(district):
        raise Invalid(f"{text!r} is not a UK postcode district such as LS6 (the part before the space).",
                      field="home_area")
    return district


def _shown(member: Member) -> dict:
    return {"member_id": member.member_id, "home_area": member.home_area, "usual_mode": member.usual_mode,
            "research_consent": member.research_consent, "updated_at": member.profile_updated_at}


def profile(rt: Points, principal: Principal, member_id: str) -> dict:
    principal.check_member(member_id)
    with rt.database.transaction() as session:
        return _shown(living_member(rt, session, member_id))


def set_profile(rt: Points, principal: Principal, member_id: str, *, home_area: str | None,
                usual_mode: str | None, research_consent: bool) -> dict:
    """Replace the profile; the impact service hears of it only when something changed."""
    principal.check_member(member_id)
    if usual_mode is not None and usual_mode not in USUAL_MODES:
        raise Invalid(f"usual_mode is one of {', '.join(USUAL_MODES)}.", field="usual_mode")
    wanted = {"home_area": postcode_district(home_area), "usual_mode": usual_mode,
              "research_consent": research_consent}
    with rt.database.transaction() as session:
        member = living_member(rt, session, member_id, for_update=True)
        if any(getattr(member, name) != value for name, value in wanted.items()) \
                or member.profile_updated_at is None:
            for name, value in wanted.items():
                setattr(member, name, value)
            member.profile_updated_at = rt.clock()
            ledger.emit(session, "member.profile_updated", member_id, **wanted)
        return _shown(member)
