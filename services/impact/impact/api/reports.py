"""The council's impact report: JSON, CSV (`Accept: text/csv`) or one printable HTML page."""
from __future__ import annotations

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from rewards_shared.web import CSV, CSV_BODY, require

from .. import services
from . import runtime
from .schemas import PageQuery, ReportOut, ReportQuery

blp = Blueprint("reports", __name__, url_prefix="/v1/reports", description="Evidence for the council: aggregates only")


@blp.route("/impact")
class ImpactReport(MethodView):
    @require("analyst")
    @blp.arguments(ReportQuery, location="query")
    @blp.response(200, ReportOut)
    @blp.alt_response(200, success=True, content_type=CSV, schema=CSV_BODY,
                      description="The figures as JSON, or one per row as CSV (`Accept: text/csv`)")
    def get(self, query):
        """Participation, travel, CO2e avoided, volunteering, points, rewards and cost for a period."""
        if request.accept_mimetypes.best_match(["application/json", CSV]) == CSV:
            body = services.report_csv(runtime(), query["from_"], query["to"], query["group_by"])
            name = f"impact-{query['from_']}-{query['to']}.csv"
            return Response(body, mimetype=CSV, headers={"Content-Disposition": f'attachment; filename="{name}"'})
        return services.report(runtime(), query["from_"], query["to"], query["group_by"])


@blp.route("/impact.html")
class ImpactPage(MethodView):
    @require("analyst")
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, content_type="text/html", description="One self-contained page, printable to PDF")
    def get(self, query):
        """The report as a page for a council officer: charts, tables and methods, with no external asset."""
        return Response(services.report_page(runtime(), query["from_"], query["to"]), mimetype="text/html")
