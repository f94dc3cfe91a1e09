"""Earning rules as data: what an activity is worth, when, and up to what limit.

Each rule has versions; the version in force at an activity's time is the newest whose
`effective_from` has passed (unless its `effective_to` has too). Every award records the rules and
versions that produced it, so a member can be told why they got what they got.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Session

from rewards_shared.errors import Invalid
from rewards_shared.events.schemas import ACTIVITY_KINDS, MODES

from .models import Earning, Rule

LONDON = "Europe/London"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIME = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="Use HH:MM (24-hour).")


class _Definition(Schema):
    class Meta:
        unknown = RAISE


class JourneyRule(_Definition):
    points_by_mode = fields.Dict(keys=fields.String(validate=validate.OneOf(MODES)),
                                 values=fields.Integer(validate=validate.Range(min=0, max=10_000)), required=True)


class Window(_Definition):
    days = fields.List(fields.String(validate=validate.OneOf(DAYS)), required=True, validate=validate.Length(min=1))
    start = fields.String(required=True, validate=TIME)
    end = fields.String(required=True, validate=TIME)

    @validates_schema
    def _ordered(self, data, **kwargs):
        if data["start"] >= data["end"]:
            raise ValidationError("start must be before end.", "end")


class OffPeakRule(_Definition):
    bonus = fields.Integer(required=True, validate=validate.Range(min=0, max=10_000))
    peak = fields.List(fields.Nested(Window), required=True)
    timezone = fields.String(load_default=LONDON)


class VolunteeringRule(_Definition):
    points_per_hour = fields.Integer(required=True, validate=validate.Range(min=0, max=10_000))
    min_minutes = fields.Integer(load_default=30, validate=validate.Range(min=0, max=24 * 60))
    max_hours_per_day = fields.Float(load_default=8, validate=validate.Range(min=0, max=24))
    timezone = fields.String(load_default=LONDON)


class KindPoints(_Definition):
    points = fields.Integer(required=True, validate=validate.Range(min=0, max=10_000))
    per = fields.String(load_default="activity", validate=validate.OneOf(("activity", "unit")), metadata={
        "description": "activity: the same points for each; unit: points times the quantity (e.g. per km)"})
    max_units = fields.Float(allow_none=True, load_default=None, validate=validate.Range(min=0, min_inclusive=False),
                             metadata={"description": "per unit: at most this many units of one activity count"})


class ActivityRule(_Definition):
    """What a provider's attested activity earns, by its kind."""
    kinds = fields.Dict(keys=fields.String(validate=validate.OneOf(ACTIVITY_KINDS)), values=fields.Nested(KindPoints),
                        required=True)


class ReferralRule(_Definition):
    referrer_points = fields.Integer(required=True, validate=validate.Range(min=0, max=10_000))
    referred_points = fields.Integer(required=True, validate=validate.Range(min=0, max=10_000))
    max_per_referrer = fields.Integer(required=True, validate=validate.Range(min=0, max=10_000), metadata={
        "description": "Referrals a member is rewarded for; past it the referred member still gets theirs"})


class CapRule(_Definition):
    activity = fields.String(required=True, validate=validate.OneOf(("journey", "activity")))
    kind = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(ACTIVITY_KINDS), metadata={
        "description": "For activity caps: the kind counted (none: every provider activity)"})
    per_day = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=0))
    per_week = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=0))
    timezone = fields.String(load_default=LONDON)

    @validates_schema
    def _some_limit(self, data, **kwargs):
        if data.get("per_day") is None and data.get("per_week") is None:
            raise ValidationError("Give per_day, per_week or both.", "per_day")


class Area(_Definition):
    stop_ids = fields.List(fields.String(), required=True, validate=validate.Length(min=1))


class CampaignRule(_Definition):
    multiplier = fields.Float(required=True, validate=validate.Range(min=0, max=10, min_inclusive=False))
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    activity = fields.String(load_default="journey", validate=validate.OneOf(("journey", "volunteering", "activity")))
    mode = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(MODES))
    kind = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(ACTIVITY_KINDS),
                         metadata={"description": "For activity campaigns: only this kind"})
    area = fields.Nested(Area, allow_none=True, load_default=None)

    @validates_schema
    def _window(self, data, **kwargs):
        if data["starts_at"] >= data["ends_at"]:
            raise ValidationError("starts_at must be before ends_at.", "ends_at")


KINDS: dict[str, Schema] = {
    "journey": JourneyRule(), "off_peak": OffPeakRule(), "volunteering": VolunteeringRule(),
    "cap": CapRule(), "campaign": CampaignRule(), "activity": ActivityRule(), "referral": ReferralRule(),
}


def validate_definition(kind: str, definition: dict) -> dict:
    """The canonical definition for `kind`, or Invalid naming every bad field."""
    schema = KINDS.get(kind)
    if schema is None:
        raise Invalid(f"Unknown rule kind {kind!r}.", field="kind")
    try:
        loaded = schema.load(definition)
        if "timezone" in loaded:
            _zone(loaded["timezone"])
    except ValidationError as error:
        raise Invalid("The rule definition is not valid.", errors=_prefixed(error.normalized_messages())) from None
    except (KeyError, ValueError):
        raise Invalid("Unknown time zone.", field="definition.timezone") from None
    return schema.dump(loaded)


def _prefixed(messages, prefix="definition") -> dict:
    flat = {}
    for key, value in messages.items():
        name = f"{prefix}.{key}"
        if isinstance(value, dict):
            flat.update(_prefixed(value, name))
        else:
            flat[name] = value
    return flat


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except Exception:
        raise ValueError(name) from None


def add_version(session: Session, *, rule_id: str, kind: str, definition: dict, effective_from: datetime,
                effective_to: datetime | None, actor: str) -> Rule:
    canonical = validate_definition(kind, definition)
    if effective_to is not None and effective_to <= effective_from:
        raise Invalid("effective_to must be after effective_from.", field="effective_to")
    session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext("rule:" + rule_id))))
    latest = session.execute(sa.select(Rule).where(Rule.rule_id == rule_id).order_by(Rule.version.desc())
                             .limit(1)).scalar()
    if latest is not None and latest.kind != kind:
        raise Invalid(f"Rule {rule_id} is a {latest.kind} rule; a new version must keep its kind.", field="kind")
    rule = Rule(rule_id=rule_id, version=(latest.version + 1) if latest else 1, kind=kind, definition=canonical,
                effective_from=effective_from, effective_to=effective_to, created_by=actor)
    session.add(rule)
    session.info.pop("rules", None)
    session.flush()
    return rule


def all_versions(session: Session) -> list[Rule]:
    return list(session.execute(sa.select(Rule).order_by(Rule.rule_id, Rule.version)).scalars())


def in_force(session: Session, at: datetime) -> list[Rule]:
    """For each rule, the version in force at `at` (rules ended by then are left out).

    The rules table is small and read once per transaction, so a batch of events costs one query."""
    if "rules" not in session.info:
        session.info["rules"] = session.execute(
            sa.select(Rule).order_by(Rule.rule_id, Rule.version.desc())).scalars().all()
    newest: dict[str, Rule] = {}
    for rule in session.info["rules"]:
        if rule.effective_from <= at and rule.rule_id not in newest:
            newest[rule.rule_id] = rule
    return [r for r in newest.values() if r.effective_to is None or r.effective_to > at]


@dataclass
class Award:
    points: int
    rule_id: str | None = None
    rule_version: int | None = None
    breakdown: list[dict] = field(default_factory=list)
    minutes: int | None = None

    def add(self, rule: Rule, **what) -> None:
        self.breakdown.append({"rule_id": rule.rule_id, "version": rule.version, **what})


def _local(at: datetime, zone: str) -> datetime:
    return at.astimezone(_zone(zone))


def _is_peak(definition: dict, at: datetime) -> bool:
    local = _local(at, definition.get("timezone", LONDON))
    day, clock = DAYS[local.weekday()], local.strftime("%H:%M")
    return any(day in w["days"] and w["start"] <= clock < w["end"] for w in definition["peak"])


def _day_bounds(at: datetime, zone: str, week: bool = False) -> tuple[datetime, datetime]:
    """The local day (or Monday-to-Sunday week) around `at`, as UTC bounds."""
    local = _local(at, zone)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if week:
        start -= timedelta(days=local.weekday())
    end = start + timedelta(days=7 if week else 1)
    return start.astimezone(UTC), end.astimezone(UTC)


def _minutes_credited(session: Session, member_id: str, start: datetime, end: datetime) -> int:
    """The volunteering minutes already credited to the member between `start` and `end`."""
    return session.execute(sa.select(sa.func.coalesce(sa.func.sum(Earning.minutes), 0)).where(
        Earning.member_id == member_id, Earning.source_type == "attendance", Earning.status == "credited",
        Earning.points > 0, Earning.occurred_at >= start, Earning.occurred_at < end)).scalar()


def _campaign_multiplier(rules: list[Rule], award: Award, activity: str, at: datetime, mode: str | None,
                         stops: set[str], kind: str | None = None) -> float:
    best, chosen = 1.0, None
    for rule in rules:
        d = rule.definition
        if rule.kind != "campaign" or d["activity"] != activity:
            continue
        starts, ends = datetime.fromisoformat(d["starts_at"]), datetime.fromisoformat(d["ends_at"])
        if not (starts <= at < ends) or (d.get("mode") and d["mode"] != mode) or (d.get("kind") and d["kind"] != kind):
            continue
        if d.get("area") and not stops & set(d["area"]["stop_ids"]):
            continue
        if d["multiplier"] > best:
            best, chosen = d["multiplier"], rule
    if chosen is not None:
        award.add(chosen, multiplier=best)
    return best


class Credited:
    """What a batch's members were credited for within periods (journeys, or providers' activities with
    their kinds), read in one query and then kept up to date in memory as the batch credits more, so caps
    count the batch's earlier credits as well."""

    def __init__(self, session: Session, members: set[str], periods: list[tuple[datetime, datetime]],
                 source_type: str = "journey"):
        self.times: dict[str, dict[str, tuple[datetime, str | None]]] = defaultdict(dict)
        if not periods or not members:
            return
        rows = session.execute(sa.select(Earning.member_id, Earning.source_id, Earning.occurred_at,
                                         Earning.activity_kind).where(
            Earning.member_id.in_(sorted(members)), Earning.source_type == source_type, Earning.status == "credited",
            Earning.points > 0, Earning.occurred_at >= min(p[0] for p in periods),
            Earning.occurred_at < max(p[1] for p in periods)))
        for member_id, source_id, occurred_at, kind in rows:
            self.times[member_id][source_id] = (occurred_at, kind)

    @classmethod
    def for_journeys(cls, session: Session, journeys: list[dict]) -> Credited:
        """Enough to apply the caps in force to each of `journeys`."""
        return cls(session, {j["member_id"] for j in journeys},
                   [bounds for j in journeys for _, bounds in cap_windows(in_force(session, j["started_at"]),
                                                                          j["started_at"])])

    @classmethod
    def for_activities(cls, session: Session, activities: list[dict]) -> Credited:
        """Enough to apply the caps in force to each of a provider's `activities`."""
        return cls(session, {a["member_id"] for a in activities},
                   [bounds for a in activities for _, bounds in cap_windows(in_force(session, a["occurred_at"]),
                                                                            a["occurred_at"], "activity")],
                   source_type="activity")

    def count(self, member_id: str, start: datetime, end: datetime, kind: str | None = None) -> int:
        return sum(1 for at, its_kind in self.times[member_id].values()
                   if start <= at < end and kind in (None, its_kind))

    def set(self, member_id: str, source_id: str, occurred_at: datetime | None, kind: str | None = None) -> None:
        """The credit now counts (at `occurred_at`), or no longer does (None)."""
        if occurred_at is None:
            self.times[member_id].pop(source_id, None)
        else:
            self.times[member_id][source_id] = (occurred_at, kind)


Bounds = tuple[datetime, datetime]


def cap_windows(rules: list[Rule], at: datetime, activity: str = "journey") -> list[tuple[int | None, Bounds]]:
    """(limit, bounds) of each cap on `activity` in `rules` at `at`: its day and its week."""
    windows = []
    for rule in rules:
        d = rule.definition
        if rule.kind == "cap" and d["activity"] == activity:
            zone = d.get("timezone", LONDON)
            windows += [(d.get("per_day"), _day_bounds(at, zone)),
                        (d.get("per_week"), _day_bounds(at, zone, week=True))]
    return windows


def award_for_journey(session: Session, member_id: str, journey: dict, credited: Credited | None = None) -> Award:
    """Points for a journey: by mode, plus the off-peak bonus, times the best campaign, within the caps
    (counted by `credited`, which knows what earlier journeys of the same batch were credited)."""
    at = journey["started_at"]
    credited = credited or Credited.for_journeys(session, [{**journey, "member_id": member_id}])
    rules = in_force(session, at)
    award = Award(points=0)
    base = next((r for r in rules if r.kind == "journey"), None)
    if base is None:
        return award
    points = base.definition["points_by_mode"].get(journey["mode"], 0)
    award.rule_id, award.rule_version = base.rule_id, base.version
    award.add(base, points=points)
    if points <= 0:
        return award
    for rule in rules:
        if rule.kind == "off_peak" and not _is_peak(rule.definition, at):
            points += rule.definition["bonus"]
            award.add(rule, points=rule.definition["bonus"])
    stops = {s for s in (journey.get("origin_stop_id"), journey.get("destination_stop_id")) if s}
    points = round(points * _campaign_multiplier(rules, award, "journey", at, journey["mode"], stops))
    for rule in rules:
        if rule.kind == "cap" and any(limit is not None and credited.count(member_id, *bounds) >= limit
                                      for limit, bounds in cap_windows([rule], at)):
            award.add(rule, capped=True)
            award.points = 0
            return award
    award.points = points
    return award


def award_for_activity(session: Session, member_id: str, activity: dict, credited: Credited | None = None) -> Award:
    """Points for a provider's activity: by kind (each, or per unit up to a maximum), times the best
    campaign for activities (of that kind), within the caps on activities (of that kind), counted by
    `credited` (which knows what earlier activities of the same batch were credited)."""
    at, kind = activity["occurred_at"], activity["kind"]
    credited = credited or Credited.for_activities(session, [{**activity, "member_id": member_id}])
    rules = in_force(session, at)
    award = Award(points=0)
    base = next((r for r in rules if r.kind == "activity" and kind in r.definition["kinds"]), None)
    if base is None:
        return award
    terms = base.definition["kinds"][kind]
    award.rule_id, award.rule_version = base.rule_id, base.version
    if terms["per"] == "unit":
        units = activity["quantity"]
        if terms.get("max_units") is not None:
            units = min(units, terms["max_units"])
        points = round(terms["points"] * units)
        award.add(base, points=points, units=units)
    else:
        points = terms["points"]
        award.add(base, points=points)
    if points <= 0:
        return award
    points = round(points * _campaign_multiplier(rules, award, "activity", at, None, set(), kind=kind))
    for rule in rules:
        d = rule.definition
        if rule.kind == "cap" and d["activity"] == "activity" and d.get("kind") in (None, kind) \
                and any(limit is not None and credited.count(member_id, *bounds, kind=d.get("kind")) >= limit
                        for limit, bounds in cap_windows([rule], at, "activity")):
            award.add(rule, capped=True)
            award.points = 0
            return award
    award.points = points
    return award


@dataclass(frozen=True)
class ReferralTerms:
    rule_id: str
    rule_version: int
    referrer_points: int
    referred_points: int
    max_per_referrer: int


def referral_terms(session: Session, at: datetime) -> ReferralTerms | None:
    """The referral bonus in force at `at`, if the scheme has one."""
    rule = next((r for r in in_force(session, at) if r.kind == "referral"), None)
    if rule is None:
        return None
    d = rule.definition
    return ReferralTerms(rule.rule_id, rule.version, d["referrer_points"], d["referred_points"], d["max_per_referrer"])


def award_for_attendance(session: Session, member_id: str, *, started_at: datetime, minutes: int) -> Award:
    """Points per confirmed hour, from the minimum duration, up to the daily maximum of hours."""
    rules = in_force(session, started_at)
    rule = next((r for r in rules if r.kind == "volunteering"), None)
    award = Award(points=0, minutes=0)
    if rule is None:
        return award
    d = rule.definition
    award.rule_id, award.rule_version = rule.rule_id, rule.version
    if minutes < d["min_minutes"]:
        award.add(rule, points=0, reason=f"shorter than {d['min_minutes']} minutes")
        return award
    already = _minutes_credited(session, member_id, *_day_bounds(started_at, d["timezone"]))
    counted = max(0, min(minutes, int(d["max_hours_per_day"] * 60) - already))
    points = round(counted * d["points_per_hour"] / 60)
    points = round(points * _campaign_multiplier(rules, award, "volunteering", started_at, None, set()))
    award.points, award.minutes = points, counted
    award.add(rule, points=points, minutes=counted)
    return award
