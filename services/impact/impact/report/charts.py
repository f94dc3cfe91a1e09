"""Charts as inline SVG, drawn on the server: the page needs no script and no external asset, and prints
as it shows. A suppressed value is drawn as a hatched stub labelled 'suppressed', never as zero."""
from __future__ import annotations

from html import escape

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 260, 56, 56, 40
COLOURS = ("#00594f", "#c8102e", "#f2a900", "#5b7f95", "#7a4b94", "#3a7d44")


def _nice(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def bars(title: str, labels: list[str], values: list[float | None], *, unit: str = "", colour: str = COLOURS[0],
         ident: str = "chart") -> str:
    """A vertical bar chart with a labelled axis; `None` values are suppressed cells."""
    top = _nice(max([v for v in values if v is not None] or [0]))
    plot_w, plot_h = WIDTH - LEFT - 16, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(1, len(values))
    parts = [f'<svg class="chart" id="{escape(ident)}" role="img" aria-label="{escape(title)}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
             f'<title>{escape(title)}</title>',
             f'<text x="{LEFT}" y="18" font-size="14" font-weight="600">{escape(title)}</text>',
             '<defs><pattern id="hatch-' + escape(ident) + '" width="6" height="6" patternUnits="userSpaceOnUse" '
             'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>'
             '<line x1="0" y1="0" x2="0" y2="6" stroke="#888" stroke-width="2"/></pattern></defs>']
    for step in range(5):
        y = TOP + plot_h - plot_h * step / 4
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - 16}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
                     f'{_number(top * step / 4)}</text>')
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = LEFT + index * slot + slot * 0.15
        w = slot * 0.7
        if value is None:
            h = plot_h * 0.08
            parts.append(f'<rect class="bar suppressed" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{w:.1f}" '
                         f'height="{h:.1f}" fill="url(#hatch-{escape(ident)})" stroke="#888"/>')
            parts.append(f'<text x="{x + w / 2:.1f}" y="{TOP + plot_h - h - 4:.1f}" text-anchor="middle" '
                         'font-size="10" fill="#555">suppressed</text>')
        else:
            h = plot_h * (value / top) if top else 0
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{w:.1f}" '
                         f'height="{max(h, 0.5):.1f}" fill="{colour}"><title>{escape(label)}: '
                         f'{_number(value)}{escape(unit)}</title></rect>')
            if len(values) <= 16:
                parts.append(f'<text x="{x + w / 2:.1f}" y="{TOP + plot_h - h - 4:.1f}" text-anchor="middle" '
                             f'font-size="10">{_number(value)}</text>')
        parts.append(f'<text x="{x + w / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="end" font-size="11" '
                     f'transform="rotate(-35 {x + w / 2:.1f} {HEIGHT - BOTTOM + 16})">{escape(label)}</text>')
    parts.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 16}" y2="{TOP + plot_h}" stroke="#333"/>')
    parts.append("</svg>")
    return "".join(parts)


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:,.2f}"
