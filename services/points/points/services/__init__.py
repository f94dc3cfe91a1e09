"""The service layer: one function per use case, called by the views, the event handlers and the CLI.

A request's use case takes the runtime and runs in a transaction of its own; an event's runs inside
the consumer's transaction and takes its session. Who may reach what, state rules and the events
told to other services are decided here, never in a view."""
from .activities import (
    MembershipsUnavailable,
    link_membership,
    list_providers,
    member_memberships,
    push_activities,
    register_provider,
    unlink_memberships,
)
from .challenges import create_challenge, get_challenge, list_challenges, member_challenges, update_challenge
from .exports import answer_export, collect_part, forget_expired_exports, get_export, request_export
from .members import (
    CredentialsUnavailable,
    Registration,
    balance,
    erase_member,
    issue_member_credential,
    register_member,
    summary,
    transactions,
)
from .movements import add_group, adjust, donate, get_group, list_groups
from .profiles import profile, set_profile
from .redemptions import OutOfOrder, capture_for_redemption, hold_for_redemption, release_for_redemption
from .referrals import apply_referral, referral_code
from .rules import add_rule_version, list_rules
from .verification import verify_ledger
from .volunteering import (
    confirm_attendance,
    create_opportunity,
    current_code,
    find_opportunities,
    get_attendance,
    get_opportunity,
    list_attendances,
    record_scan,
    reject_attendance,
)

__all__ = [
    "MembershipsUnavailable", "apply_referral", "link_membership", "list_providers", "push_activities",
    "referral_code", "register_provider", "member_memberships", "unlink_memberships",
    "CredentialsUnavailable", "OutOfOrder", "Registration", "add_group", "add_rule_version", "adjust",
    "answer_export", "balance", "capture_for_redemption", "collect_part", "confirm_attendance",
    "create_opportunity", "current_code", "donate", "erase_member", "forget_expired_exports", "get_attendance",
    "get_export", "get_opportunity", "hold_for_redemption", "issue_member_credential", "list_attendances",
    "list_rules", "profile", "record_scan", "register_member", "reject_attendance", "release_for_redemption",
    "request_export", "set_profile", "transactions", "verify_ledger", "create_challenge", "get_challenge",
    "list_challenges", "member_challenges", "update_challenge", "summary", "get_group", "list_groups",
    "find_opportunities",
]
