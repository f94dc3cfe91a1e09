"""Rendering messages from Jinja2 templates: one folder per locale, British English by default.

Each kind has `<kind>.txt` with blocks `title` and `body` (inbox, push, SMS, the email's subject and
plain-text part) and `<kind>.html` (the email's HTML part). A locale without its own folder, or
without a template for a kind, falls back to its language and then to en-GB.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, pass_context, select_autoescape

DEFAULT_LOCALE = "en-GB"
DEFAULT_TIME_ZONE = "Europe/London"
FOLDER = Path(__file__).parent / "templates"

_ACTIVITIES = {"journey": "your journey", "volunteering": "volunteering", "challenge": "completing a challenge"}
_REASONS = {
    "insufficient_points": "you don't have enough points",
    "out_of_stock": "it has run out",
    "limit_reached": "you've reached the limit for this reward",
    "reward_inactive": "it is no longer available",
}


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str
    html: str


def _points(value: int) -> str:
    return f"{value} point" if abs(value) == 1 else f"{value} points"


@pass_context
def _longdate(context, value: str | datetime) -> str:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    moment = moment.astimezone(ZoneInfo(context.get("time_zone") or DEFAULT_TIME_ZONE))
    return f"{moment.day} {moment:%B %Y}"


def _activity(source_type: str | None) -> str:
    return _ACTIVITIES.get(source_type or "", "taking part")


def _reason(reason: str) -> str:
    """A refusal in words: its code ("insufficient_points"), then any detail after the colon, in brackets
    and without its own full stop, since the template ends the sentence."""
    code, _, detail = reason.partition(":")
    words = _REASONS.get(code.strip(), code.strip().replace("_", " "))
    detail = detail.strip().rstrip(".")
    return f"{words} ({detail})" if detail else words


class Templates:
    def __init__(self, folder: Path = FOLDER):
        self.folder = folder
        self.environment = Environment(loader=FileSystemLoader(folder), autoescape=select_autoescape(["html"]),
                                       undefined=StrictUndefined, keep_trailing_newline=False)
        self.environment.filters.update(points=_points, longdate=_longdate, activity=_activity, reason=_reason)

    def locales(self) -> list[str]:
        return sorted(p.name for p in self.folder.iterdir() if p.is_dir())

    def candidates(self, locale: str | None) -> list[str]:
        wanted = [locale] if locale else []
        if locale and "-" in locale:
            wanted.append(locale.split("-")[0])
        available = set(self.locales())
        found = [name for name in wanted if name in available]
        return found + [DEFAULT_LOCALE] if DEFAULT_LOCALE not in found else found

    def _template(self, kind: str, suffix: str, locale: str | None):
        for candidate in self.candidates(locale):
            try:
                return self.environment.get_template(f"{candidate}/{kind}.{suffix}"), candidate
            except TemplateNotFound:
                continue
        raise LookupError(f"no {suffix} template for {kind}")

    def render(self, kind: str, context: dict, locale: str | None = None, time_zone: str | None = None) -> Rendered:
        text, used = self._template(kind, "txt", locale)
        values = {"locale": used, "time_zone": time_zone or DEFAULT_TIME_ZONE, **context}
        title = _block(text, "title", values)
        body = _block(text, "body", values)
        html, _ = self._template(kind, "html", used)
        return Rendered(title, body, html.render(**values, title=title).strip())


def _block(template, name: str, values: dict) -> str:
    return "".join(template.blocks[name](template.new_context(values))).strip()


@lru_cache(maxsize=1)
def default_templates() -> Templates:
    return Templates()
