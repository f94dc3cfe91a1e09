"""Facts from the scheme's events, filed under pseudonyms. Each function runs inside the consumer's
transaction; every write is keyed by the event's own id or its source object, so a replay adds nothing."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from rewards_shared import exports

from .calendar import PeakHours, local_day
from .factors import FactorBook
from .models import Activity, Attendance, Journey, Member, Movement, Redemption
from .pseudonyms import Pseudonyms

# Ledger event type → how it moves what members hold (issued counts as earning: the member was active).
LEDGER_MOVEMENTS = {"points.earned": "issued", "points.confirmed": "issued", "points.adjusted": "adjusted",
                    "points.reversed": "reversed", "points.captured": "redeemed", "points.expired": "expired",
                    "points.donated": "donated"}
SPENDING = {"redeemed", "expired", "donated", "reversed", "withdrawn"}


# Executed with a list of rows: compiled once, sent as multi-row INSERTs (RETURNING makes SQLAlchemy
# batch the rows into VALUES lists rather than run one INSERT per row).
_journey = insert(Journey.__table__)
_JOURNEYS = _journey.on_conflict_do_update(
    index_elements=["journey_id"],
    set_={name: _journey.excluded[name] for name in ("pseudonym", "revision", "day", "started_at", "mode", "peak",
                                                     "km", "factor_set", "mode_factor", "car_factor",
                                                     "co2e_avoided_kg", "voided")},
    where=Journey.__table__.c.revision <= _journey.excluded.revision).returning(Journey.__table__.c.journey_id)
_MOVEMENTS = insert(Movement.__table__).on_conflict_do_nothing().returning(Movement.__table__.c.event_id)


@dataclass(frozen=True)
class Facts:
    pseudonyms: Pseudonyms
    peak_hours: PeakHours

    def journey(self, session: Session, data: dict, *, at: datetime) -> bool:
        """A completed or corrected journey; an older revision than the one held changes nothing."""
        return bool(self.journeys(session, [data]))

    def journeys(self, session: Session, journeys: list[dict]) -> int:
        """Journeys filed in one statement, with what filing them one after another would leave; how many
        belong to members who are not erased."""
        days = [local_day(data["started_at"]) for data in journeys]
        pseudonyms = self.pseudonyms.resolve_all(
            session, [(data["member_id"], day) for data, day in zip(journeys, days, strict=True)])
        baselines = _baselines(session, {p for p in pseudonyms.values() if p is not None})
        book = FactorBook.of(session)
        latest: dict[str, dict] = {}
        for data, day in zip(journeys, days, strict=True):
            pseudonym = pseudonyms[data["member_id"]]
            revision = data.get("revision") or 1
            held = latest.get(data["journey_id"])
            if pseudonym is None or (held is not None and held["revision"] > revision):
                continue
            started = data["started_at"]
            km = Decimal(str(round(data["distance_km"], 3))) if data.get("distance_km") is not None else None
            calculation = book.calculation(data["mode"], day)
            latest[data["journey_id"]] = dict(
                journey_id=data["journey_id"], pseudonym=pseudonym, revision=revision, day=day, started_at=started,
                mode=data["mode"], peak=self.peak_hours.is_peak(started), km=km, factor_set=calculation.factor_set,
                mode_factor=calculation.mode_factor, car_factor=calculation.car_factor,
                co2e_avoided_kg=calculation.avoided_kg(km, baselines.get(pseudonym)), voided=False)
        if latest:
            session.execute(_JOURNEYS, list(latest.values()))
        return sum(1 for data in journeys if pseudonyms[data["member_id"]] is not None)

    def journey_voided(self, session: Session, data: dict, *, at: datetime) -> None:
        revision = data.get("revision") or 1
        updated = session.execute(sa.update(Journey).where(
            Journey.journey_id == data["journey_id"], Journey.revision <= revision)
            .values(voided=True, revision=revision).returning(Journey.journey_id)).first()
        if updated is None and session.get(Journey, data["journey_id"]) is None:
            pseudonym = self.pseudonyms.resolve(session, data["member_id"], day=local_day(at))
            if pseudonym is not None:  # voided before we saw it: keep the void so the journey never counts
                book = FactorBook.of(session)
                session.execute(insert(Journey).values(
                    journey_id=data["journey_id"], pseudonym=pseudonym, revision=revision, day=local_day(at),
                    started_at=at, mode="unknown", peak=False, km=None, factor_set=book.version_for(local_day(at)),
                    voided=True).on_conflict_do_nothing())

    def attendance(self, session: Session, data: dict, *, at: datetime) -> None:
        day = local_day(data["checked_in_at"])
        pseudonym = self.pseudonyms.resolve(session, data["member_id"], day=day)
        if pseudonym is not None:
            session.execute(insert(Attendance).values(
                attendance_id=data["attendance_id"], pseudonym=pseudonym, day=day, minutes=data["minutes"])
                .on_conflict_do_nothing())

    def activity(self, session: Session, data: dict, *, at: datetime) -> None:
        """A provider's activity, recorded or corrected; an older revision than the one held changes nothing."""
        day = local_day(data["occurred_at"])
        pseudonym = self.pseudonyms.resolve(session, data["member_id"], day=day)
        if pseudonym is None:
            return
        values = dict(pseudonym=pseudonym, revision=data.get("revision") or 1, day=day,
                      provider_id=data["provider_id"], kind=data["kind"], priorities=list(data["priorities"]),
                      quantity=Decimal(str(round(data["quantity"], 3))), unit=data["unit"], voided=False)
        statement = insert(Activity).values(activity_id=f"{data['provider_id']}:{data['activity_id']}", **values)
        session.execute(statement.on_conflict_do_update(
            index_elements=[Activity.activity_id], set_={k: statement.excluded[k] for k in values},
            where=Activity.revision < statement.excluded.revision))

    def activity_voided(self, session: Session, data: dict, *, at: datetime) -> None:
        """A void seen before its activity is kept, so the activity never counts."""
        activity_id, revision = f"{data['provider_id']}:{data['activity_id']}", data.get("revision") or 1
        updated = session.execute(sa.update(Activity).where(
            Activity.activity_id == activity_id, Activity.revision < revision)
            .values(voided=True, revision=revision).returning(Activity.activity_id)).first()
        if updated is None and session.get(Activity, activity_id) is None:
            pseudonym = self.pseudonyms.resolve(session, data["member_id"], day=local_day(at))
            if pseudonym is not None:
                session.execute(insert(Activity).values(
                    activity_id=activity_id, pseudonym=pseudonym, revision=revision, day=local_day(at),
                    provider_id=data["provider_id"], kind=data.get("kind") or "unknown", priorities=[],
                    quantity=0, unit="", voided=True).on_conflict_do_nothing())

    def movement(self, session: Session, event_id: str, event_type: str, data: dict, *, at: datetime) -> None:
        self.movements(session, [(event_id, event_type, data, at)])

    def movements(self, session: Session, moves: list[tuple[str, str, dict, datetime]]) -> None:
        """Ledger events (id, type, data, time) filed as movements of points, in one statement."""
        self._move_all(session, [
            (uuid.UUID(event_id), data["member_id"], LEDGER_MOVEMENTS[event_type], data["points"], local_day(at),
             data.get("source_id") if LEDGER_MOVEMENTS[event_type] == "donated" else None)
            for event_id, event_type, data, at in moves
            # pending points that were never confirmed were never held
            if not (LEDGER_MOVEMENTS[event_type] == "reversed" and data.get("account") == "pending")])

    def _move(self, session: Session, event_id: uuid.UUID, member_id: str, kind: str, points: int, day: date,
              group_id: str | None = None) -> None:
        self._move_all(session, [(event_id, member_id, kind, points, day, group_id)])

    def _move_all(self, session: Session, moves: list[tuple[uuid.UUID, str, str, int, date, str | None]]) -> None:
        pseudonyms = self.pseudonyms.resolve_all(session, [(member_id, day) for _, member_id, _, _, day, _ in moves])
        rows = [{"event_id": event_id, "pseudonym": pseudonyms[member_id], "day": day, "kind": kind,
                 "points": -abs(points) if kind in SPENDING else points, "group_id": group_id}
                for event_id, member_id, kind, points, day, group_id in moves
                if pseudonyms[member_id] is not None and points != 0]
        if rows:
            session.execute(_MOVEMENTS, rows)

    def redemption_completed(self, session: Session, data: dict, *, at: datetime) -> None:
        day = local_day(at)
        pseudonym = self.pseudonyms.resolve(session, data["member_id"], day=day)
        if pseudonym is not None:
            session.execute(insert(Redemption).values(
                redemption_id=data["redemption_id"], pseudonym=pseudonym,
                partner_id=data.get("partner_id") or "unknown", reward_id=data["reward_id"], day=day,
                cost_points=data["cost_points"], funded_by=data.get("funded_by"),
                settlement_pence=data.get("settlement_pence") or 0).on_conflict_do_nothing())

    def registered(self, session: Session, data: dict, *, at: datetime) -> None:
        day = local_day(data.get("registered_at") or at)
        pseudonym = self.pseudonyms.resolve(session, data["member_id"], day=day)
        if pseudonym is not None:
            session.execute(sa.update(Member).where(Member.pseudonym == pseudonym, Member.registered_on.is_(None))
                            .values(registered_on=day))

    def profile(self, session: Session, data: dict, *, at: datetime) -> None:
        """Consent and the baseline survey answer; CO2e of all the member's journeys follows them."""
        pseudonym = self.pseudonyms.resolve(session, data["member_id"], day=local_day(at))
        if pseudonym is None:
            return
        consent = bool(data.get("research_consent"))
        session.execute(sa.update(Member).where(Member.pseudonym == pseudonym).values(
            research_consent=consent, home_area=data.get("home_area") if consent else None,
            usual_mode=data.get("usual_mode") if consent else None))
        recompute_co2e(session, pseudonym, data.get("usual_mode") if consent else None)

    def erased(self, session: Session, event_id: str, data: dict, *, at: datetime) -> None:
        withdrawn = data.get("withdrawn_points") or 0
        if withdrawn:
            self._move(session, uuid.UUID(event_id), data["member_id"], "withdrawn", withdrawn, local_day(at))
        self.pseudonyms.erase(session, data["member_id"])

    def member_part(self, session: Session, member_id: str) -> dict:
        """Subject access: the facts still linked to the member (none once they are erased)."""
        pseudonym = self.pseudonyms.linked(session, member_id)
        if pseudonym is None:
            return {"linked": False}
        member = session.get(Member, pseudonym)
        return {"linked": True, "research_profile": exports.columns_of(member, hidden={"pseudonym"}),
                **{model.__tablename__: [exports.columns_of(row, hidden={"pseudonym"}) for row in session.execute(
                    sa.select(model).where(model.pseudonym == pseudonym).order_by(model.day)).scalars()]
                   for model in (Journey, Attendance, Activity, Movement, Redemption)}}


def _baselines(session: Session, pseudonyms: set[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    """Each consenting member's usual mode before the scheme (what CO2e avoided is measured against)."""
    if not pseudonyms:
        return {}
    return dict(session.execute(sa.select(Member.pseudonym, Member.usual_mode).where(
        Member.pseudonym.in_(sorted(pseudonyms)), Member.research_consent.is_(True))).all())


def recompute_co2e(session: Session, pseudonym: uuid.UUID, baseline: str | None) -> None:
    avoided = sa.func.greatest(0, Journey.km * (Journey.car_factor - Journey.mode_factor)) \
        if baseline == "car" else sa.literal(0)
    session.execute(sa.update(Journey).where(Journey.pseudonym == pseudonym)
                    .values(co2e_avoided_kg=sa.func.coalesce(avoided, 0)))
