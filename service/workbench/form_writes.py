"""A workbench form written as the API writes: idempotent on the form's own key, in a
savepoint of the request's transaction.

- Each rendered form carries its own idempotency key (``new_form_key``), given to the
  API's ``idempotent``: a double click or a resubmitted form replays the first answer
  (a redirect, ``see_other``) and creates nothing twice.
- Each write runs in a savepoint. A refused form rolls back all it began (its
  idempotency claim and queued audit rows included) while the page that answers with
  the errors still commits the rest (the session's last-seen time); its corrected copy
  then goes through.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response

from service.public.pages import HTML
from service.web.idempotency import idempotent, is_idempotency_key
from service.workbench.routes import Desk


def see_other(location: str) -> Response[bytes]:
    """A 303 whose Location is a plain header, so the idempotency store keeps and replays it."""
    return Response(b"", status_code=303, media_type=HTML, headers={"Location": location})


def new_form_key() -> str:
    return str(uuid.uuid4())


class _SubmittedForm:
    """A form post as the idempotency fingerprint sees it: its fields, as one canonical
    body. The CSRF guard has already parsed the form from the request's stream, so a
    multipart body is not there to read again (reading it would wait for ever); and a
    second click sends the same fields under another multipart boundary, which is the
    same request."""

    def __init__(self, request: Request[Any, Any, Any], fields: dict[str, Any]) -> None:
        self.method = request.method
        self.url = request.url
        self._canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()

    async def body(self) -> bytes:
        return self._canonical


async def write_idempotently(
    desk: Desk,
    key: str,
    work: Callable[[], Awaitable[Response[Any]]],
    *,
    fields: dict[str, Any] | None = None,
) -> Response[Any]:
    """Run a page's write as the API would (idempotent on the form's key), in a savepoint:
    a refusal raises out of it, leaving nothing of the attempt behind. The request is
    fingerprinted by its form's text fields, or by ``fields`` (an upload: its file's digest)."""
    request, session = desk.request, desk.session
    if fields is None:
        form = await request.form()
        fields = {name: [v for v in form.getall(name) if isinstance(v, str)] for name in form}
    # idempotent() reads only the method, the URL and the body of what it is given.
    submitted: Any = _SubmittedForm(request, fields)
    async with session.begin_nested():
        return await idempotent(
            submitted, session, desk.ctx, key if is_idempotency_key(key) else None, work
        )
