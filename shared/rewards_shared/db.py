"""PostgreSQL access shared by the services: one engine per process, explicit transactions,
and the tables every service database carries (outbox, processed events, revoked credentials)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

infrastructure = sa.MetaData()

# outbox rows refused at least once and not sent yet: they hold back the later rows of their key
_TROUBLED = sa.text("status <> 'sent' AND last_error IS NOT NULL")

outbox = sa.Table(
    "outbox", infrastructure,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("key", sa.Text),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("headers", sa.JSON, nullable=False, server_default="{}"),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("published_at", sa.DateTime(timezone=True)),
    sa.Column("last_attempt_at", sa.DateTime(timezone=True)),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name="outbox_status"),
    sa.Index("outbox_pending", "id", postgresql_where=sa.text("status = 'pending'")),
    sa.Index("outbox_troubled", "topic", "key", "id", postgresql_where=_TROUBLED),
    sa.Index("outbox_sent", "published_at", postgresql_where=sa.text("status = 'sent'")),
)

processed_events = sa.Table(
    "processed_events", infrastructure,
    sa.Column("consumer", sa.Text, primary_key=True),
    sa.Column("event_id", sa.Uuid, primary_key=True),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

revoked_credentials = sa.Table(
    "revoked_credentials", infrastructure,
    sa.Column("jti", sa.Text, primary_key=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
)

credential_use = sa.Table(
    "credential_use", infrastructure,
    sa.Column("jti", sa.Text, primary_key=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
)

idempotency_keys = sa.Table(
    "idempotency_keys", infrastructure,
    sa.Column("principal", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("method", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("request_hash", sa.Text, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("response", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

OUTBOX_CHANNEL = "outbox"

_NOTIFY_FUNCTION = f"""
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('{OUTBOX_CHANNEL}', '');
  RETURN NULL;
END $$;
"""
_NOTIFY_TRIGGER = """
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
"""


def create_infrastructure(op) -> None:
    """The shared tables as every service's first migration creates them (their schema, version 1).
    Later changes to them need a migration in each service, like any other table."""
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column("event_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("key", sa.Text()),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.JSON(), server_default="{}", nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True)),
    )
    op.create_index("outbox_pending", "outbox", ["id"], postgresql_where=sa.text("status = 'pending'"))
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.Text(), primary_key=True),
        sa.Column("event_id", sa.Uuid(), primary_key=True),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    )
    op.create_table(
        "revoked_credentials",
        sa.Column("jti", sa.Text(), primary_key=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("principal", sa.Text(), primary_key=True),
        sa.Column("key", sa.Text(), primary_key=True),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    )
    op.execute(_NOTIFY_FUNCTION)
    op.execute(_NOTIFY_TRIGGER)


def add_outbox_states(op) -> None:
    """Version 2 of the shared tables (each service's migration "outbox states"): the outbox's explicit
    states (pending, sent, failed) with retry times, and indexes for troubled rows and for purging."""
    op.add_column("outbox", sa.Column("last_attempt_at", sa.DateTime(timezone=True)))
    op.add_column("outbox", sa.Column("next_attempt_at", sa.DateTime(timezone=True)))
    op.create_check_constraint("outbox_status", "outbox", "status IN ('pending', 'sent', 'failed')")
    op.create_index("outbox_troubled", "outbox", ["topic", "key", "id"], postgresql_where=_TROUBLED)
    op.create_index("outbox_sent", "outbox", ["published_at"], postgresql_where=sa.text("status = 'sent'"))


def drop_outbox_states(op) -> None:
    op.drop_index("outbox_sent", table_name="outbox")
    op.drop_index("outbox_troubled", table_name="outbox")
    op.drop_constraint("outbox_status", "outbox", type_="check")
    op.execute("UPDATE outbox SET status = 'pending' WHERE status = 'failed'")
    op.drop_column("outbox", "next_attempt_at")
    op.drop_column("outbox", "last_attempt_at")


def drop_infrastructure(op) -> None:
    op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
    op.execute("DROP FUNCTION IF EXISTS outbox_notify()")
    for table in ("idempotency_keys", "revoked_credentials", "processed_events", "outbox"):
        op.drop_table(table)


def create_credential_use(op) -> None:
    """When each credential was last used here (added after version 1 of the shared tables)."""
    op.create_table(
        "credential_use",
        sa.Column("jti", sa.Text(), primary_key=True),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
    )


def create_outbox_trigger(op) -> None:
    """Wakes the relay on commit (for tables made outside a migration, as in tests)."""
    op.execute(_NOTIFY_FUNCTION)
    op.execute(_NOTIFY_TRIGGER)


def create_engine(url, **options) -> Engine:
    """Every engine of the project: errors and logs never carry bound parameters (an email, a phone
    number), nor the server's DETAIL line that quotes a row's values (`Key (email)=(…)`)."""
    engine = sa.create_engine(url, hide_parameters=True, **options)
    sa.event.listen(engine, "handle_error", _without_row_values)
    return engine


def _without_row_values(context) -> None:
    """PostgreSQL's DETAIL, HINT and CONTEXT lines may quote the failing row; keep only the first line
    (what went wrong, and which constraint) in the messages. `orig.diag` still has the rest."""
    for error in (context.original_exception, context.sqlalchemy_exception):
        if error is not None and error.args and isinstance(error.args[0], str) and "\n" in error.args[0]:
            error.args = (error.args[0].split("\n", 1)[0], *error.args[1:])


class Database:
    """No pre-ping on checkout: it would cost a round trip per transaction. A connection that died
    with the server fails once, is discarded, and the failure is treated as transient by callers."""

    def __init__(self, url: str, *, pool_size: int = 5, echo: bool = False):
        self.url = url
        self.engine: Engine = create_engine(
            url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800, echo=echo,
        )
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._reader: Engine | None = None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits together on success and rolls back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        """A connection for a single read statement: autocommit, so no BEGIN/COMMIT round trips."""
        if self._reader is None:
            self._reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        with self._reader.connect() as connection:
            yield connection

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def libpq_url(url: str) -> str:
    """The plain libpq form of a SQLAlchemy URL, for psycopg connections of our own."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def ensure_database(url: str) -> bool:
    """Create the database named in `url` on its server if missing; True when it was created."""
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            ).scalar()
            if exists:
                return False
            connection.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
            return True
    finally:
        admin.dispose()


def drop_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    finally:
        admin.dispose()
