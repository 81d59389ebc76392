"""API errors as Kubernetes `Status` objects, shared by the apiserver (raises) and clients (parse).

    ApiError                      any non-2xx Status
     +-- BadRequest        400
     +-- Unauthorized      401
     +-- Forbidden         403
     +-- NotFound          404
     +-- MethodNotAllowed  405
     +-- Conflict          409   (reason Conflict or AlreadyExists)
     |    +-- AlreadyExists
     +-- Gone              410   (watch/list from a compacted resourceVersion)
     +-- RequestEntityTooLarge 413 (a request body over the server's limit)
     +-- UnsupportedMediaType 415
     +-- Invalid           422   (details.causes carry field paths)
     +-- InternalError     500
     +-- ServiceUnavailable 503
     +-- Timeout           504   (e.g. a resourceVersion the server has not reached)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AlreadyExists",
    "ApiError",
    "BadRequest",
    "Cause",
    "Conflict",
    "Forbidden",
    "Gone",
    "InternalError",
    "Invalid",
    "MethodNotAllowed",
    "NotFound",
    "RequestEntityTooLarge",
    "ServiceUnavailable",
    "Timeout",
    "Unauthorized",
    "UnsupportedMediaType",
    "error_from_status",
]

Cause = dict[str, str]


class ApiError(Exception):
    """An error with the fields of a Kubernetes `Status`."""

    code = 500
    reason = "InternalError"

    def __init__(
        self,
        message: str,
        *,
        name: str | None = None,
        kind: str | None = None,
        group: str | None = None,
        causes: list[Cause] | None = None,
        reason: str | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.kind = kind
        self.group = group
        self.causes = causes or []
        if reason is not None:
            self.reason = reason
        if code is not None:
            self.code = code

    def to_status(self) -> dict[str, Any]:
        details: dict[str, Any] = {}
        if self.name:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = self.causes
        status: dict[str, Any] = {  # Kubernetes' field order
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if details:
            status["details"] = details
        status["code"] = self.code
        return status

    def __str__(self) -> str:
        return self.message


class BadRequest(ApiError):
    code = 400
    reason = "BadRequest"


class Unauthorized(ApiError):
    code = 401
    reason = "Unauthorized"


class Forbidden(ApiError):
    code = 403
    reason = "Forbidden"

    @classmethod
    def for_resource(cls, resource: str, name: str, group: str, why: str) -> Forbidden:
        """apimachinery's NewForbidden: `pods "x" is forbidden: <why>` (no resource: `forbidden: <why>`)."""
        qualified = f"{resource}.{group}" if group else resource
        if not qualified:
            return cls(f"forbidden: {why}")
        head = f'{qualified} "{name}"' if name else qualified
        return cls(f"{head} is forbidden: {why}", name=name or None, group=group or None, kind=resource)


class NotFound(ApiError):
    code = 404
    reason = "NotFound"

    @classmethod
    def for_object(cls, resource: str, name: str, group: str = "") -> NotFound:
        qualified = f"{resource}.{group}" if group else resource
        return cls(f'{qualified} "{name}" not found', name=name, kind=resource, group=group or None)


class MethodNotAllowed(ApiError):
    code = 405
    reason = "MethodNotAllowed"


class Conflict(ApiError):
    code = 409
    reason = "Conflict"

    @classmethod
    def stale(cls, resource: str, name: str, group: str = "") -> Conflict:
        qualified = f"{resource}.{group}" if group else resource
        return cls(
            f'Operation cannot be fulfilled on {qualified} "{name}": the object has been modified; '
            "please apply your changes to the latest version and try again",
            name=name,
            kind=resource,
            group=group or None,
        )


class AlreadyExists(Conflict):
    reason = "AlreadyExists"

    @classmethod
    def for_object(cls, resource: str, name: str, group: str = "") -> AlreadyExists:
        qualified = f"{resource}.{group}" if group else resource
        return cls(f'{qualified} "{name}" already exists', name=name, kind=resource, group=group or None)


class Gone(ApiError):
    code = 410
    reason = "Expired"


class RequestEntityTooLarge(ApiError):
    """413: the body is over the server's limit; the message is Kubernetes' own ("Request entity too large: ...")."""

    code = 413
    reason = "RequestEntityTooLarge"

    @classmethod
    def limit(cls, limit: int) -> RequestEntityTooLarge:
        return cls(f"Request entity too large: limit is {limit}")


class UnsupportedMediaType(ApiError):
    code = 415
    reason = "UnsupportedMediaType"


class Invalid(ApiError):
    code = 422
    reason = "Invalid"

    @classmethod
    def for_object(cls, kind: str, name: str, causes: list[Cause], group: str = "") -> Invalid:
        summary = ", ".join(f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes)
        qualified = f"{kind}.{group}" if group else kind
        return cls(f'{qualified} "{name}" is invalid: {summary}', name=name, kind=kind, group=group or None,
                   causes=causes)


class InternalError(ApiError):
    code = 500
    reason = "InternalError"


class ServiceUnavailable(ApiError):
    code = 503
    reason = "ServiceUnavailable"


class Timeout(ApiError):
    """504: the server could not answer in time (e.g. a resourceVersion newer than it has seen)."""

    code = 504
    reason = "Timeout"

    @classmethod
    def too_large_resource_version(cls, wanted: int, current: int) -> Timeout:
        return cls(f"Too large resource version: {wanted}, current: {current}",
                   causes=[{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}])


_BY_CODE: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Gone,
    413: RequestEntityTooLarge,
    415: UnsupportedMediaType,
    422: Invalid,
    500: InternalError,
    503: ServiceUnavailable,
    504: Timeout,
}


def error_from_status(status: dict[str, Any] | None, http_code: int, fallback_message: str = "") -> ApiError:
    """Build the matching ApiError from a Status body (or from the HTTP code alone)."""
    status = status if isinstance(status, dict) else {}
    code = int(status.get("code") or http_code)
    reason = status.get("reason")
    cls: type[ApiError] = _BY_CODE.get(code, ApiError)
    if cls is Conflict and reason == "AlreadyExists":
        cls = AlreadyExists
    details = status.get("details") or {}
    return cls(
        status.get("message") or fallback_message or f"HTTP {http_code}",
        name=details.get("name"),
        kind=details.get("kind"),
        group=details.get("group"),
        causes=details.get("causes"),
        reason=reason,
        code=code,
    )
