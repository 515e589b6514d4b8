"""A request id on every request, every log line and every response.

A caller's ``X-Request-ID`` is kept when it is a plain token that cannot carry an
ID number or a card number, so a trace can cross services; otherwise a new one is
made (a per-process random prefix and a counter: no uuid per request). The access
line records the path without its query string, which may carry names or ID numbers,
and with any ID-number-shaped segment masked.

Both can be switched off (``REQUEST_ID=off``, ``ACCESS_LOG=off``) and the access log
sampled (``ACCESS_LOG=sample:0.01``); a line that would be dropped, by the sample or
by the log level, is never built.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import re
import secrets
import string
import time
from contextvars import ContextVar
from typing import Any, cast

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Middleware, Receive, Scope, Send

from service.logs import get_logger

REQUEST_ID_HEADER = "x-request-id"
_HEADER_BYTES = REQUEST_ID_HEADER.encode()
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

ACCESS_LOGGER = "service.access"
log = get_logger(ACCESS_LOGGER)


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


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == _HEADER_BYTES:
            candidate = value.decode("latin-1")
            return candidate if safe_request_id(candidate) else None
    return None


class _NewIds:
    """Ids made cheaply: a random prefix per process and a counter (no uuid per request).

    The prefix is drawn again in a forked child, so two workers never share it."""

    def __init__(self) -> None:
        self._prefix = ""
        self._counter = itertools.count(1)
        self.renew()

    def renew(self) -> None:
        # Letters only: with the counter's hex, never 15 digits in a row, so the id
        # passes safe_request_id when another service sends it back.
        self._prefix = "".join(secrets.choice(string.ascii_lowercase) for _ in range(12)) + "-"
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter):x}"


new_request_id = _NewIds()
os.register_at_fork(after_in_child=new_request_id.renew)


def _with_header(message: Message, value: bytes) -> None:
    """The id appended to a response start's headers (a list in Litestar's messages)."""
    fields = cast(dict[str, Any], message)
    headers = fields.get("headers")
    if isinstance(headers, list):
        headers.append((_HEADER_BYTES, value))
    else:
        fields["headers"] = [*(headers or ()), (_HEADER_BYTES, value)]


def make_request_middleware(
    *, request_ids: bool = True, access_sample: float = 1.0
) -> list[Middleware]:
    """The request-id and access-log middleware as configured; none when both are off.

    REQUEST_ID=off: no id made, none echoed, none in the log lines. ACCESS_LOG=off or
    sample:F: no line, or a line for about that fraction of the requests; whether a line
    is written (the sample, then the log level) is decided before anything is built."""
    if not request_ids and access_sample <= 0.0:
        return []
    access_logger = logging.getLogger(ACCESS_LOGGER)
    every = access_sample >= 1.0
    draw = random.random

    def wanted() -> bool:
        if access_sample <= 0.0 or not (every or draw() < access_sample):
            return False
        return access_logger.isEnabledFor(logging.INFO)

    def request_middleware(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            logged = wanted()
            if not request_ids:
                if not logged:
                    await app(scope, receive, send)
                    return
                await _logged(app, scope, receive, send, None)
                return
            request_id = _incoming_request_id(scope) or new_request_id()
            token = _request_id.set(request_id)
            bound = structlog.contextvars.bind_contextvars(request_id=request_id)
            value = request_id.encode("latin-1")

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    _with_header(message, value)
                await send(message)

            try:
                if logged:
                    await _logged(app, scope, receive, send_with_id, request_id)
                else:
                    await app(scope, receive, send_with_id)
            finally:
                structlog.contextvars.reset_contextvars(**bound)
                _request_id.reset(token)

        return middleware

    return [request_middleware]


async def _logged(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, request_id: str | None
) -> None:
    started = time.perf_counter()
    status = 500

    async def send_noting_status(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        await send(message)

    try:
        await app(scope, receive, send_noting_status)
    finally:
        log.info(
            "request",
            method=scope.get("method"),
            path=redact_path(scope["path"]),
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )


# Both on: what the service runs with unless the settings say otherwise.
request_id_middleware = make_request_middleware()[0]
