from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from rewards_shared import auth, devstack
from rewards_shared.config import Settings
from rewards_shared.db import Database, drop_database
from rewards_shared.kafka import ensure_topics
from rewards_shared.service import discover, migrate
from tests.support.api import ServiceClient
from tests.support.infra import provide


def pytest_collection_modifyitems(items):
    for item in items:
        path = str(item.fspath)
        if "/integration/" in path:
            item.add_marker(pytest.mark.integration)
        if "/e2e/" in path:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def infra():
    with provide() as provided:
        yield provided


@pytest.fixture(scope="session")
def stack() -> devstack.Stack:
    return devstack.Stack.for_tests()


@pytest.fixture(scope="session")
def stack_env(infra, stack) -> dict[str, str]:
    """Fresh test databases at the newest migration, the topics, and keys: what every process needs."""
    devstack.ensure_keys(stack)
    env = {**stack.env(), "DATABASE_URL": infra.server_url, "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap,
           "REWARDS_ENV_FILE": str(stack.env_file), "LOG_LEVEL": "INFO"}
    for info in discover().values():
        url = Settings.from_env(info.name, env).database_url
        drop_database(url)
        migrate(info, url)
    ensure_topics(infra.bootstrap)
    stack.env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return env


@pytest.fixture(scope="session")
def settings_for(stack_env) -> Callable[[str], Settings]:
    return lambda service: Settings.from_env(service, stack_env)


class Databases:
    """`databases("points")`: one Database per service for the session; `dispose()` drops their pooled
    connections (after the server restarted under them)."""

    def __init__(self, settings_for: Callable[[str], Settings]):
        self.settings_for = settings_for
        self.opened: dict[str, Database] = {}

    def __call__(self, service: str) -> Database:
        if service not in self.opened:
            self.opened[service] = Database(self.settings_for(service).database_url)
        return self.opened[service]

    def dispose(self) -> None:
        for database in self.opened.values():
            database.dispose()


@pytest.fixture(scope="session")
def databases(settings_for):
    opened = Databases(settings_for)
    yield opened
    opened.dispose()


@pytest.fixture(scope="session")
def issue_token(stack_env) -> Callable[[str], str]:
    key = Path(stack_env["REWARDS_SIGNING_KEY_FILE"]).read_text()
    return lambda role: auth.issue(key, role)[0]


@pytest.fixture
def member_id() -> str:
    return f"m-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def services(request, stack, stack_env):
    """The services' web processes (gunicorn) and workers, started as subprocesses for this module:
    every service, or those the module names in `SERVICES`."""
    wanted = getattr(request.module, "SERVICES", None)
    infos = {name: info for name, info in discover().items() if wanted is None or name in wanted}
    try:
        devstack.services_up(stack, stack_env, infos)
        yield {name: stack.base_url(info) for name, info in infos.items()}
    finally:
        devstack.services_down(stack, infos)


@pytest.fixture
def client(services, issue_token):
    def make(service: str, role: str | None = "app") -> ServiceClient:
        return ServiceClient(services[service], issue_token(role) if role else None)
    return make
