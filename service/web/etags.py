"""Optimistic locking over HTTP: the version is the ETag, If-Match must name it."""

from __future__ import annotations

from service.errors import Invalid, PreconditionRequired


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None) -> int:
    if if_match is None:
        raise PreconditionRequired(
            "send If-Match with the ETag of the copy you are changing, so no update is lost"
        )
    value = if_match.strip()
    value = value.removeprefix("W/").strip('"')
    if not value.isdigit():
        raise Invalid.field("If-Match", 'must be the ETag returned by GET, such as "3"')
    return int(value)
