"""`rewards ledger …`: commands for the points ledger."""
from __future__ import annotations

import sys

import click

from . import services
from .bootstrap import bootstrap


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
