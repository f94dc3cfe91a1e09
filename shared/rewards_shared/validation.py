"""Validators the services' request schemas share."""
from marshmallow import validate

IDENTIFIER = validate.Regexp(r"^[A-Za-z0-9_.:@-]{1,64}$", error="Use 1–64 letters, digits or _ . : @ -.")
