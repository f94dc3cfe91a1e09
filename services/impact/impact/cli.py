"""`rewards impact …` (factor sets and areas) and `rewards report impact …` (the report as a file)."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from rewards_shared.errors import DomainError

from . import services
from .bootstrap import bootstrap


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a day like 2026-11-30") from None


def _run(action):
    rt = bootstrap()
    try:
        return action(rt)
    except DomainError as error:
        raise click.ClickException(error.detail) from error
    finally:
        rt.database.dispose()


@click.group()
def impact() -> None:
    """CO2e factor sets and the postcode district lookup behind the impact report."""


@impact.group()
def factors() -> None:
    """DESNZ CO2e factor sets, one per year; a set is never changed once loaded."""


@factors.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--version", "version", required=True, help="The DESNZ year of the figures, e.g. 2026")
def load_factors(file: Path, version: str) -> None:
    """Load a factor file (columns mode, unit, kg_co2e_per_unit[, source_note]) as a new version."""
    created = _run(lambda rt: services.load_factors(rt, file.read_text(encoding="utf-8-sig"), version=version,
                                                    source=file.name))
    click.echo(f"factor set {version} {'loaded' if created else 'was already loaded with these figures'}")


@factors.command("list")
def list_factors() -> None:
    """The factor sets loaded, oldest first."""
    sets = _run(services.factor_sets)
    click.echo(f"{'version':<8} {'loaded_at':<26} source")
    for s in sets:
        click.echo(f"{s['version']:<8} {s['loaded_at']:%Y-%m-%d %H:%M:%S%z}   {s['source']}")


@impact.group()
def areas() -> None:
    """The postcode district lookup: ward, local authority and deprivation decile."""


@areas.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load_areas(file: Path) -> None:
    """Replace the lookup with a CSV of postcode_district, ward, local_authority, imd_decile."""
    count = _run(lambda rt: services.load_areas(rt, file.read_text(encoding="utf-8-sig")))
    click.echo(f"{count} postcode districts loaded")


@click.group()
def report() -> None:
    """Reports for the council."""


@report.command("impact")
@click.option("--from", "start", required=True, help="First day, e.g. 2026-11-01")
@click.option("--to", "end", required=True, help="Last day, included")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="FILE.html (a printable page), FILE.csv or FILE.json")
@click.option("--group-by", type=click.Choice(["week", "month", "mode", "area"]), default=None,
              help="Add a breakdown (CSV and JSON)")
def impact_report(start: str, end: str, out: Path, group_by: str | None) -> None:
    """Write the impact report for a period: the same figures the API serves."""
    first, last = _day(start), _day(end)
    kind = out.suffix.lower()
    if kind not in (".html", ".csv", ".json"):
        raise click.BadParameter("--out ends in .html, .csv or .json")
    if kind == ".html":
        body = _run(lambda rt: services.report_page(rt, first, last))
    elif kind == ".csv":
        body = _run(lambda rt: services.report_csv(rt, first, last, group_by))
    else:
        body = json.dumps(_run(lambda rt: services.report(rt, first, last, group_by)), indent=2)
    out.write_text(body, encoding="utf-8")
    click.echo(f"wrote {out} ({len(body.encode()):,} bytes)")
