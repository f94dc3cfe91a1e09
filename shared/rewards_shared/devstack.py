"""The local stack: a real Kafka broker and PostgreSQL server from deploy/local, then every
service's web (gunicorn) and worker process in the background. `make up` and the test suite
both use it, with different folders and ports so the two never clash."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from . import auth, kafka
from .config import REPO_ROOT, Settings
from .service import ServiceInfo, discover, migrate

DEPLOY = REPO_ROOT / "deploy" / "local"


def state_dir(create: bool = True) -> Path:
    """This clone's folder for server data, outside the clone (see deploy/local/state-dir.sh)."""
    args = ["bash", str(DEPLOY / "state-dir.sh")] + ([] if create else ["--no-create"])
    return Path(subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip())


@dataclass(frozen=True)
class Stack:
    home: Path
    name: str = ""
    kafka_port: int = 9092
    controller_port: int = 9093
    pg_port: int = 54320
    web_port_offset: int = 0
    metrics_port_base: int = 9101
    db_prefix: str = "rewards_"
    web_concurrency: int = 2
    worker_processes: int = 1
    extra_env: dict = field(default_factory=dict)

    @classmethod
    def default(cls) -> Stack:
        return cls(home=REPO_ROOT / ".local")

    @classmethod
    def for_tests(cls, slot: int | None = None) -> Stack:
        """`TEST_SLOT=N` moves the test stack to its own folder and ports (N × 100 higher). Within a hundred
        each kind of port keeps its own last two digits (web x01–x05, PostgreSQL x32, metrics x50–x84, Kafka
        x92/x93), so no two slots can ever share a port, and every port stays below the kernel's ephemeral
        range (32768 and up), where an outgoing connection could hold it."""
        slot = int(os.environ.get("TEST_SLOT") or 0) if slot is None else slot
        shift = slot * 100
        name = f"test-{slot}" if slot else "test"
        return cls(home=REPO_ROOT / ".local" / name, name=name, kafka_port=19092 + shift,
                   controller_port=19093 + shift, pg_port=15432 + shift, web_port_offset=10000 + shift,
                   metrics_port_base=19150 + shift, db_prefix="test_", web_concurrency=1)

    @property
    def servers(self) -> Path:
        """PostgreSQL's and Kafka's data: outside the clone, where the database's own user can reach it."""
        return state_dir() / self.name if self.name else state_dir()

    @property
    def keys(self) -> Path:
        return self.home / "keys"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def env_file(self) -> Path:
        return self.home / "stack.env"

    def web_port(self, info: ServiceInfo) -> int:
        return info.default_port + self.web_port_offset

    def base_url(self, info: ServiceInfo) -> str:
        return f"http://127.0.0.1:{self.web_port(info)}"

    def worker_metrics_port(self, index: int, number: int = 0) -> int:
        """The metrics port of the `number`th worker of the `index`th service (in `discover()` order)."""
        return self.metrics_port_base + 10 * number + index

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{self.pg_port}/postgres",
            "DATABASE_PREFIX": self.db_prefix,
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{self.kafka_port}",
            "REWARDS_TOKEN_PUBLIC_KEY_FILE": str(self.keys / "token-public.pem"),
            "REWARDS_SIGNING_KEY_FILE": str(self.keys / "token-signing.pem"),
            "REWARDS_MEMBER_TOKEN_PUBLIC_KEY_FILE": str(self.keys / "member-token-public.pem"),
            "MEMBER_CREDENTIAL_KEY_FILE": str(self.keys / "member-token-signing.pem"),
            "ERASURE_KEY_FILE": str(self.keys / "erasure.key"),
            "CARD_HMAC_KEY_FILE": str(self.keys / "card-hmac.key"),
            "VOLUNTEERING_CODE_KEY_FILE": str(self.keys / "volunteering-code.key"),
            "MEMBERSHIP_HMAC_KEY_FILE": str(self.keys / "membership-hmac.key"),
            "VOUCHER_KEY_FILE": str(self.keys / "voucher.key"),
            "IMPACT_PSEUDONYM_KEY_FILE": str(self.keys / "impact-pseudonym.key"),
            "REWARDS_CREDENTIALS_LOG": str(self.keys / "credentials.jsonl"),
            **self.extra_env,
        }


def _script(name: str, action: str, env: dict[str, str]) -> None:
    subprocess.run(["bash", str(DEPLOY / name), action], check=True, env={**os.environ, **env})


def _postgres_env(stack: Stack, servers: Path) -> dict[str, str]:
    return {"PG_DIR": str(servers / "postgres"), "PG_PORT": str(stack.pg_port)}


def _kafka_env(stack: Stack, servers: Path) -> dict[str, str]:
    return {"KAFKA_DIR": str(servers / "kafka"), "KAFKA_PORT": str(stack.kafka_port),
            "KAFKA_CONTROLLER_PORT": str(stack.controller_port)}


def infra_up(stack: Stack) -> None:
    stack.home.mkdir(parents=True, exist_ok=True)
    servers = stack.servers
    servers.mkdir(mode=0o755, exist_ok=True)
    _script("postgres.sh", "start", _postgres_env(stack, servers))
    _script("kafka.sh", "start", _kafka_env(stack, servers))


def infra_down(stack: Stack, remove_data: bool = False) -> None:
    """Stop the broker and the database server; `remove_data` also deletes what they stored."""
    servers = stack.servers
    _script("kafka.sh", "stop", _kafka_env(stack, servers))
    _script("postgres.sh", "stop", _postgres_env(stack, servers))
    if remove_data and stack.name:
        shutil.rmtree(servers, ignore_errors=True)


def restart_broker(stack: Stack, *, hard: bool = False, down_for: float = 0.0) -> None:
    """Stop the broker (SIGKILL when `hard`, as a crash would) and start it again on its own data."""
    servers = stack.servers
    if hard:
        _kill_pid_file(servers / "kafka" / "kafka.pid")
    _script("kafka.sh", "stop", _kafka_env(stack, servers))
    time.sleep(down_for)
    _retry_start("kafka.sh", _kafka_env(stack, servers))


def restart_database(stack: Stack, *, hard: bool = False, down_for: float = 0.0) -> None:
    """Stop the PostgreSQL server (`immediate` when `hard`: recovery from the WAL on start) and start it
    again on its own data."""
    env = {**_postgres_env(stack, stack.servers), "PG_STOP_MODE": "immediate" if hard else "fast"}
    _script("postgres.sh", "stop", env)
    time.sleep(down_for)
    _retry_start("postgres.sh", env)


def _retry_start(script: str, env: dict[str, str], attempts: int = 3) -> None:
    """Start a server, again if it was not ready in time (a JVM on a busy machine), as a supervisor would."""
    for attempt in range(1, attempts + 1):
        try:
            _script(script, "start", env)
            return
        except subprocess.CalledProcessError:
            if attempt == attempts:
                raise


def _kill_pid_file(pid_file: Path) -> None:
    pid = _pid_alive(pid_file)
    if pid:
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.1)


def ensure_keys(stack: Stack) -> None:
    stack.keys.mkdir(parents=True, exist_ok=True)
    os.chmod(stack.keys, 0o700)
    for signing, public in ((stack.keys / "token-signing.pem", stack.keys / "token-public.pem"),
                            (stack.keys / "member-token-signing.pem", stack.keys / "member-token-public.pem")):
        if not signing.exists():
            private_pem, public_pem = auth.generate_keypair()
            signing.write_text(private_pem)
            signing.chmod(0o600)
            public.write_text(public_pem)
    for name in ("card-hmac.key", "volunteering-code.key", "voucher.key", "impact-pseudonym.key", "erasure.key",
                 "membership-hmac.key"):
        key = stack.keys / name
        if not key.exists():
            key.write_text(os.urandom(32).hex())
            key.chmod(0o600)


def prepare(stack: Stack) -> dict[str, str]:
    """Keys, databases and migrations, topics; writes the env file the CLI reads."""
    ensure_keys(stack)
    env = stack.env()
    for info in discover().values():
        migrate(info, Settings.from_env(info.name, env).database_url)
    kafka.ensure_topics(env["KAFKA_BOOTSTRAP_SERVERS"])
    stack.env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return env


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _pid_alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _spawn(stack: Stack, name: str, argv: list[str], env: dict[str, str]) -> None:
    pid_file = stack.run_dir / f"{name}.pid"
    if _pid_alive(pid_file):
        return
    stack.logs.mkdir(parents=True, exist_ok=True)
    with open(stack.logs / f"{name}.log", "ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env={**os.environ, **env}, cwd=REPO_ROOT, start_new_session=True)
    pid_file.write_text(str(process.pid))


def services_up(stack: Stack, env: dict[str, str], services: dict[str, ServiceInfo] | None = None,
                timeout: float = 90.0) -> None:
    services = services or discover()
    stack.run_dir.mkdir(parents=True, exist_ok=True)
    bin_dir = Path(sys.executable).parent
    order = list(discover())  # a worker's metrics port is its service's place among all, whichever are started
    for info in services.values():
        index = order.index(info.name)
        metrics_dir = stack.run_dir / f"metrics-{info.name}"
        if not _pid_alive(stack.run_dir / f"{info.name}-web.pid"):
            shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True, exist_ok=True)
        _spawn(stack, f"{info.name}-web",
               [str(bin_dir / "gunicorn"), "-c", str(info.gunicorn_config), info.wsgi_app],
               {**env, "PORT": str(stack.web_port(info)), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
                "WEB_CONCURRENCY": str(stack.web_concurrency)})
        for number, name in enumerate(_worker_names(stack, info)):
            ready_file = stack.run_dir / f"{name}.ready"
            if not _pid_alive(stack.run_dir / f"{name}.pid"):
                ready_file.unlink(missing_ok=True)
            _spawn(stack, name, [sys.executable, "-m", info.worker_module],
                   {**env, "WORKER_READY_FILE": str(ready_file),
                    "WORKER_METRICS_PORT": str(stack.worker_metrics_port(index, number))})
    wait_ready(stack, services, timeout)


def _worker_names(stack: Stack, info: ServiceInfo) -> list[str]:
    """`points-worker`, then `points-worker2`… when the stack runs several per service."""
    return [f"{info.name}-worker"] + [f"{info.name}-worker{n}" for n in range(2, stack.worker_processes + 1)]


def wait_ready(stack: Stack, services: dict[str, ServiceInfo], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = {f"{name}-web" for name in services} | {
        worker for info in services.values() for worker in _worker_names(stack, info)}
    while pending and time.monotonic() < deadline:
        for name in sorted(pending):
            service, _, kind = name.rpartition("-")
            if not _pid_alive(stack.run_dir / f"{name}.pid"):
                tail = (stack.logs / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited during start-up:\n{tail}")
            if kind.startswith("worker") and (stack.run_dir / f"{name}.ready").exists():
                pending.discard(name)
            elif kind == "web":
                try:
                    if requests.get(stack.base_url(services[service]) + "/readyz", timeout=2).ok:
                        pending.discard(name)
                except requests.RequestException:
                    pass
        time.sleep(0.2)
    if pending:
        raise RuntimeError(f"not ready after {timeout:.0f}s: {', '.join(sorted(pending))}; see {stack.logs}")


def stop_process(stack: Stack, name: str, sig: int = signal.SIGTERM, grace: float = 15.0) -> None:
    pid_file = stack.run_dir / f"{name}.pid"
    pid = _pid_alive(pid_file)
    if pid:
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _group_alive(pid):
            time.sleep(0.1)
        if _group_alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        while _group_alive(pid) and time.monotonic() < deadline + 30:
            time.sleep(0.1)
    pid_file.unlink(missing_ok=True)


def _group_alive(leader: int) -> bool:
    """Whether any thread of any process in the leader's process group still runs: a leader already a
    zombie may have threads still exiting, holding its sockets (its port) until the last one is gone."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != leader:
                continue
            if any((task / "stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
                   for task in (proc / "task").iterdir()):
                return True
        except (OSError, IndexError, ValueError):
            continue
    return False


def process_names(stack: Stack, services: dict[str, ServiceInfo] | None = None) -> dict[str, ServiceInfo]:
    """Every web and worker process of the services, by the name its pid and log files carry."""
    return {name: info for info in (services or discover()).values()
            for name in [f"{info.name}-web", *_worker_names(stack, info)]}


def kill_process(stack: Stack, name: str) -> int | None:
    """SIGKILL one process (a gunicorn master with its workers, or a worker) as a crash would; its pid."""
    pid = _pid_alive(stack.run_dir / f"{name}.pid")
    stop_process(stack, name, signal.SIGKILL)
    return pid


def services_down(stack: Stack, services: dict[str, ServiceInfo] | None = None) -> None:
    for info in (services or discover()).values():
        for name in [f"{info.name}-web", *_worker_names(stack, info)]:
            stop_process(stack, name)
            (stack.run_dir / f"{name}.ready").unlink(missing_ok=True)
