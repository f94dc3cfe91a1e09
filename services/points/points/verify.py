"""Proof that the ledger is whole: every invariant recomputed from the transfers themselves."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from rewards_shared.runtime import utc_now

# Effects of each transfer on its accounts' four sums, as TigerBeetle defines them:
# a pending transfer adds to *_pending; posting it moves the amount from *_pending to *_posted;
# voiding it (release) only takes it out of *_pending.
_COMPUTED = """
WITH effects AS (
  SELECT t.debit_account_id AS account, 'debit' AS side,
         CASE WHEN t.pending OR t.code = 'release' THEN 0 ELSE t.amount END AS posted,
         CASE WHEN t.pending THEN t.amount WHEN t.pending_id IS NOT NULL THEN -t.amount ELSE 0 END AS pending
    FROM transfers t
  UNION ALL
  SELECT t.credit_account_id, 'credit',
         CASE WHEN t.pending OR t.code = 'release' THEN 0 ELSE t.amount END,
         CASE WHEN t.pending THEN t.amount WHEN t.pending_id IS NOT NULL THEN -t.amount ELSE 0 END
    FROM transfers t
)
SELECT account,
       COALESCE(SUM(posted) FILTER (WHERE side = 'debit'), 0)  AS debits_posted,
       COALESCE(SUM(pending) FILTER (WHERE side = 'debit'), 0) AS debits_pending,
       COALESCE(SUM(posted) FILTER (WHERE side = 'credit'), 0) AS credits_posted,
       COALESCE(SUM(pending) FILTER (WHERE side = 'credit'), 0) AS credits_pending
  FROM effects GROUP BY account
"""


@dataclass(frozen=True)
class Report:
    accounts: int
    transfers: int
    breaches: list[str]

    @property
    def ok(self) -> bool:
        return not self.breaches


def verify(session: Session, *, at: datetime | None = None, limit: int = 50) -> Report:
    """Run in a REPEATABLE READ transaction (see `snapshot`) so every check sees the same moment."""
    at = at or utc_now()
    breaches: list[str] = []
    computed = {row.account: row for row in session.execute(text(_COMPUTED))}
    stored = {row.id: row for row in session.execute(text(
        "SELECT id, kind, debits_posted, debits_pending, credits_posted, credits_pending FROM accounts"))}

    totals = [sum(getattr(r, f) for r in computed.values())
              for f in ("debits_posted", "credits_posted", "debits_pending", "credits_pending")]
    if totals[0] != totals[1] or totals[2] != totals[3]:
        breaches.append(f"debits {totals[0]}/{totals[2]} (posted/pending) differ from credits {totals[1]}/{totals[3]}")
    for account in computed.keys() - stored.keys():
        breaches.append(f"transfers name an account that does not exist: {account}")
    for account, row in stored.items():
        if not account.startswith("member:"):
            continue
        derived = computed.get(account)
        for name in ("debits_posted", "debits_pending", "credits_posted", "credits_pending"):
            expected = getattr(derived, name) if derived else 0
            if getattr(row, name) != expected:
                breaches.append(f"{account}: {name} is {getattr(row, name)} but its transfers sum to {expected}")
        if row.debits_posted + row.debits_pending > row.credits_posted:
            breaches.append(f"{account}: below zero ({row.credits_posted - row.debits_posted - row.debits_pending})")

    for row in session.execute(text("""
        SELECT h.id, h.member_id, h.timeout_at FROM transfers h
         WHERE h.pending AND h.timeout_at <= :at
           AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = h.id)"""), {"at": at}):
        breaches.append(f"hold {row.id} of {row.member_id} is unresolved past its timeout "
                        f"{row.timeout_at:%Y-%m-%d %H:%M}")

    for row in session.execute(text("""
        SELECT a.member_id, a.credits_posted - a.debits_posted AS posted, COALESCE(l.remaining, 0) AS lots
          FROM accounts a
          LEFT JOIN (SELECT member_id, SUM(remaining) AS remaining FROM lots GROUP BY member_id) l
                 ON l.member_id = a.member_id
         WHERE a.kind = 'member_available' AND a.credits_posted - a.debits_posted <> COALESCE(l.remaining, 0)""")):
        breaches.append(f"member:{row.member_id}: lots hold {row.lots} points but the posted balance is {row.posted}")

    transfers = session.execute(text("SELECT count(*) FROM transfers")).scalar()
    return Report(accounts=len(stored), transfers=transfers, breaches=breaches[:limit] + (
        [f"… and {len(breaches) - limit} more"] if len(breaches) > limit else []))


def snapshot(database) -> Session:
    """A read-only session on one consistent snapshot of the ledger."""
    connection = database.engine.connect().execution_options(isolation_level="REPEATABLE READ",
                                                             postgresql_readonly=True)
    return Session(bind=connection)
