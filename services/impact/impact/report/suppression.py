"""Small numbers never identify anyone: statistical disclosure control for the report.

Primary suppression hides every cell that describes fewer than k distinct members (but more than none:
an empty cell says nothing about anybody). Secondary suppression then looks at each published total and
the cells that add up to it: where exactly one of them is hidden, it could be recovered by subtraction,
so the smallest other non-empty cell is hidden too — or, when there is none, the total itself. This
repeats until no hidden cell can be recovered from one total.
"""
from __future__ import annotations

from dataclasses import dataclass, field

Path = tuple[str, ...]


@dataclass
class Cell:
    path: Path
    members: int
    values: dict[str, float | int | None] = field(default_factory=dict)
    reason: str | None = None

    @property
    def hidden(self) -> bool:
        return self.reason is not None

    @property
    def name(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Margin:
    """A published total and the cells that add up to it."""

    total: Path
    parts: tuple[Path, ...]


def suppress(cells: dict[Path, Cell], margins: list[Margin], k: int) -> list[dict]:
    """Marks cells hidden in place; the list of {cell, reason} a reader needs."""
    for cell in cells.values():
        if 0 < cell.members < k:
            cell.reason = f"fewer than {k} members"
    changed = True
    while changed:
        changed = False
        for margin in margins:
            total = cells.get(margin.total)
            parts = [cells[p] for p in margin.parts if p in cells]
            if total is None or total.hidden:
                continue
            hidden = [p for p in parts if p.hidden]
            if len(hidden) != 1:
                continue
            others = sorted((p for p in parts if not p.hidden and p.members > 0), key=lambda p: (p.members, p.path))
            protector = others[0] if others else total
            protector.reason = f"secondary: would reveal {hidden[0].name} by subtraction from {total.name}"
            changed = True
    return [{"cell": cell.name, "reason": cell.reason} for cell in cells.values() if cell.hidden]
