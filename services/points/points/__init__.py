"""The points service: members, the double-entry ledger and the earning rules."""
