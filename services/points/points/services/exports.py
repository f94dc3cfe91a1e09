"""Subject access: one JSON document of what every service holds about a member.

The points service asks every service over Kafka (`member.export_requested`) and collects their
sealed answers (`member.export_part`); no service reads another's tables. The one-off private key
that opens the answers lives in the export's row until the document is complete, then goes."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from rewards_shared import exports
from rewards_shared.auth import Principal
from rewards_shared.errors import NotFound

from .. import ledger
from ..models import (
    Activity,
    Attendance,
    ChallengeActivity,
    ChallengeProgress,
    Export,
    ExportPiece,
    Member,
    Membership,
    Referral,
    ReferralCode,
    Transfer,
)
from .members import living_member

if TYPE_CHECKING:
    from ..bootstrap import Points

SERVICE = "points"


def request_export(rt: Points, principal: Principal, member_id: str) -> dict:
    """Start gathering; the document is ready once every service has answered (GET the export)."""
    principal.check_member(member_id)
    private_key, public_key = exports.new_key()
    at = rt.clock()
    with rt.database.transaction() as session:
        living_member(rt, session, member_id)
        export = Export(id=uuid.uuid4(), member_id=member_id, requested_by=principal.kind, status="pending",
                        private_key=private_key, requested_at=at, expires_at=at + rt.export_keep)
        session.add(export)
        ledger.emit(session, "member.export_requested", member_id, export_id=str(export.id), public_key=public_key,
                    requested_at=at.isoformat())
        session.flush()
        return _view(session, export)


def get_export(rt: Points, principal: Principal, export_id: str) -> dict:
    try:
        parsed = uuid.UUID(export_id)
    except ValueError:
        raise NotFound(f"No export {export_id}.") from None
    with rt.database.transaction() as session:
        export = session.get(Export, parsed)
        if export is None:
            raise NotFound(f"No export {export_id}.")
        principal.check_member(export.member_id, f"No export {export_id}.")
        return _view(session, export)


def _view(session: Session, export: Export) -> dict:
    answered = set(session.execute(sa.select(ExportPiece.service).where(ExportPiece.export_id == export.id)
                                   .distinct()).scalars())
    return {"export_id": str(export.id), "member_id": export.member_id, "status": export.status,
            "requested_at": export.requested_at, "completed_at": export.completed_at,
            "expires_at": export.expires_at,
            "services": {service: "answered" if export.status == "done" or service in answered else "waiting"
                         for service in exports.SERVICES},
            "document": export.document}


def answer_export(rt: Points, session: Session, request: dict) -> None:
    """This service's part: the member, their research profile, balance, every transfer and attendance, their
    progress in challenges, the activities providers attested, the providers they hold a membership of, and
    their referral."""
    exports.answer(session, service=SERVICE, request=request, part=member_part(rt, session, request["member_id"]))


def member_part(rt: Points, session: Session, member_id: str) -> dict:
    if rt.tombstones.is_erased(session, member_id):
        return {"erased": True}
    member = session.get(Member, member_id)
    if member is None:
        return {}
    transfers = session.execute(sa.select(Transfer).where(Transfer.member_id == member_id)
                                .order_by(Transfer.seq)).scalars()
    attendances = session.execute(sa.select(Attendance).where(Attendance.member_id == member_id)
                                  .order_by(Attendance.checked_in_at)).scalars()
    return {
        "member": {"member_id": member.member_id, "registered_at": member.registered_at, "tier": member.tier,
                   "lifetime_earned": member.lifetime_earned},
        "research_profile": {"home_area": member.home_area, "usual_mode": member.usual_mode,
                             "research_consent": member.research_consent,
                             "updated_at": member.profile_updated_at},
        "balance": ledger.balance_view(session, member_id),
        "transactions": [ledger.entry(transfer, member_id) for transfer in transfers],
        "attendances": [exports.columns_of(attendance) for attendance in attendances],
        "challenges": [exports.columns_of(standing) for standing in session.execute(
            sa.select(ChallengeProgress).where(ChallengeProgress.member_id == member_id)
            .order_by(ChallengeProgress.challenge_id)).scalars()],
        "challenge_activities": [exports.columns_of(counted) for counted in session.execute(
            sa.select(ChallengeActivity).where(ChallengeActivity.member_id == member_id)
            .order_by(ChallengeActivity.occurred_at)).scalars()],
        "activities": [exports.columns_of(activity) for activity in session.execute(
            sa.select(Activity).where(Activity.member_id == member_id).order_by(Activity.occurred_at)).scalars()],
        "memberships": [dict(m) for m in session.execute(sa.select(Membership.provider_id, Membership.linked_at)
                                                         .where(Membership.member_id == member_id)).mappings()],
        "referral": {
            "code": session.execute(sa.select(ReferralCode.code).where(ReferralCode.member_id == member_id)).scalar(),
            "joined_with_a_code": exports.columns_of(referral, hidden={"referrer_id"})
            if (referral := session.get(Referral, member_id)) else None,
            "members_referred": session.execute(sa.select(sa.func.count()).select_from(Referral)
                                                .where(Referral.referrer_id == member_id)).scalar()},
    }


def collect_part(session: Session, part: dict, *, at: datetime) -> bool:
    """Keep one piece of a service's answer; True when this piece completed the document."""
    export = session.get(Export, uuid.UUID(part["export_id"]), with_for_update=True)
    if export is None or export.status != "pending" or part["service"] not in exports.SERVICES:
        return False
    session.execute(insert(ExportPiece).values(export_id=export.id, service=part["service"], piece=part["piece"],
                                               pieces=part["pieces"], sealed=part["sealed"])
                    .on_conflict_do_nothing())
    pieces = session.execute(sa.select(ExportPiece).where(ExportPiece.export_id == export.id)
                             .order_by(ExportPiece.service, ExportPiece.piece)).scalars().all()
    by_service: dict[str, list[ExportPiece]] = {}
    for piece in pieces:
        by_service.setdefault(piece.service, []).append(piece)
    if any(len(by_service.get(service, [])) != _expected(by_service.get(service)) for service in exports.SERVICES):
        return False
    export.document = {
        "member_id": export.member_id, "export_id": str(export.id), "requested_at": export.requested_at.isoformat(),
        "generated_at": at.isoformat(),
        "services": {service: exports.open_part(export.private_key, [p.sealed for p in by_service[service]])
                     for service in exports.SERVICES}}
    export.status, export.completed_at, export.private_key = "done", at, None
    session.execute(sa.delete(ExportPiece).where(ExportPiece.export_id == export.id))
    return True


def _expected(pieces: list[ExportPiece] | None) -> int:
    return pieces[0].pieces if pieces else -1


def forget_expired_exports(session: Session, *, at: datetime) -> int:
    return session.execute(sa.delete(Export).where(Export.expires_at <= at)).rowcount
