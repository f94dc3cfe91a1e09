"""`make chaos` at a small size: taps from a file and from pushes, and redemptions, while web and worker
processes are SIGKILLed and restarted and the broker and the database are restarted; then every journey is
credited once, every redemption ends as its script led it, with its hold captured or released, no inbox
item is lost or doubled, the ledger verifies and only the deliberate poison is dead-lettered."""
import pytest

from rewards_shared import devstack
from rewards_shared.service import discover
from tests.chaos.scenario import SERVICE_ENV, Run, Size, Target, survived, table, write


@pytest.fixture(scope="module")
def target(infra, stack, stack_env, issue_token):
    env = {**stack_env, **SERVICE_ENV}
    services = discover()
    devstack.services_up(stack, env, services)
    try:
        yield Target(stack, env, services, issue_token, local_infra=infra.origin == "local")
    finally:
        devstack.services_down(stack, services)


@pytest.mark.timeout(1200)  # a minute or two on a quiet machine; restarting the broker is most of it
def test_nothing_is_lost_or_doubled_through_crashes_and_restarts(target, databases):
    size = Size.short()
    try:
        figures = Run(target, size).run()
    finally:
        databases.dispose()  # their pooled connections died with the database restart
    print("\n" + table(figures))
    write(figures, "chaos-short")
    assert survived(figures) == []
    assert figures["faults"].get("kill web", 0) + figures["faults"].get("kill worker", 0) == size.process_kills
    if target.local_infra:
        assert figures["faults"]["broker"] == size.broker_restarts
        assert figures["faults"]["database"] == size.database_restarts
    assert figures["credited_journeys"] == figures["expected_journeys"] == (size.taps + size.push_taps) // 2
