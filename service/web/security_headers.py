"""Browser protections on every answer: nosniff everywhere, a strict policy on HTML.

A ``before_send`` hook of the application, so it covers every response, unrouted
404s and error pages included. The public pages load one stylesheet from this origin
and run no script, so their policy allows nothing else: no inline code, no framing
(clickjacking), no form posting elsewhere, and no Referer for a link to follow.
The API documentation under ``/schema`` brings its own page and is left as it is.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
HTML_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
OWN_PAGE = "/schema"  # the OpenAPI documentation UI: its own scripts, its own rules


async def add_security_headers(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    headers["X-Content-Type-Options"] = "nosniff"
    path = scope.get("path", "")
    if path == OWN_PAGE or path.startswith(OWN_PAGE + "/"):
        return
    if (headers.get("content-type") or "").startswith("text/html"):
        for name, value in HTML_HEADERS.items():
            headers[name] = value
