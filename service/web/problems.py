"""Every error leaves as an RFC 9457 problem-details response, mapped here once."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from service.db.failures import KnownFailure, classify, sqlstate_of
from service.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Unauthorized,
)
from service.logs import get_logger
from service.web.request_id import (
    REQUEST_ID_HEADER,
    current_request_id,
    new_request_id,
    redact_echoes,
    redact_path,
)

log = get_logger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"

DOMAIN_STATUS: dict[type[DomainError], int] = {
    Invalid: 422,
    NotFound: 404,
    Conflict: 409,
    Forbidden: 403,
    Unauthorized: 401,
    PreconditionFailed: 412,
    PreconditionRequired: 428,
}

_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")
_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")
_DATE_FIELD = re.compile(r"date field `([^`]+)`")  # service.validation.DatedBody


class FieldProblem(msgspec.Struct, omit_defaults=True):
    """One thing wrong with a request: the field (or column, or header) and why."""

    field: str
    message: str
    line: int | None = None  # the line of an uploaded file, when the field is a column
    source: str | None = None  # body, query, path or header


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details: every error this service answers has this shape."""

    title: str
    status: int
    detail: str
    type: str = "about:blank"
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldProblem] = msgspec.field(default_factory=list)


def _problem_response(request: Request[Any, Any, Any], problem: Problem) -> Response[Problem]:
    # A path (and a detail quoting one of its segments) may hold an ID number: masked.
    problem.instance = redact_path(request.url.path)
    problem.detail = redact_echoes(problem.detail, request.url.path)
    headers = {"WWW-Authenticate": "Bearer"} if problem.status == 401 else {}
    problem.request_id = current_request_id()
    if problem.request_id is None and request.app.state.settings.request_id:
        # Unrouted requests (404, 405) never reach route middleware: give them an id here.
        problem.request_id = new_request_id()
        headers[REQUEST_ID_HEADER] = problem.request_id
    return Response(
        problem, status_code=problem.status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def _field_errors(extra: Any) -> list[FieldProblem]:
    """Litestar's validation details, reshaped so each names the field at fault."""
    if not isinstance(extra, list):
        return []
    errors = []
    for item in extra:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid"))
        field = item.get("key") or "body"
        for pattern in (_UNKNOWN_FIELD, _MISSING_FIELD, _DATE_FIELD):
            if match := pattern.search(message):
                prefix = "" if field in ("data", "body") else f"{field}."
                field = prefix + match.group(1)
        source = str(getattr(item.get("source"), "value", item.get("source") or ""))
        if source == "header":
            # Name the header the client sent (Idempotency-Key), not our argument for it.
            field = "-".join(part.capitalize() for part in str(field).split("_"))
        errors.append(FieldProblem(str(field), message, source=source or None))
    return errors


def handle_domain_error(request: Request[Any, Any, Any], error: DomainError) -> Response[Problem]:
    status = next((code for kind, code in DOMAIN_STATUS.items() if isinstance(error, kind)), 400)
    errors = [FieldProblem(e.field, e.message, line=e.line or None) for e in error.errors]
    return _problem_response(
        request, Problem(title=error.title, status=status, detail=error.detail, errors=errors)
    )


def handle_http_exception(
    request: Request[Any, Any, Any], error: HTTPException
) -> Response[Problem]:
    errors = _field_errors(error.extra)
    detail = error.detail
    if isinstance(error, ValidationException) and errors:
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
    elif error.status_code == 413 or (error.status_code == 400 and not errors):
        errors = [FieldProblem("body", detail)]
    title = {
        400: "Bad request",
        401: "Unauthorized",
        404: "Not found",
        405: "Method not allowed",
        413: "Request body too large",
        429: "Too many requests",
    }.get(error.status_code, "Error")
    response = _problem_response(
        request, Problem(title=title, status=error.status_code, detail=detail, errors=errors)
    )
    if error.headers:
        response.headers.update(error.headers)
        if error.status_code == 429 and "RateLimit-Reset" in error.headers:
            response.headers["Retry-After"] = error.headers["RateLimit-Reset"]
    return response


def handle_unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[Problem]:
    if (known := classify(error)) is not None:
        return _known_failure(request, error, known)
    # Log the type and traceback, never the message alone: it may quote input.
    log.error("unhandled_error", error_type=type(error).__name__, exc_info=error)
    return _problem_response(
        request,
        Problem(
            title="Internal server error",
            status=HTTP_500_INTERNAL_SERVER_ERROR,
            detail="the service failed to answer; the error is logged under this request id",
        ),
    )


def _known_failure(
    request: Request[Any, Any, Any], error: Exception, failure: KnownFailure
) -> Response[Problem]:
    log.warning(
        "request_failed",
        error_type=type(error).__name__,
        failure=failure.title,
        sqlstate=sqlstate_of(error),
    )
    errors = [FieldProblem(failure.field, failure.detail)] if failure.field else []
    response = _problem_response(
        request,
        Problem(title=failure.title, status=failure.status, detail=failure.detail, errors=errors),
    )
    if failure.retry_after is not None:
        response.headers["Retry-After"] = str(failure.retry_after)
    return response


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: handle_domain_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_MEDIA_TYPE", "FieldProblem", "Problem"]
