"""Checks every request passes before its parameters are parsed or its body decoded.

Each guards a class of hostile input on every route at once, rather than route by
route: a NUL character (PostgreSQL text cannot hold one), a date outside the accepted
range (arithmetic overflows near the calendar's edges), and JSON nested deeper than any
body of this API (the decoder recurses). Each refusal is a 400 problem naming the
parameter or the body path at fault, before authentication, so it costs no database
round trip.
"""

from __future__ import annotations

import re
import typing
from datetime import date, datetime
from functools import cache
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException
from litestar.handlers import HTTPRouteHandler

from service.limits import DATE_RANGE_MESSAGE, MAX_JSON_DEPTH, date_in_range

NUL = "\x00"
NUL_MESSAGE = "must not contain the NUL character"
DEPTH_MESSAGE = f"JSON nested deeper than {MAX_JSON_DEPTH} levels is not accepted"

# What the depth check keeps of a body: quotes (to drop strings) and brackets.
_NOT_STRUCTURE = bytes(set(range(256)) - set(b'"[]{}'))
_STRING = re.compile(rb'"[^"]*"')
_INNERMOST_PAIR = re.compile(rb"\[\]|\{\}")
_ESCAPED_NUL = b"\\u0000"


def _refuse(errors: list[dict[str, str]]) -> typing.NoReturn:
    detail = "; ".join(f"{error['key']}: {error['message']}" for error in errors)
    raise ValidationException(detail=detail, extra=errors)


def json_nests_deeper_than(body: bytes, limit: int) -> bool:
    """Whether a JSON text nests arrays and objects more than ``limit`` deep.

    Linear in the body and done in C: escaped backslashes and quotes go first, so every
    remaining quote opens or closes a string; strings go next, leaving only brackets,
    and each pass removes the innermost pairs. Unbalanced brackets count as too deep:
    such a body is not JSON either, and its decoding would recurse just the same.
    """
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = _STRING.sub(b"", unescaped.translate(None, _NOT_STRUCTURE)).replace(b'"', b"")
    if brackets.count(b"[") + brackets.count(b"{") <= limit:
        return False
    for _ in range(limit):
        brackets, removed = _INNERMOST_PAIR.subn(b"", brackets)
        if not brackets:
            return False
        if not removed:
            return True
    return bool(brackets)


def _path_to_nul(value: Any, path: str) -> str | None:
    """The JSON path (``subjects[0].uscc``) of the first string or key holding a NUL."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, list):
        for index, item in enumerate(value):
            if found := _path_to_nul(item, f"{path}[{index}]"):
                return found
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if NUL in key:
                return inner
            if found := _path_to_nul(item, inner):
                return found
    return None


def _is_dated(annotation: Any) -> bool:
    if annotation in (date, datetime):
        return True
    return any(_is_dated(arg) for arg in typing.get_args(annotation))


@cache
def _dated_query_parameters(handler: HTTPRouteHandler) -> tuple[str, ...]:
    """The query parameters of a route whose values are dates or moments, by their names."""
    names = []
    for name, field in handler.parsed_fn_signature.parameters.items():
        if _is_dated(field.annotation):
            alias = getattr(field.kwarg_definition, "query", None)
            names.append(alias or name)
    return tuple(names)


@cache
def _takes_json_body(handler: HTTPRouteHandler) -> bool:
    data = handler.parsed_fn_signature.parameters.get("data")
    return data is not None and data.annotation not in (bytes, str)


def _date_or_moment(raw: str) -> date | datetime | None:
    """A date (2026-11-30) or an ISO moment; None for anything else, which the
    parameter's own parsing then names."""
    try:
        return date.fromisoformat(raw) if len(raw) == 10 else datetime.fromisoformat(raw)
    except ValueError:
        return None


def _parameter_errors(request: Request[Any, Any, Any]) -> list[dict[str, str]]:
    errors = []
    for name, value in request.path_params.items():
        if isinstance(value, str) and NUL in value:
            errors.append({"key": name, "message": NUL_MESSAGE, "source": "path"})
    query = request.query_params
    for name in query:
        if NUL in name or any(NUL in value for value in query.getall(name)):
            errors.append({"key": name.replace(NUL, ""), "message": NUL_MESSAGE, "source": "query"})
    for name in _dated_query_parameters(request.route_handler):
        raw = query.get(name)
        if raw is None or NUL in raw:
            continue
        value = _date_or_moment(raw)
        if value is not None and not date_in_range(value):
            errors.append({"key": name, "message": DATE_RANGE_MESSAGE, "source": "query"})
    return errors


async def _body_errors(request: Request[Any, Any, Any]) -> list[dict[str, str]]:
    if not _takes_json_body(request.route_handler):
        return []
    body = await request.body()
    if json_nests_deeper_than(body, MAX_JSON_DEPTH):
        return [{"key": "body", "message": DEPTH_MESSAGE, "source": "body"}]
    if _ESCAPED_NUL in body:
        try:
            decoded = msgspec.json.decode(body)
        except msgspec.DecodeError:
            return []  # malformed: the body's own decoding names it
        if (path := _path_to_nul(decoded, "")) is not None:
            return [{"key": path or "body", "message": NUL_MESSAGE, "source": "body"}]
    return []


async def refuse_hostile_input(request: Request[Any, Any, Any]) -> None:
    """Litestar's ``before_request`` hook for every route (set once, on the app)."""
    errors = _parameter_errors(request)
    if not errors:
        errors = await _body_errors(request)
    if errors:
        _refuse(errors)
