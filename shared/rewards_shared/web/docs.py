"""The docs UI served from the service itself, so `/docs` works on a closed network: the Swagger UI
assets come from the `swagger-ui-py` package, not from a CDN."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from flask import Flask, send_from_directory

ASSETS_URL = "/docs/assets/"


def swagger_ui_folder() -> Path:
    """The package's static folder, found without importing it (its import pulls in web adapters)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


SETTINGS = dict(
    OPENAPI_SWAGGER_UI_PATH="docs",
    OPENAPI_SWAGGER_UI_URL=ASSETS_URL,
    # No badge from the public validator: the page must not reach beyond this host.
    OPENAPI_SWAGGER_UI_CONFIG={"validatorUrl": None, "deepLinking": True},
)


def install(app: Flask) -> None:
    folder = swagger_ui_folder()

    @app.get(ASSETS_URL + "<path:filename>")
    def docs_asset(filename: str):
        return send_from_directory(folder, filename, max_age=86400)


CSV = "text/csv"
# `blp.alt_response(200, success=True, content_type=CSV, schema=CSV_BODY)` adds CSV beside the JSON body;
# without a schema flask-smorest documents no CSV content at all
CSV_BODY = {"type": "string"}
