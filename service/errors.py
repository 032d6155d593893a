"""Domain errors: each carries a message for the person and maps to one HTTP status."""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark a message for the translation catalog; the web layer translates it."""
    return message


class DomainError(Exception):
    status = 400

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message)
        self.message = message
        # Filled into the translated message: _(message, **params).
        self.params = params


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


class InvalidInput(DomainError):
    status = 400
