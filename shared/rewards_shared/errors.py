"""Domain errors, free of any web framework; the HTTP layer turns them into problem+json. A class named for
a status carries that status's RFC 9110 reason phrase as its title, the same one the web layer gives the
errors it raises itself (rewards_shared.web.problems.status_title)."""
from __future__ import annotations


class DomainError(Exception):
    status = 400
    title = "Bad Request"

    def __init__(self, detail: str, *, field: str | None = None, errors: dict | None = None, **extra):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or ({field: [detail]} if field else None)
        self.extra = extra


class NotFound(DomainError):
    status = 404
    title = "Not Found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class Invalid(DomainError):
    status = 422
    title = "Unprocessable Content"


class Gone(DomainError):
    status = 410
    title = "Gone"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class TooLarge(DomainError):
    status = 413
    title = "Content Too Large"
