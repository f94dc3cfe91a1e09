"""`rewards settlement …`: what the council owes partners, for the finance team."""
from __future__ import annotations

import json

import click

from rewards_shared.config import Settings
from rewards_shared.db import Database
from rewards_shared.errors import DomainError

from . import catalogue
from . import settlement as statements


@click.group()
def settlement() -> None:
    """Settlement statements per partner and period."""


@settlement.command("statement")
@click.argument("partner_id")
@click.option("--from", "period_from", type=click.DateTime(["%Y-%m-%d"]), required=True, help="First day")
@click.option("--to", "period_to", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Last day, included")
@click.option("--format", "output", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
def statement_command(partner_id: str, period_from, period_to, output: str) -> None:
    """Vouchers a partner redeemed in the period, per reward, and what the council owes."""
    database = Database(Settings.from_env("redemption").database_url)
    try:
        with database.transaction() as session:
            catalogue.partner(session, partner_id)
            found = statements.statement(session, partner_id, period_from.date(), period_to.date())
    except DomainError as error:
        raise click.ClickException(error.detail) from error
    finally:
        database.dispose()
    click.echo(found.to_csv() if output == "csv" else json.dumps(found.to_dict(), indent=2), nl=False)
