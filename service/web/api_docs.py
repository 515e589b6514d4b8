"""The API documentation page: Swagger UI served from this package's own dependency.

A government network may not reach a CDN, and a page that pulls its scripts from one
runs whatever that CDN serves today. The assets come from the ``swagger-ui-bundle-v2``
wheel (Swagger UI 5, which reads OpenAPI 3.1), under ``/static/api-docs``.
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

ASSETS_PATH = "/static/api-docs"

API_DOCS_ASSETS = create_static_files_router(
    path=ASSETS_PATH,
    directories=[Path(swagger_ui_bundle.swagger_ui_path)],
    cache_control=CacheControlHeader(public=True, max_age=86_400),
    include_in_schema=False,
    name="api_docs_assets",
)


def swagger_page() -> SwaggerRenderPlugin:
    """The Swagger UI page at ``/schema``, every asset from ``ASSETS_PATH``."""
    return SwaggerRenderPlugin(
        path="/",
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
    )
