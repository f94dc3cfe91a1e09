"""The rules of money-like points: double entry, immutable transfers, no overdrafts.

Modelled on TigerBeetle: a transfer moves an amount from a debit account to a credit account; a
pending transfer (a hold) reserves it until it is posted (captured) or voided (released), each at
most once. Transfer ids derive from what caused them, so a repeated request or a redelivered event
finds the original instead of posting twice, and a same-id request with different fields is refused.

Callers use `from points import ledger; ledger.earn(...)`: this package names what they may use.
Functions that need the time take `at`; the service layer passes its runtime's clock (without it,
the real UTC clock).
"""
from .adjustments import adjust, reverse
from .donations import add_group, donate, groups
from .earning import Credit, earn, earn_all
from .erasure import erase_member
from .holds import capture, hold, release, release_timed_out_holds, resolution_of
from .lots import LOT_LIFETIME, debit_available, expire_due_lots, warn_expiring_lots
from .members import ensure_member, ensure_members, erased_among, is_erased
from .pending import credit_pending, settle_pending
from .postings import (
    BREAKAGE,
    DONATIONS,
    ISSUANCE,
    REDEMPTIONS,
    HoldResolved,
    InsufficientPoints,
    Posted,
    TransferExists,
    TransferRequest,
    available_account,
    available_now,
    emit,
    group_account,
    pending_account,
    post,
    transfer_id,
)
from .statements import Balance, balance, balance_view, entry, history, signed_amount
from .tiers import TIERS, next_tier, tier_for

__all__ = [
    "BREAKAGE", "DONATIONS", "ISSUANCE", "LOT_LIFETIME", "REDEMPTIONS", "TIERS", "Balance", "Credit", "HoldResolved",
    "InsufficientPoints", "Posted", "TransferExists", "TransferRequest", "add_group", "adjust", "available_account",
    "available_now", "balance", "balance_view", "capture", "credit_pending", "debit_available", "donate", "earn",
    "earn_all", "emit", "ensure_member", "ensure_members", "entry", "erase_member", "erased_among", "expire_due_lots",
    "group_account", "groups", "history", "hold", "is_erased", "next_tier", "pending_account", "post", "release",
    "release_timed_out_holds", "resolution_of", "reverse", "settle_pending", "signed_amount", "tier_for", "transfer_id",
    "warn_expiring_lots",
]
