"""A bad day for a running stack: processes SIGKILLed at random moments and started again, as a supervisor
would; the Kafka broker and the PostgreSQL server restarted on their own data. What the faults must not
do (lose or double anything) is checked by whoever drives the load; this only injects them and keeps a log."""
from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from rewards_shared import devstack
from rewards_shared.service import ServiceInfo


@dataclass(frozen=True)
class Faults:
    process_kills: int = 12
    broker_restarts: int = 1
    database_restarts: int = 1
    hard: bool = True  # the broker SIGKILLed and the database stopped `immediate`, rather than politely


@dataclass
class Injected:
    kind: str
    target: str
    at_s: float
    recovered_after_s: float


@dataclass
class Chaos:
    """Injects `faults` spread at random over `seconds`, one at a time, each followed by the recovery a
    supervisor would make, in a thread: `with Chaos(...): <load>`; leaving the block waits for the rest."""

    stack: devstack.Stack
    env: dict[str, str]
    services: dict[str, ServiceInfo]
    faults: Faults
    seconds: float
    seed: int = 1
    infra: bool = True  # may restart the broker and the database (they are the project's own local servers)
    log: Callable[[str], None] = print
    injected: list[Injected] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos", daemon=True)
        self._started = 0.0

    def schedule(self) -> list[tuple[float, str]]:
        """(seconds after the start, kind) for every fault, in time order."""
        rng = random.Random(self.seed)
        kinds = ["process"] * self.faults.process_kills
        if self.infra:
            kinds += ["broker"] * self.faults.broker_restarts + ["database"] * self.faults.database_restarts
        rng.shuffle(kinds)
        slot = self.seconds / max(1, len(kinds))
        return [(slot * n + rng.uniform(0.1, 0.9) * slot, kind) for n, kind in enumerate(kinds)]

    def __enter__(self) -> Chaos:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, failed, *exc) -> None:
        if failed:
            self._stop.set()
        self.finish()

    def finish(self) -> None:
        """Wait for the rest of the schedule (each fault with its recovery), then until everything is up."""
        self._thread.join()
        devstack.services_up(self.stack, self.env, self.services)

    def counts(self) -> dict[str, int]:
        return dict(Counter(fault.kind for fault in self.injected))

    def _run(self) -> None:
        rng = random.Random(self.seed + 1)
        processes = devstack.process_names(self.stack, self.services)
        for at, kind in self.schedule():
            if self._stop.wait(max(0.0, self._started + at - time.monotonic())):
                return
            began = time.monotonic()
            try:
                target = self._inject(kind, rng, processes)
            except Exception as error:  # a fault that cannot be recovered from is the run's result, not a crash
                self.errors.append(f"{kind}: {error}")
                self.log(f"  fault {kind} failed: {error}")
                continue
            fault = Injected(kind if kind != "process" else f"kill {target.rpartition('-')[2]}", target,
                             round(began - self._started, 1), round(time.monotonic() - began, 1))
            self.injected.append(fault)
            self.log(f"  {fault.at_s:>6}s  {fault.kind} {fault.target}: back after {fault.recovered_after_s}s")

    def _inject(self, kind: str, rng: random.Random, processes: dict[str, ServiceInfo]) -> str:
        if kind in ("broker", "database"):
            restart = devstack.restart_broker if kind == "broker" else devstack.restart_database
            restart(self.stack, hard=self.faults.hard, down_for=rng.uniform(1, 4))
            return "kafka" if kind == "broker" else "postgresql"
        name = rng.choice(sorted(processes))
        devstack.kill_process(self.stack, name)
        info = processes[name]
        for attempt in range(1, 4):  # a supervisor notices, backs off, then starts it again
            time.sleep(rng.uniform(0.5, 3) * attempt)
            try:
                devstack.services_up(self.stack, self.env, {info.name: info})
                return name
            except RuntimeError as error:
                if attempt == 3:
                    raise
                self.log(f"  restarting {name} failed, trying again: {str(error).splitlines()[-1]}")
        return name
