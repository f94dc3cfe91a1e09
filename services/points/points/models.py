"""The points database: members, ledger accounts and immutable transfers."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from rewards_shared.erasure import tombstone_table


class Base(DeclarativeBase):
    pass


erased_members = tombstone_table(Base.metadata)


class Member(Base):
    __tablename__ = "members"

    member_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    registered_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    tier: Mapped[str] = mapped_column(sa.Text, server_default="bronze")
    lifetime_earned: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    erased_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # The research profile (shared with the impact service as member.profile_updated).
    home_area: Mapped[str | None] = mapped_column(sa.Text)
    usual_mode: Mapped[str | None] = mapped_column(sa.Text)
    research_consent: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    profile_updated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class Account(Base):
    """Balances are running sums of the account's transfers (checked by `rewards ledger verify`)."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.Text)
    member_id: Mapped[str | None] = mapped_column(sa.Text, index=True)
    debits_pending: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    debits_posted: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    credits_pending: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    credits_posted: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    debits_must_not_exceed_credits: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    __table_args__ = (
        sa.CheckConstraint(
            "NOT debits_must_not_exceed_credits OR debits_posted + debits_pending <= credits_posted",
            name="accounts_not_overdrawn"),
    )


class Transfer(Base):
    __tablename__ = "transfers"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    # An erased member's accounts are renamed to their pseudonym; the transfers follow.
    debit_account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id", onupdate="CASCADE"))
    credit_account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id", onupdate="CASCADE"))
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    code: Mapped[str] = mapped_column(sa.Text)
    pending: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    pending_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("transfers.id"), unique=True)
    timeout_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    member_id: Mapped[str | None] = mapped_column(sa.Text)
    source_type: Mapped[str | None] = mapped_column(sa.Text)
    source_id: Mapped[str | None] = mapped_column(sa.Text)
    rule_id: Mapped[str | None] = mapped_column(sa.Text)
    rule_version: Mapped[int | None] = mapped_column(sa.Integer)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    actor: Mapped[str | None] = mapped_column(sa.Text)
    occurred_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    details: Mapped[dict | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="transfers_amount_positive"),
        sa.CheckConstraint("debit_account_id <> credit_account_id", name="transfers_distinct_accounts"),
        sa.Index("transfers_member_history", "member_id", sa.text("seq DESC")),
    )


class Lot(Base):
    """Points earned together, spent oldest first and expiring together.

    Invariant: a member's unexpired and expired-but-held lots add up to the posted balance."""

    __tablename__ = "lots"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    member_id: Mapped[str] = mapped_column(sa.Text)
    transfer_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("transfers.id"), unique=True)
    points: Mapped[int] = mapped_column(sa.BigInteger)
    remaining: Mapped[int] = mapped_column(sa.BigInteger)
    earned_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    warned_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.CheckConstraint("remaining >= 0 AND remaining <= points", name="lots_remaining_in_range"),
        sa.Index("lots_member_fifo", "member_id", "expires_at", "id", postgresql_where=sa.text("remaining > 0")),
        sa.Index("lots_expiry", "expires_at", postgresql_where=sa.text("remaining > 0")),
    )


class Earning(Base):
    """The ledger's view of an activity that earns (a journey, an attendance): which revision it has
    credited, so corrections, voids and late or repeated events land exactly once."""

    __tablename__ = "earnings"

    source_type: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    source_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    member_id: Mapped[str] = mapped_column(sa.Text)
    revision: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.Text)
    transfer_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("transfers.id"))
    points: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    occurred_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    minutes: Mapped[int | None] = mapped_column(sa.Integer)
    activity_kind: Mapped[str | None] = mapped_column(sa.Text)  # a provider's activity: what caps count by
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    __table_args__ = (sa.Index("earnings_member_day", "member_id", "source_type", "occurred_at"),)


class Rule(Base):
    """One version of an earning rule; the version in force at an activity's time is the newest whose
    `effective_from` has passed (and whose `effective_to`, if any, has not)."""

    __tablename__ = "rules"

    rule_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.Text)
    effective_from: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    effective_to: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    definition: Mapped[dict] = mapped_column(sa.JSON)
    created_by: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class CommunityGroup(Base):
    __tablename__ = "community_groups"

    group_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class Opportunity(Base):
    """A volunteering session members check in to with the organiser's rotating code.

    The code's secret is derived from a service key and the opportunity id, never stored."""

    __tablename__ = "opportunities"

    opportunity_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    organiser_id: Mapped[str] = mapped_column(sa.Text)
    title: Mapped[str] = mapped_column(sa.Text)
    description: Mapped[str | None] = mapped_column(sa.Text)
    starts_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    latitude: Mapped[float | None] = mapped_column(sa.Float)
    longitude: Mapped[float | None] = mapped_column(sa.Float)
    radius_m: Mapped[int | None] = mapped_column(sa.Integer)
    min_minutes: Mapped[int] = mapped_column(sa.Integer, server_default="30")
    auto_confirm: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    created_by: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="opportunities_window_ordered"),
        sa.CheckConstraint("(latitude IS NULL) = (longitude IS NULL) AND (latitude IS NULL) = (radius_m IS NULL)",
                           name="opportunities_geofence_complete"),
    )


class Attendance(Base):
    """One member's time at an opportunity: checked_in → awaiting_confirmation → confirmed | rejected
    (or straight to confirmed when the opportunity auto-confirms); an open check-in left behind after
    the opportunity closed becomes abandoned. Positions are not kept, only how far from the site they were."""

    __tablename__ = "attendances"

    attendance_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    opportunity_id: Mapped[str] = mapped_column(sa.ForeignKey("opportunities.opportunity_id"))
    organiser_id: Mapped[str] = mapped_column(sa.Text)
    member_id: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.Text)
    checked_in_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    checked_out_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    minutes: Mapped[int | None] = mapped_column(sa.Integer)
    confirmed_minutes: Mapped[int | None] = mapped_column(sa.Integer)
    pending_points: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    check_in_distance_m: Mapped[int | None] = mapped_column(sa.Integer)
    check_out_distance_m: Mapped[int | None] = mapped_column(sa.Integer)
    decided_by: Mapped[str | None] = mapped_column(sa.Text)
    decided_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('checked_in', 'awaiting_confirmation', 'confirmed', 'rejected', 'abandoned')",
            name="attendances_status_known"),
        sa.CheckConstraint("checked_out_at IS NULL OR checked_out_at > checked_in_at",
                           name="attendances_out_after_in"),
        sa.Index("attendances_one_open_per_member", "member_id", unique=True,
                 postgresql_where=sa.text("status = 'checked_in'")),
        sa.Index("attendances_member_recent", "member_id", sa.text("checked_in_at DESC")),
        sa.Index("attendances_organiser_queue", "organiser_id", "status", "checked_in_at", "attendance_id"),
        sa.Index("attendances_opportunity", "opportunity_id", "checked_in_at"),
    )


class Export(Base):
    """A subject access request: every service's sealed part is collected here, then opened into one
    document with the one-off private key, which is deleted at that moment. Kept until `expires_at`."""

    __tablename__ = "exports"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    member_id: Mapped[str] = mapped_column(sa.Text, index=True)
    requested_by: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.Text, server_default="pending")
    private_key: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    document: Mapped[dict | None] = mapped_column(JSONB)
    requested_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)

    __table_args__ = (sa.CheckConstraint("status IN ('pending', 'done')", name="exports_status_known"),)


class ExportPiece(Base):
    """One piece of one service's sealed answer, until the export is complete."""

    __tablename__ = "export_pieces"

    export_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("exports.id", ondelete="CASCADE"), primary_key=True)
    service: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    piece: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    pieces: Mapped[int] = mapped_column(sa.Integer)
    sealed: Mapped[str] = mapped_column(sa.Text)


class Challenge(Base):
    """An admin-defined challenge: a count of activities in a window ("10 bus journeys in November"), or a
    streak of periods each with enough of them ("a sustainable journey a week, 4 weeks running"). Its
    rule fields are fixed once created (members' progress rests on them); title, end and state may change."""

    __tablename__ = "challenges"

    challenge_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    title: Mapped[str] = mapped_column(sa.Text)
    description: Mapped[str | None] = mapped_column(sa.Text)
    kind: Mapped[str] = mapped_column(sa.Text)
    activity: Mapped[str] = mapped_column(sa.Text)
    filter: Mapped[dict] = mapped_column(sa.JSON)
    target: Mapped[int | None] = mapped_column(sa.Integer)
    period: Mapped[str | None] = mapped_column(sa.Text)
    periods: Mapped[int | None] = mapped_column(sa.Integer)
    min_per_period: Mapped[int | None] = mapped_column(sa.Integer)
    starts_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    bonus_points: Mapped[int] = mapped_column(sa.Integer)
    active: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true())
    created_by: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="challenges_window_ordered"),
        sa.CheckConstraint("kind IN ('count', 'streak')", name="challenges_kind_known"),
        sa.Index("challenges_live", "activity", "starts_at", "ends_at", postgresql_where=sa.text("active")),
    )


class ChallengeProgress(Base):
    """Where one member stands in one challenge; `completed_at` is set once, with the bonus."""

    __tablename__ = "challenge_progress"

    challenge_id: Mapped[str] = mapped_column(sa.ForeignKey("challenges.challenge_id"), primary_key=True)
    member_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    progress: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    completed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    bonus_transfer_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("transfers.id"))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    __table_args__ = (sa.Index("challenge_progress_member", "member_id"),)


class ChallengeActivity(Base):
    """An activity that counted towards a challenge, once however often its event arrives."""

    __tablename__ = "challenge_activities"

    challenge_id: Mapped[str] = mapped_column(sa.ForeignKey("challenges.challenge_id"), primary_key=True)
    member_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    activity_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class Provider(Base):
    """A partner that attests activities its members did (a leisure centre, a bike share, a library…)."""

    __tablename__ = "providers"

    provider_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text)
    kinds: Mapped[list[str]] = mapped_column(sa.ARRAY(sa.Text))
    active: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true())
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class Membership(Base):
    """A member's card or membership at a provider, known only by a keyed HMAC of (provider, reference)."""

    __tablename__ = "memberships"

    provider_id: Mapped[str] = mapped_column(sa.ForeignKey("providers.provider_id"), primary_key=True)
    ref_hash: Mapped[bytes] = mapped_column(sa.LargeBinary, primary_key=True)
    member_id: Mapped[str] = mapped_column(sa.Text, index=True)
    linked_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class Activity(Base):
    """The latest version of an activity a provider attested, by the provider's own id; each change is a
    new `revision`, told to the ledger and the impact service as `activity.corrected` or `activity.voided`."""

    __tablename__ = "activities"

    provider_id: Mapped[str] = mapped_column(sa.ForeignKey("providers.provider_id"), primary_key=True)
    activity_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    member_id: Mapped[str] = mapped_column(sa.Text, index=True)
    kind: Mapped[str] = mapped_column(sa.Text)
    occurred_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    quantity: Mapped[float] = mapped_column(sa.Float)
    unit: Mapped[str] = mapped_column(sa.Text)
    revision: Mapped[int] = mapped_column(sa.Integer)
    voided: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class ReferralCode(Base):
    __tablename__ = "referral_codes"

    member_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    code: Mapped[str] = mapped_column(sa.Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class Referral(Base):
    """Who brought a member in: `pending` until the referred member's first rewarded activity, then
    `rewarded` (both got their bonus) or `referrer_at_limit` (only the referred member did)."""

    __tablename__ = "referrals"

    referred_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    referral_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, unique=True)  # what the ledger's bonuses name
    referrer_id: Mapped[str] = mapped_column(sa.Text, index=True)
    status: Mapped[str] = mapped_column(sa.Text, server_default="pending")
    applied_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    rewarded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.CheckConstraint("status IN ('pending', 'rewarded', 'referrer_at_limit')", name="referrals_status_known"),
        sa.CheckConstraint("referred_id <> referrer_id", name="referrals_not_self"),
    )
