"""The notifications service: contacts, preferences, the inbox and delivery channels."""
from pathlib import Path

from rewards_shared.service import ServiceInfo

SERVICE = ServiceInfo(name="notifications", package="notifications", default_port=8004,
                      migrations=Path(__file__).parent / "migrations")
