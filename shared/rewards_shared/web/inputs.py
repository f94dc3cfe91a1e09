"""Input no service can store: PostgreSQL text cannot hold the NUL character, so a path segment, query
parameter or JSON string carrying one is refused up front as a 422 naming where it is, rather than failing
in the database as a 500."""
from __future__ import annotations

from flask import Flask, request

from .problems import problem, status_title

NUL = "\x00"
MESSAGE = "Contains the NUL character (\\u0000), which cannot be stored."


def nul_fields(value, path: str = "") -> list[str]:
    """The dotted paths (`taps.3.card_ref`) of the strings, and keys, in a JSON value that hold a NUL."""
    if isinstance(value, str):
        return [path or "_schema"] if NUL in value else []
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            found += [name] if NUL in str(key) else nul_fields(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += nul_fields(item, f"{path}.{index}" if path else str(index))
    return found


def install(app: Flask) -> None:
    @app.before_request
    def refuse_nul():
        fields = [name for name, value in (request.view_args or {}).items() if NUL in str(value)]
        fields += [name for name, value in request.args.items(multi=True) if NUL in name + value]
        if request.is_json and b"\\u0000" in request.get_data(cache=True):
            fields += nul_fields(request.get_json(silent=True, cache=True))
        if fields:
            unique = sorted(set(fields))
            return problem(422, status_title(422), "The request has invalid fields: " + ", ".join(unique),
                           errors={name: [MESSAGE] for name in unique})
        return None
