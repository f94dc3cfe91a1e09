"""`rewards ledger …`: commands for the points ledger."""
from __future__ import annotations

import sys

import click

from rewards_shared.config import Settings
from rewards_shared.db import Database

from .verify import snapshot, verify


@click.group()
def ledger() -> None:
    """The points ledger."""


@ledger.command("verify")
def verify_command() -> None:
    """Check every invariant; exit 1 on any breach."""
    database = Database(Settings.from_env("points").database_url)
    try:
        with snapshot(database) as session:
            report = verify(session)
    finally:
        database.dispose()
    click.echo(f"checked {report.accounts} accounts and {report.transfers} transfers")
    for breach in report.breaches:
        click.echo(f"BREACH {breach}")
    if not report.ok:
        sys.exit(1)
    click.echo("ledger OK: debits equal credits, balances equal their transfers, nobody below zero, "
               "every hold resolved or live, lots match balances")
