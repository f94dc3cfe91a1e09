"""Where the tests find a real Kafka broker and PostgreSQL server.

1. `KAFKA_BOOTSTRAP_SERVERS` and `DATABASE_URL` from the environment, when both are set;
2. otherwise testcontainers, where a Docker engine answers;
3. otherwise the project's own local scripts, on test ports beside any `make up` stack.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass

from rewards_shared import devstack


@dataclass(frozen=True)
class Infra:
    bootstrap: str
    server_url: str
    origin: str


def _testcontainers_usable() -> bool:
    """testcontainers is installed (optional) and a Docker engine answers."""
    try:
        import docker
        import testcontainers.kafka  # noqa: F401
        import testcontainers.postgres  # noqa: F401

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@contextmanager
def provide():
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("DATABASE_URL"):
        yield Infra(os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["DATABASE_URL"], "environment")
        return
    if os.environ.get("REWARDS_TEST_CONTAINERS", "1") == "1" and _testcontainers_usable():
        from testcontainers.kafka import KafkaContainer
        from testcontainers.postgres import PostgresContainer

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka, \
                PostgresContainer("postgres:16", driver="psycopg") as postgres:
            yield Infra(kafka.get_bootstrap_server(), postgres.get_connection_url(), "testcontainers")
        return
    stack = devstack.Stack.for_tests()
    devstack.infra_up(stack)
    try:
        yield Infra(f"127.0.0.1:{stack.kafka_port}",
                    f"postgresql+psycopg://postgres@127.0.0.1:{stack.pg_port}/postgres", "local")
    finally:
        if os.environ.get("KEEP_TEST_INFRA") != "1":
            devstack.infra_down(stack, remove_data=True)
