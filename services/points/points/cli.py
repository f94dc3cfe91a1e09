"""`rewards ledger …` and `rewards members …`: commands for the points ledger and members."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from rewards_shared.auth import Principal
from rewards_shared.errors import DomainError

from . import services
from .bootstrap import bootstrap

# Whoever can run this reads the service's database directly: staff (support, for members' data).
SUPPORT = Principal(role="support", jti="cli")


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
