"""Settlement: what each partner's tills redeemed in a period, and what the council owes for it.

Days are Leeds days (Europe/London), both ends included. The price of each voucher is the one
agreed when it was requested, copied onto the redemption."""
from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from rewards_shared.errors import Invalid

from .models import Redemption

LOCAL = ZoneInfo("Europe/London")
MAX_PERIOD_DAYS = 366


@dataclass(frozen=True)
class Line:
    reward_id: str
    reward_title: str
    funded_by: str
    unit_pence: int
    redeemed: int
    owed_pence: int


@dataclass(frozen=True)
class Statement:
    partner_id: str
    period_from: date
    period_to: date
    lines: list[Line]

    @property
    def redeemed(self) -> int:
        return sum(line.redeemed for line in self.lines)

    @property
    def owed_pence(self) -> int:
        return sum(line.owed_pence for line in self.lines)

    def to_dict(self) -> dict:
        return {"partner_id": self.partner_id, "from": self.period_from.isoformat(),
                "to": self.period_to.isoformat(), "currency": "GBP", "redeemed": self.redeemed,
                "owed_pence": self.owed_pence, "lines": [asdict(line) for line in self.lines]}

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["partner_id", "from", "to", "reward_id", "reward_title", "funded_by", "unit_pence",
                         "redeemed", "owed_pence"])
        for line in self.lines:
            writer.writerow([self.partner_id, self.period_from, self.period_to, line.reward_id,
                             _safe_cell(line.reward_title), line.funded_by, line.unit_pence, line.redeemed,
                             line.owed_pence])
        writer.writerow([self.partner_id, self.period_from, self.period_to, "TOTAL", "", "", "", self.redeemed,
                         self.owed_pence])
        return out.getvalue()


def _safe_cell(text: str) -> str:
    """Titles are typed by staff; a leading = + - @ would run as a formula in a spreadsheet."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=LOCAL)


def statement(session: Session, partner_id: str, period_from: date, period_to: date) -> Statement:
    if period_to < period_from:
        raise Invalid("The period must end on or after the day it starts.", field="to")
    if (period_to - period_from).days >= MAX_PERIOD_DAYS:
        raise Invalid(f"A statement covers at most {MAX_PERIOD_DAYS} days.", field="to")
    unit = Redemption.settlement_pence
    rows = session.execute(
        sa.select(Redemption.reward_id, sa.func.max(Redemption.reward_title), Redemption.funded_by, unit,
                  sa.func.count())
        .where(Redemption.partner_id == partner_id, Redemption.status == "redeemed",
               Redemption.redeemed_at >= _start_of(period_from),
               Redemption.redeemed_at < _start_of(period_to + timedelta(days=1)))
        .group_by(Redemption.reward_id, Redemption.funded_by, unit)
        .order_by(Redemption.reward_id, unit)
    ).all()
    lines = [Line(reward_id=reward_id, reward_title=title, funded_by=funded_by, unit_pence=pence, redeemed=count,
                  owed_pence=pence * count if funded_by == "council" else 0)
             for reward_id, title, funded_by, pence, count in rows]
    return Statement(partner_id, period_from, period_to, lines)
