"""`rewards feeds …` and `rewards operators …`: the transit-ingest commands of the `rewards` CLI."""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from rewards_shared.config import Settings
from rewards_shared.db import Database
from rewards_shared.errors import DomainError

from . import SERVICE, services
from . import feeds as feed_files
from . import operators as registry
from .bootstrap import TransitIngest, bootstrap
from .formats import FORMATS


@contextmanager
def _runtime() -> Iterator[TransitIngest]:
    """The service's runtime for one command; a domain error becomes the command's error message."""
    settings = Settings.from_env(SERVICE.name)
    if not settings.get_secret("CARD_HMAC_KEY"):
        raise click.ClickException("CARD_HMAC_KEY (or CARD_HMAC_KEY_FILE) is not set (run `make up`)")
    rt = bootstrap(settings, database=Database(settings.database_url, pool_size=2))
    try:
        yield rt
    except DomainError as error:
        raise click.ClickException(error.detail) from None
    finally:
        rt.database.dispose()


@click.group("feeds")
def feeds() -> None:
    """Operator tap files."""


@feeds.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--operator", "operator_id", required=True, help="The registered operator the file is from")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True)
@click.option("--quiet", is_flag=True, help="No progress bar")
def load(file: Path, operator_id: str, fmt: str, quiet: bool) -> None:
    """Load FILE as a feed of OPERATOR, with a progress bar; the same path as an upload through the API."""
    from tqdm import tqdm

    with _runtime() as rt, file.open("rb") as body, \
            tqdm(total=file.stat().st_size, unit="B", unit_scale=True, desc=file.name, disable=quiet) as bar:
        def show(progress: feed_files.Progress) -> None:
            bar.set_postfix(stage=progress.stage, rows=progress.rows, refresh=False)
            bar.update(progress.bytes_read - bar.n)
        feed = services.load_feed(rt, operator_id, fmt, body, filename=file.name, on_progress=show)
    summary = {name: getattr(feed, name) for name in (
        "status", "reason", "rows", "accepted", "replaced", "duplicates", "ignored", "rejected")}
    click.echo(json.dumps({"feed_id": str(feed.id), **summary}))
    if feed.status == "failed":
        raise SystemExit(1)


@feeds.command("stops")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--operator", "operator_id", required=True)
def load_stops(file: Path, operator_id: str) -> None:
    """Load the operator's GTFS stops.txt, for distances of journeys whose taps have no position."""
    with _runtime() as rt, file.open("rb") as body:
        loaded = services.load_stops(rt, operator_id, body)
    click.echo(json.dumps({"stops": loaded.stops, "skipped": loaded.skipped, "rejected": loaded.rejected,
                           "errors": [e.__dict__ for e in loaded.errors[:20]]}))


@click.group("operators")
def operators() -> None:
    """The transit operator registry."""


@operators.command("register")
@click.argument("operator_id")
@click.option("--name", required=True)
@click.option("--default-mode", default="bus", show_default=True)
@click.option("--fare-model", type=click.Choice(registry.FARE_MODELS), default="variable", show_default=True)
@click.option("--participant-id", default=None, help="Littlepay participant_id, if not OPERATOR_ID")
@click.option("--card-ref-field", type=click.Choice(registry.CARD_REF_FIELDS), default="funding_source_id",
              show_default=True)
def register(operator_id: str, name: str, default_mode: str, fare_model: str, participant_id: str | None,
             card_ref_field: str) -> None:
    """Register an operator (the same as POST /v1/operators)."""
    with _runtime() as rt:
        services.register_operator(rt, operator_id, name=name, default_mode=default_mode, fare_model=fare_model,
                                   participant_id=participant_id, card_ref_field=card_ref_field)
    click.echo(f"registered {operator_id}")
