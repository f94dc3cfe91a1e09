"""How a service describes itself to the CLI and the local stack (entry point group `rewards.services`)."""
from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from alembic import command
from alembic.config import Config

from .db import ensure_database


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    package: str
    default_port: int
    migrations: Path

    @property
    def wsgi_app(self) -> str:
        return f"{self.package}.app:create_app()"

    @property
    def worker_module(self) -> str:
        return f"{self.package}.worker"

    @property
    def gunicorn_config(self) -> Path:
        return self.migrations.parent.parent / "gunicorn.conf.py"


def discover() -> dict[str, ServiceInfo]:
    found = {}
    for entry in entry_points(group="rewards.services"):
        info = entry.load()
        found[info.name] = info
    return dict(sorted(found.items(), key=lambda item: item[1].default_port))


def migrate(info: ServiceInfo, url: str) -> None:
    """Create the service's database if needed and bring its schema to the newest revision."""
    ensure_database(url)
    config = Config()
    config.set_main_option("script_location", str(info.migrations))
    config.attributes["url"] = url
    command.upgrade(config, "head")
