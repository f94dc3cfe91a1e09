"""The Flask side every service shares: problem+json errors, bearer auth, rate limits, request logs,
health, metrics and the docs UI, put together by `create_service_app`."""
from .access import current_principal, require
from .app import create_service_app, runtime
from .docs import CSV, CSV_BODY
from .observe import loggable_path
from .problems import PROBLEM, flatten_errors, problem
from .ratelimit import RateLimiter

__all__ = ["CSV", "CSV_BODY", "PROBLEM", "RateLimiter", "create_service_app", "current_principal", "flatten_errors",
           "loggable_path", "problem", "require", "runtime"]
