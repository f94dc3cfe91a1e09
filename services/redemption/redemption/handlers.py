"""Ledger events the redemption saga will react to (points.held, points.hold_rejected)."""
HANDLERS: dict = {}
