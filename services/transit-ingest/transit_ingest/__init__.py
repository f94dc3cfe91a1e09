"""The transit-ingest service: operators' taps in, journeys out."""
from pathlib import Path

from rewards_shared.service import ServiceInfo

SERVICE = ServiceInfo(name="transit-ingest", package="transit_ingest", default_port=8002,
                      migrations=Path(__file__).parent / "migrations")
