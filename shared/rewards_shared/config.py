"""Settings read once from environment variables into an immutable object."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:54320/postgres"
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


def database_name(service: str, prefix: str = "rewards_") -> str:
    return prefix + service.replace("-", "_")


def service_database_url(service: str, env: Mapping[str, str]) -> str:
    """A service's own database: `<SERVICE>_DATABASE_URL`, else its database on the server in `DATABASE_URL`."""
    own = env.get(service.upper().replace("-", "_") + "_DATABASE_URL")
    if own:
        return own
    server = make_url(env.get("DATABASE_URL", DEFAULT_SERVER_URL))
    name = database_name(service, env.get("DATABASE_PREFIX", "rewards_"))
    return server.set(database=name).render_as_string(hide_password=False)


def _read_key(env: Mapping[str, str], name: str) -> str | None:
    if env.get(name):
        return env[name]
    path = env.get(name + "_FILE")
    if path and Path(path).exists():
        return Path(path).read_text()
    return None


@dataclass(frozen=True)
class Settings:
    service: str
    database_url: str
    kafka_bootstrap: str
    token_public_key: str | None
    member_token_public_key: str | None = None
    log_level: str = "INFO"
    metrics_port: int | None = None
    max_body_bytes: int = 16 * 1024 * 1024
    extra: Mapping[str, str] = field(default_factory=dict, repr=False)  # the whole environment: secrets too

    @classmethod
    def from_env(cls, service: str, env: Mapping[str, str] | None = None, **overrides) -> Settings:
        env = dict(os.environ if env is None else env)
        values = dict(
            service=service,
            database_url=service_database_url(service, env),
            kafka_bootstrap=env.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP),
            token_public_key=_read_key(env, "REWARDS_TOKEN_PUBLIC_KEY"),
            member_token_public_key=_read_key(env, "REWARDS_MEMBER_TOKEN_PUBLIC_KEY"),
            log_level=env.get("LOG_LEVEL", "INFO"),
            metrics_port=int(env["WORKER_METRICS_PORT"]) if env.get("WORKER_METRICS_PORT") else None,
            max_body_bytes=int(env.get("MAX_BODY_BYTES", 16 * 1024 * 1024)),
            extra=env,
        )
        values.update(overrides)
        return cls(**values)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.extra.get(name, default)

    def get_int(self, name: str, default: int) -> int:
        value = self.extra.get(name)
        return int(value) if value not in (None, "") else default

    def get_secret(self, name: str) -> str | None:
        return _read_key(self.extra, name)
