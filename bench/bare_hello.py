"""The benchmark's baseline: a bare Litestar app answering one JSON document, nothing else.

Served by bench/lookup.py under the same server and worker count as the service
(``uvicorn bare_hello:app`` or ``granian --interface asgi bare_hello:app``).
"""

from __future__ import annotations

from litestar import Litestar, get


@get("/")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


app = Litestar(route_handlers=[hello], logging_config=None, openapi_config=None)
