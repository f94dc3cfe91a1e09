"""A database error about a row holding an email address: the consumer's retries and dead letter, a web
request's 500 and the PostgreSQL server's own log name the constraint that failed, never the address."""
from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint

from rewards_shared import devstack, kafka, logs
from rewards_shared.config import Settings
from rewards_shared.consumer import Backoff, ConsumerLoop
from rewards_shared.events import Event, encode
from rewards_shared.runtime import Runtime
from rewards_shared.topics import TopicSpec, dead_letter_topic
from rewards_shared.web import create_service_app
from tests.integration.conftest import Running, read_topic
from tests.support.polling import wait_for

addresses = sa.Table(
    "privacy_addresses", sa.MetaData(),
    sa.Column("email", sa.Text, unique=True),
    sa.CheckConstraint("length(email) < 200", name="privacy_addresses_email_short"),
)


@contextmanager
def printed_logs() -> Iterator[io.StringIO]:
    """What the services print: JSON lines from the project's formatter, on the root logger."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logs.JsonFormatter("test"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)


@pytest.fixture
def table(scratch_db):
    with scratch_db.engine.begin() as connection:
        addresses.create(connection, checkfirst=True)
    return addresses


def email() -> str:
    return f"leak.{uuid.uuid4().hex[:10]}@example.org"


def test_a_failing_event_is_retried_and_dead_lettered_without_the_address(infra, scratch_db, table, topic):
    taken, too_long = email(), email() + "x" * 200
    with scratch_db.transaction() as session:
        session.execute(table.insert().values(email=taken))

    def store(session, event):
        session.execute(table.insert().values(email=event.data["email"]))

    name = f"privacy-{uuid.uuid4().hex[:8]}"
    kafka.ensure_topics(infra.bootstrap, (TopicSpec(dead_letter_topic(topic, name), partitions=1),))
    loop = ConsumerLoop(name=name, topics=[topic], handlers={"credential.revoked": store}, database=scratch_db,
                        consumer_factory=lambda: kafka.consumer(infra.bootstrap, name, name),
                        producer_factory=lambda: kafka.producer(infra.bootstrap, name),
                        backoff=Backoff(initial=0.01, maximum=0.05), poll_timeout_ms=100)
    producer = kafka.producer(infra.bootstrap, "privacy-test")
    for address in (taken, too_long):
        event = Event("credential.revoked", "test", None, {"email": address})
        producer.send(topic, value=encode(event)).get(timeout=10)
    producer.close()
    with printed_logs() as captured, Running(loop):
        dead = read_topic(infra.bootstrap, dead_letter_topic(topic, name), expected=2, timeout=60)
    assert len(dead) == 2
    errors = [dict(record.headers)["error"].decode() for record in dead]
    assert "privacy_addresses_email_key" in errors[0] and "privacy_addresses_email_short" in errors[1]
    printed = captured.getvalue()
    assert "event failed; retrying" in printed and "privacy_addresses_email_key" in printed
    for address in (taken, too_long):
        assert address not in printed and all(address not in error for error in errors)


def test_a_request_that_fails_in_the_database_logs_no_address(infra, scratch_db, table):
    taken = email()
    with scratch_db.transaction() as session:
        session.execute(table.insert().values(email=taken))
    blueprint = Blueprint("privacy", __name__, url_prefix="/test")

    @blueprint.route("/addresses")
    class Addresses(MethodView):
        def post(self):
            with scratch_db.transaction() as session:
                session.execute(table.insert().values(email=taken))

    settings = Settings(service="privacy-test", database_url=scratch_db.url, kafka_bootstrap=infra.bootstrap,
                        token_public_key=None)
    app = create_service_app(Runtime(settings, scratch_db), title="test", blueprints=[blueprint])
    with printed_logs() as captured:  # after create_service_app, which sets up the root logger
        answered = app.test_client().post("/test/addresses")
    assert answered.status_code == 500 and taken not in answered.get_data(as_text=True)
    printed = captured.getvalue()
    assert "database error" in printed and "privacy_addresses_email_key" in printed and taken not in printed

    if infra.origin == "local":  # the server's own log, where the project starts the server
        server_log = devstack.Stack.for_tests().servers / "postgres" / "postgres.log"
        wait_for(lambda: "privacy_addresses_email_key" in server_log.read_text(errors="replace"), timeout=10,
                 what="the server to log the error")
        assert taken not in server_log.read_text(errors="replace")
