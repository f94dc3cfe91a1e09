"""`rewards settlement …`: what the council owes partners, for the finance team."""
from __future__ import annotations

import json

import click

from rewards_shared.auth import Principal
from rewards_shared.errors import DomainError

from . import services
from .bootstrap import bootstrap

# Whoever can run this reads the service's database directly: staff.
STAFF = Principal(role="finance", jti="cli")


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
    try:
        rt = bootstrap()
    except ValueError as error:  # no voucher key configured
        raise click.ClickException(str(error)) from error
    try:
        found = services.settlement_statement(rt, STAFF, partner_id, period_from.date(), period_to.date())
    except DomainError as error:
        raise click.ClickException(error.detail) from error
    finally:
        rt.database.dispose()
    click.echo(found.to_csv() if output == "csv" else json.dumps(found.to_dict(), indent=2), nl=False)
