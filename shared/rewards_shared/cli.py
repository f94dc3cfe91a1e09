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


@credentials.command("issue")
@click.option("--role", required=True, help="app, admin, operator, partner or organiser (or kind:id)")
@click.option("--subject", help="The operator, partner or organiser id the credential acts for")
@click.option("--ttl-days", type=int, default=None, help="Expire after this many days")
def issue_credential(role: str, subject: str | None, ttl_days: int | None) -> None:
    from .auth import issue

    full_role = f"{role}:{subject}" if subject and ":" not in role else role
    key = Path(env("REWARDS_SIGNING_KEY_FILE")).read_text()
    try:
        token, jti = issue(key, full_role, ttl_seconds=ttl_days * 86400 if ttl_days else None)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--role") from error
    _log_credential({"jti": jti, "role": full_role, "issued_at": _now(), "ttl_days": ttl_days})
    click.echo(token)


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
    path = Path(env("REWARDS_CREDENTIALS_LOG", str(REPO_ROOT / ".local" / "keys" / "credentials.jsonl")))
    issued: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            issued.setdefault(entry["jti"], {}).update(entry)
    for entry in issued.values():
        state = "revoked" if "revoked_at" in entry else "active"
        click.echo(f"{entry['jti']}  {entry.get('role', '?'):<28} {entry.get('issued_at', '')}  {state}")


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


def _print_welcome(local, env_vars: dict[str, str], seconds: float) -> None:
    from .auth import issue
    from .service import discover

    key = Path(env_vars["REWARDS_SIGNING_KEY_FILE"]).read_text()
    tokens = {}
    for role in ("app", "operator:leeds-bus", "partner:leeds-cafe", "organiser:leeds-volunteers", "admin",
                 "analyst"):
        tokens[role], jti = issue(key, role)
        _log_credential({"jti": jti, "role": role, "issued_at": _now(), "ttl_days": None})
    tokens_file = local.keys / "dev-tokens.env"
    tokens_file.write_text("".join(
        f"{role.split(':')[0].upper()}_TOKEN={token}\n" for role, token in tokens.items()))
    tokens_file.chmod(0o600)
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
