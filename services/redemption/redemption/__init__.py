"""The redemption service: partners, the rewards catalogue, redemptions and vouchers."""
from pathlib import Path

from rewards_shared.service import ServiceInfo

SERVICE = ServiceInfo(name="redemption", package="redemption", default_port=8003,
                      migrations=Path(__file__).parent / "migrations")
