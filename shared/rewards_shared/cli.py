"""`rewards`: the one command-line tool. Services add their own groups through the
`rewards.cli` entry point group (the ledger's `verify`, transit's `feeds load`)."""
from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path

import click

from . import kafka
from .config import REPO_ROOT


def load_env_file() -> None:
    """Settings of the running local stack, unless the environment already says otherwise."""
    path = Path(os.environ.get("REWARDS_ENV_FILE", REPO_ROOT / ".local" / "stack.env"))
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not line.startswith("#"):
            os.environ.setdefault(key.strip(), value.strip())


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise click.ClickException(f"{name} is not set (run `make up`, or set it in the environment)")
    return value


@click.group()
def cli() -> None:
    """Smart Leeds Rewards administration."""


@cli.group()
def credentials() -> None:
    """Issue and revoke bearer credentials."""


_TTL_UNITS = {"m": 60, "h": 3600, "d": 86400}


def _ttl_seconds(ttl: str | None, ttl_days: int | None, role: str) -> int:
    """--ttl (30m, 1h, 90d) or --ttl-days; else 1 hour for a member's credential and
    REWARDS_CREDENTIAL_TTL_DAYS (default 90) days for any other."""
    from .auth import MEMBER_TTL_SECONDS

    if ttl:
        number, unit = ttl[:-1], ttl[-1:].lower()
        if unit not in _TTL_UNITS or not number.isdigit() or int(number) <= 0:
            raise click.BadParameter("a number and a unit: 30m, 12h, 90d", param_hint="--ttl")
        return int(number) * _TTL_UNITS[unit]
    if ttl_days:
        return ttl_days * 86400
    if role.startswith("member:"):
        return MEMBER_TTL_SECONDS
    return int(os.environ.get("REWARDS_CREDENTIAL_TTL_DAYS", "90")) * 86400


@credentials.command("issue")
@click.option("--role", required=True, help="app, admin, catalogue, finance, support, analyst, or kind:id for "
                                            "operator, partner, organiser, provider, member")
@click.option("--subject", help="The operator, partner, organiser, provider or member id the credential acts for")
@click.option("--ttl", default=None, help="Lifetime, e.g. 30m, 12h, 90d (default: 1h for a member, else "
                                          "REWARDS_CREDENTIAL_TTL_DAYS, 90 days)")
@click.option("--ttl-days", type=int, default=None, help="Lifetime in days")
def issue_credential(role: str, subject: str | None, ttl: str | None, ttl_days: int | None) -> None:
    from .auth import issue_credential as issue

    full_role = f"{role}:{subject}" if subject and ":" not in role else role
    key = Path(env("REWARDS_SIGNING_KEY_FILE")).read_text()
    try:
        issued = issue(key, full_role, ttl_seconds=_ttl_seconds(ttl, ttl_days, full_role))
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--role") from error
    log_issued(issued)
    click.echo(issued.token)


@credentials.command("revoke")
@click.argument("credential")
def revoke_credential(credential: str) -> None:
    """Revoke by credential id (jti) or by the token itself."""
    import jwt

    from .events import Event, encode
    from .topics import CREDENTIALS

    jti = credential
    if credential.count(".") == 2:
        jti = jwt.decode(credential, options={"verify_signature": False})["jti"]
    event = Event.create("credential.revoked", "rewards-cli", None, {"jti": jti, "revoked_at": _now()})
    producer = kafka.producer(env("KAFKA_BOOTSTRAP_SERVERS"), "rewards-cli")
    producer.send(CREDENTIALS, key=jti.encode(), value=encode(event)).get(timeout=30)
    producer.close()
    _log_credential({"jti": jti, "revoked_at": event.data["revoked_at"]})
    click.echo(f"revoked {jti}")


@credentials.command("list")
def list_credentials() -> None:
    """Every credential issued here: role, when it expires, when it was last used (by any service), state.

    Last use comes from each service's own database, where its web processes note it at most once a minute."""
    path = Path(env("REWARDS_CREDENTIALS_LOG", str(REPO_ROOT / ".local" / "keys" / "credentials.jsonl")))
    issued: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            issued.setdefault(entry["jti"], {}).update(entry)
    used = _last_uses(list(issued))
    now = datetime.now(UTC)
    click.echo(f"{'credential':<32}  {'role':<28} {'issued':<20} {'expires':<20} {'last used':<20} state")
    for jti, entry in issued.items():
        expires = datetime.fromisoformat(entry["expires_at"]) if entry.get("expires_at") else None
        state = "revoked" if "revoked_at" in entry else "expired" if expires and expires <= now else "active"
        last = used.get(jti)
        click.echo(f"{jti:<32}  {entry.get('role', '?'):<28} {_day_time(entry.get('issued_at')):<20} "
                   f"{_day_time(entry.get('expires_at')) or 'never':<20} "
                   f"{(_day_time(last[0].isoformat()) + ' ' + last[1]) if last else 'never':<20} {state}")


def _last_uses(jtis: list[str]) -> dict[str, tuple[datetime, str]]:
    """jti → (last use, the service) across every service's database that answers."""
    import sqlalchemy as sa

    from .config import Settings
    from .db import create_engine, credential_use
    from .service import discover

    latest: dict[str, tuple[datetime, str]] = {}
    for name in discover():
        engine = create_engine(Settings.from_env(name).database_url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(sa.select(credential_use.c.jti, credential_use.c.last_used_at)
                                          .where(credential_use.c.jti.in_(jtis))).all()
        except sa.exc.SQLAlchemyError as error:
            click.echo(f"({name}: last use unknown, {type(error).__name__})", err=True)
            continue
        finally:
            engine.dispose()
        for jti, at in rows:
            if jti not in latest or at > latest[jti][0]:
                latest[jti] = (at, name)
    return latest


def _day_time(stamp: str | None) -> str:
    return stamp[:16].replace("T", " ") if stamp else ""


def log_issued(issued) -> None:
    """Record a credential issued here (never its token), for `credentials list`."""
    _log_credential({"jti": issued.jti, "role": issued.role,
                     "issued_at": datetime.fromtimestamp(issued.issued_at, UTC).isoformat(),
                     "expires_at": datetime.fromtimestamp(issued.expires_at, UTC).isoformat()})


def _log_credential(entry: dict) -> None:
    path = Path(os.environ.get("REWARDS_CREDENTIALS_LOG", REPO_ROOT / ".local" / "keys" / "credentials.jsonl"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.write(json.dumps(entry) + "\n")


def _now() -> str:
    return datetime.now(UTC).isoformat()


@cli.group()
def topics() -> None:
    """Kafka topics."""


@topics.command("create")
def create_topics() -> None:

    created = kafka.ensure_topics(env("KAFKA_BOOTSTRAP_SERVERS"))
    click.echo("created: " + (", ".join(created) or "nothing (all exist)"))


@topics.command("list")
def list_topics() -> None:
    admin = kafka.admin(env("KAFKA_BOOTSTRAP_SERVERS"), "rewards-cli")
    for name in sorted(admin.list_topics()):
        click.echo(name)
    admin.close()


@cli.group()
def db() -> None:
    """Service databases."""


@db.command("migrate")
@click.argument("services", nargs=-1)
def migrate_databases(services: tuple[str, ...]) -> None:
    from .config import Settings
    from .service import discover, migrate

    known = discover()
    for name in services or known:
        if name not in known:
            raise click.BadParameter(f"unknown service {name}; known: {', '.join(known)}")
        migrate(known[name], Settings.from_env(name).database_url)
        click.echo(f"{name}: migrated")


@cli.group()
def dlq() -> None:
    """Dead-letter topics: look at poison messages and send them back once fixed."""


def _selection(offset: int | None, partition: int, event_id: str | None):
    from .deadletters import Selection

    if offset is not None and event_id is not None:
        raise click.UsageError("pick one message by --offset or by --event-id, not both")
    return Selection(offset=offset, partition=partition, event_id=event_id)


def _select_options(command):
    command = click.option("--event-id", help="Only the message whose envelope has this id")(command)
    command = click.option("--partition", default=0, show_default=True, help="The partition --offset is in")(command)
    return click.option("--offset", type=click.IntRange(min=0), help="Only the message at this offset")(command)


def _count(number: int) -> str:
    return f"{number} message" + ("" if number == 1 else "s")


@dlq.command("list")
@click.argument("topic")
@click.option("--limit", default=50, show_default=True)
@_select_options
def dlq_list(topic: str, limit: int, offset: int | None, partition: int, event_id: str | None) -> None:
    """Show dead-lettered messages with the headers that say why, oldest first."""
    from .deadletters import DeadLetterError, read

    try:
        records = read(env("KAFKA_BOOTSTRAP_SERVERS"), topic, _selection(offset, partition, event_id), limit=limit)
    except DeadLetterError as error:
        raise click.ClickException(str(error)) from error
    for record in records:
        headers = {k: v.decode(errors="replace") for k, v in record.headers or []}
        click.echo(json.dumps({"partition": record.partition, "offset": record.offset,
                               "key": record.key.decode(errors="replace") if record.key else None,
                               "headers": headers, "value": record.value.decode(errors="replace")[:500]}))
    # After the JSON lines the count goes to stderr, so stdout stays one message a line for scripts.
    click.echo(_count(len(records)), err=bool(records))


@dlq.command("replay")
@click.argument("topic")
@click.option("--limit", default=1000, show_default=True)
@_select_options
def dlq_replay(topic: str, limit: int, offset: int | None, partition: int, event_id: str | None) -> None:
    """Publish dead-lettered messages back to their source topic: all of them, or the one chosen by
    --offset or --event-id. Consumers skip an event id they have applied, so a repeat does no harm."""
    from .deadletters import DeadLetterError, replay

    selection = _selection(offset, partition, event_id)
    try:
        count = replay(env("KAFKA_BOOTSTRAP_SERVERS"), topic, selection, limit=limit)
    except DeadLetterError as error:
        raise click.ClickException(str(error)) from error
    if selection.filtered and not count:
        raise click.ClickException(f"no message in {topic} matches "
                                   + (f"offset {offset}" if offset is not None else f"event id {event_id}"))
    click.echo(f"replayed {_count(count)}")


@cli.group("outbox")
def outbox_group() -> None:
    """Each service's outbox: rows the broker refused until their last attempt, and retrying them."""


def _service_databases(services: tuple[str, ...]):
    from .config import Settings
    from .db import Database
    from .service import discover

    known = discover()
    for name in services or known:
        if name not in known:
            raise click.BadParameter(f"unknown service {name}; known: {', '.join(known)}")
        yield name, Database(Settings.from_env(name).database_url, pool_size=1)


@outbox_group.command("list")
@click.argument("services", nargs=-1)
@click.option("--status", type=click.Choice(["failed", "pending"]), default="failed", show_default=True)
@click.option("--limit", default=100, show_default=True)
def outbox_list(services: tuple[str, ...], status: str, limit: int) -> None:
    """Outbox rows (of every service, or those named) as JSON lines, with how many later rows of the
    same key each holds back."""
    from . import outbox

    for name, database in _service_databases(services):
        try:
            with database.transaction() as session:
                rows = outbox.listing(session, status=status, limit=limit)
        finally:
            database.dispose()
        for row in rows:
            click.echo(json.dumps({"service": name, **row}, default=str))


@outbox_group.command("retry")
@click.argument("service")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "every", is_flag=True, help="Retry every failed row of the service")
def outbox_retry(service: str, ids: tuple[int, ...], every: bool) -> None:
    """Put failed rows back to pending with fresh attempts: the ids `outbox list` shows, or --all."""
    from . import outbox

    if bool(ids) == every:
        raise click.UsageError("name the row ids to retry, or give --all")
    for _, database in _service_databases((service,)):
        try:
            with database.transaction() as session:
                count = outbox.retry(session, None if every else ids)
        finally:
            database.dispose()
        click.echo(f"{service}: {count} row(s) back to pending")


@cli.group()
def stack() -> None:
    """The local stack (what `make up` and `make down` run)."""


@stack.command("up")
def stack_up() -> None:
    from . import devstack

    started = time.monotonic()
    local = devstack.Stack.default()
    devstack.infra_up(local)
    env_vars = devstack.prepare(local)
    devstack.services_up(local, env_vars)
    _print_welcome(local, env_vars, time.monotonic() - started)


@stack.command("down")
@click.option("--keep-infra", is_flag=True, help="Stop only the services")
def stack_down(keep_infra: bool) -> None:
    from . import devstack

    local = devstack.Stack.default()
    devstack.services_down(local)
    if not keep_infra:
        devstack.infra_down(local)
    click.echo("stopped")


DEV_ROLES = ("app", "operator:leeds-bus", "partner:leeds-cafe", "organiser:leeds-volunteers",
             "provider:leeds-bikes", "admin", "catalogue", "finance", "support", "analyst")


def write_dev_tokens(local, env_vars: dict[str, str]) -> dict[str, str]:
    """A fresh credential per development role, in `<keys>/dev-tokens.env` as APP_TOKEN=… lines (what the
    README sources); role → token."""
    from .auth import issue_credential

    key = Path(env_vars["REWARDS_SIGNING_KEY_FILE"]).read_text()
    tokens = {}
    for role in DEV_ROLES:
        issued = issue_credential(key, role)
        tokens[role] = issued.token
        log_issued(issued)
    tokens_file = local.keys / "dev-tokens.env"
    tokens_file.write_text("".join(
        f"{role.split(':')[0].upper()}_TOKEN={token}\n" for role, token in tokens.items()))
    tokens_file.chmod(0o600)
    return tokens


def _print_welcome(local, env_vars: dict[str, str], seconds: float) -> None:
    from .service import discover

    tokens = write_dev_tokens(local, env_vars)
    click.echo(f"\nSmart Leeds Rewards is up ({seconds:.0f}s).\n")
    for info in discover().values():
        url = local.base_url(info)
        click.echo(f"  {info.name:<15} {url}   docs {url}/docs   metrics {url}/metrics")
    click.echo(f"  kafka           {env_vars['KAFKA_BOOTSTRAP_SERVERS']}")
    click.echo(f"  postgresql      {env_vars['DATABASE_URL']}")
    click.echo("\nCredentials (also in .local/keys/dev-tokens.env; `source` it for $APP_TOKEN etc.):")
    for role, token in tokens.items():
        click.echo(f"  {role:<28} {token}")
    click.echo(f"\nLogs in .local/logs; the servers' data and logs in {local.servers}; "
               "stop everything with `make down` (`make clean` also deletes the data).")


def _register_plugins() -> None:
    for entry in entry_points(group="rewards.cli"):
        command = entry.load()
        cli.add_command(command, entry.name)


def main() -> None:
    load_env_file()
    _register_plugins()
    cli(prog_name="rewards")


if __name__ == "__main__":
    main()
