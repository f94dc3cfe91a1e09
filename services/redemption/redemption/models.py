"""The redemption database. The saga's tables arrive with the catalogue; for now only the shared ones."""
from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass
