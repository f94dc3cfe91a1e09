"""The report as CSV: one row per figure (`cell,value,note`), suppressed figures empty with the reason."""
from __future__ import annotations

import csv
import io

_ITEM_KEYS = ("key", "month", "group_id")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _flatten(value, path: str, out: list[tuple[str, object]]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(inner, f"{path}.{key}" if path else key, out)
    elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
        for item in value:
            name = next((str(item[k]) for k in _ITEM_KEYS if k in item), "")
            _flatten({k: v for k, v in item.items() if k not in _ITEM_KEYS}, f"{path}.{name}", out)
    elif isinstance(value, list):
        out.append((path, ";".join(str(v) for v in value)))
    else:
        out.append((path, value))


def _safe(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA) else text


def to_csv(report: dict) -> str:
    reasons = {s["cell"]: s["reason"] for s in report.get("suppressed", [])}
    rows: list[tuple[str, object]] = []
    _flatten({k: v for k, v in report.items() if k != "suppressed"}, "", rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["cell", "value", "note"])
    for cell, value in rows:
        named = cell.replace("breakdown.rows.", "breakdown.").replace(".rows.", ".")
        note = next((reason for name, reason in reasons.items() if named == name or named.startswith(name + ".")), "")
        shown = "" if value is None else value if isinstance(value, int | float) else _safe(str(value))
        writer.writerow([_safe(cell), shown, note if value is None else ""])
    return out.getvalue()
