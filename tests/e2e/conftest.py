from __future__ import annotations

import pytest

from rewards_shared import devstack
from rewards_shared.service import discover
from tests.support.api import ServiceClient


@pytest.fixture(scope="module")
def services(request, stack, stack_env):
    """The services' web processes (gunicorn) and workers, started as subprocesses for this module:
    every service, or those the module names in `SERVICES`."""
    wanted = getattr(request.module, "SERVICES", None)
    infos = {name: info for name, info in discover().items() if wanted is None or name in wanted}
    devstack.services_up(stack, stack_env, infos)
    yield {name: stack.base_url(info) for name, info in infos.items()}
    devstack.services_down(stack, infos)


@pytest.fixture
def client(services, issue_token):
    def make(service: str, role: str | None = "app") -> ServiceClient:
        return ServiceClient(services[service], issue_token(role) if role else None)
    return make
