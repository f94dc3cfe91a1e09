"""Who may reach an operator's objects: admin, or that operator's own credential."""
from __future__ import annotations

from flask_smorest import abort

from rewards_shared.web import current_principal


def authorize_operator(operator_id: str) -> None:
    if not current_principal().acts_for("operator", operator_id):
        abort(403, message=f"This credential does not act for operator {operator_id}.")
