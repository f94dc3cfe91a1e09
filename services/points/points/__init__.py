"""The points service: members, the double-entry ledger, the earning rules and volunteering."""
from pathlib import Path

from rewards_shared.service import ServiceInfo

SERVICE = ServiceInfo(name="points", package="points", default_port=8001,
                      migrations=Path(__file__).parent / "migrations")
