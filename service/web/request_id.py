"""A request id on every request, every log line and every response.

A caller's ``X-Request-ID`` is kept when it is a plain token that cannot carry an
ID number or a card number, so a trace can cross services; otherwise a new one is
made. The access line records the path without its query string, which may carry
names or ID numbers, and with any ID-number-shaped segment masked.
"""

from __future__ import annotations

import re
import time
import uuid
from contextvars import ContextVar

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.logs import get_logger

REQUEST_ID_HEADER = "x-request-id"
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# A canonical UUID is always kept: its longest run of digits is 12.
_UUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
# Other tokens are refused when, separators aside, they hold 15 digits in a row: the
# length of an old 15-digit ID number, and less than an 18-digit one or a bank card.
_LONG_DIGIT_RUN = re.compile(r"[0-9]{15}")
_SEPARATORS = re.compile(r"[._-]")
# Anything shaped like a resident ID number is masked before a path is logged.
_ID_NUMBER_LIKE = re.compile(r"(\d{6})\d{8}(\d{3}[\dXx])")
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

log = get_logger("service.access")


def _masked(match: re.Match[str]) -> str:
    return match.group(1) + "********" + match.group(2)


def redact_path(path: str) -> str:
    """The path with every ID-number-shaped run masked as the public masks ID numbers."""
    return _ID_NUMBER_LIKE.sub(_masked, path)


def redact_echoes(text: str, path: str) -> str:
    """``text`` (an error's detail) with every ID-number-shaped run of ``path`` masked
    where it repeats it; codes the caller sent in a body are named as they were."""
    for match in _ID_NUMBER_LIKE.finditer(path):
        text = re.sub(re.escape(match.group(0)), _masked(match), text, flags=re.IGNORECASE)
    return text


def current_request_id() -> str | None:
    return _request_id.get()


def safe_request_id(candidate: str) -> bool:
    """Whether a caller's request id may be logged and echoed as it is."""
    if _UUID.match(candidate):
        return True
    return bool(_ACCEPTABLE.match(candidate)) and not _LONG_DIGIT_RUN.search(
        _SEPARATORS.sub("", candidate)
    )


def _incoming_request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            candidate = value.decode("latin-1")
            if safe_request_id(candidate):
                return candidate
    return uuid.uuid4().hex


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope)
        token = _request_id.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await app(scope, receive, send_with_id)
            finally:
                log.info(
                    "request",
                    method=scope.get("method"),
                    path=redact_path(scope["path"]),
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )
                _request_id.reset(token)

    return middleware
