"""impact: the read side that turns the scheme's events into the council's evidence."""
from pathlib import Path

from rewards_shared.service import ServiceInfo

SERVICE = ServiceInfo(name="impact", package="impact", default_port=8005,
                      migrations=Path(__file__).parent / "migrations")
