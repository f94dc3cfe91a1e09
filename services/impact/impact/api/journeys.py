"""How one journey's CO2e was worked out: the audit trail behind the totals."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from rewards_shared.web import require

from .. import services
from . import runtime
from .schemas import JourneyImpactOut

blp = Blueprint("journeys", __name__, url_prefix="/v1/journeys", description="One journey's CO2e calculation")


@blp.route("/<journey_id>/impact")
class JourneyImpact(MethodView):
    @require("analyst")
    @blp.response(200, JourneyImpactOut)
    def get(self, journey_id):
        """Mode, km, the factor set and factors applied, and the CO2e avoided (no member data)."""
        return services.journey_impact(runtime(), journey_id)
