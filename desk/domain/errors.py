"""The desk's domain errors: each says what happened and what to do, in a person's words."""
from __future__ import annotations


class DeskError(Exception):
    """Base of every error a person may see. `code` is stable for the API."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, *, field_errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


class ValidationFailed(DeskError):
    code = "invalid"
    http_status = 400


class PermissionDenied(DeskError):
    code = "forbidden"
    http_status = 403


class NotFound(DeskError):
    code = "not_found"
    http_status = 404


class WorkflowConflict(DeskError):
    """The action does not fit the post's current state (or its content changed meanwhile)."""

    code = "conflict"
    http_status = 409
