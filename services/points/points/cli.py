"""`rewards ledger …`, `rewards members …` and `rewards volunteering …`: commands for the points ledger,
members and volunteering."""
from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path

import click

from rewards_shared.auth import Principal
from rewards_shared.errors import DomainError

from . import services
from .bootstrap import bootstrap

# Whoever can run this reads the service's database directly: staff (support, for members' data).
SUPPORT = Principal(role="support", jti="cli")
# …and catalogue staff, who run opportunities on organisers' behalf.
CATALOGUE = Principal(role="catalogue", jti="cli")


@click.group()
def ledger() -> None:
    """The points ledger."""


@ledger.command("verify")
def verify_command() -> None:
    """Check every invariant; exit 1 on any breach."""
    rt = bootstrap()
    try:
        report = services.verify_ledger(rt)
    finally:
        rt.database.dispose()
    click.echo(f"checked {report.accounts} accounts and {report.transfers} transfers")
    for breach in report.breaches:
        click.echo(f"BREACH {breach}")
    if not report.ok:
        sys.exit(1)
    click.echo("ledger OK: debits equal credits, balances equal their transfers, nobody below zero, "
               "every hold resolved or live, lots match balances")


@click.group()
def members() -> None:
    """Members: subject access."""


@members.command("export")
@click.argument("member_id")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write the document here (else stdout)")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds to wait for every service")
def export_command(member_id: str, out: str | None, timeout: float) -> None:
    """Everything every service holds about a member, as one JSON document (as support staff).

    Every service answers over Kafka, so the workers must be running."""
    rt = bootstrap()
    try:
        try:
            export = services.request_export(rt, SUPPORT, member_id)
        except DomainError as error:
            raise click.ClickException(error.detail) from error
        deadline = time.monotonic() + timeout
        while export["status"] != "done":
            if time.monotonic() > deadline:
                waiting = ", ".join(name for name, state in export["services"].items() if state == "waiting")
                raise click.ClickException(f"export {export['export_id']} is still waiting for: {waiting}")
            time.sleep(0.5)
            export = services.get_export(rt, SUPPORT, export["export_id"])
    finally:
        rt.database.dispose()
    document = json.dumps(export["document"], indent=2, sort_keys=True, default=str)
    if out:
        Path(out).write_text(document + "\n")
        click.echo(f"export {export['export_id']} written to {out}", err=True)
    else:
        click.echo(document)


@click.group()
def volunteering() -> None:
    """Volunteering opportunities."""


@volunteering.command("code")
@click.argument("opportunity_id")
@click.option("--at", "moment", metavar="TIME", default=None,
              help="The code the organiser's screen showed then (ISO 8601 with an offset), e.g. for a scan made "
                   "offline; else now")
def code_command(opportunity_id: str, moment: str | None) -> None:
    """An opportunity's check-in code, as JSON {code, valid_from, valid_until}.

    It needs the code key (VOLUNTEERING_CODE_KEY), which only whoever runs the service holds."""
    at = _aware(moment) if moment else None
    rt = bootstrap()
    try:
        try:
            code = services.current_code(rt, CATALOGUE, opportunity_id, at=at)
        except DomainError as error:
            raise click.ClickException(error.detail) from error
    finally:
        rt.database.dispose()
    click.echo(json.dumps({name: code[name] for name in ("code", "valid_from", "valid_until")}, default=str))


def _aware(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint="--at") from error
    if moment.tzinfo is None:
        raise click.BadParameter(f"{value!r} needs an offset (Z or +01:00)", param_hint="--at")
    return moment
