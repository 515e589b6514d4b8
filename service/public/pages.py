"""The public pages: search, institution and lists, server-rendered, Chinese or English.

The language comes from ``?lang=`` or the browser's Accept-Language (Chinese by
default); each language's page is cached on its own and says so with ``Vary``.

Entries carry their reason as a code; a page shows its title in the policy in force
when it renders (``display.reason``), so the policy stays the titles' one source.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from litestar import Request, get
from litestar.datastructures import CacheControlHeader
from litestar.params import FromPath
from litestar.response.base import ASGIResponse
from litestar.static_files import create_static_files_router
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from service.clock import local_date
from service.errors import NotFound
from service.identity.codes import IdentifierError, normalize_region_prefix, normalize_uscc
from service.policy.document import ListType
from service.policy.store import policy_in_force
from service.public import display, queries
from service.public.i18n import MESSAGES, choose_language
from service.public.routes import PageNumber, Query, Region
from service.public.serving import answer, cached_answer, request_key
from service.web.request_id import redact_echoes, redact_path

HTML = "text/html; charset=utf-8"


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("service.public", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _language(request: Request[Any, Any, Any]) -> str:
    return choose_language(request.query_params.get("lang"), request.headers.get("accept-language"))


def _url(path: str, params: dict[str, Any]) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return path + ("?" + urlencode(kept) if kept else "")


def render(
    request: Request[Any, Any, Any], template: str, lang: str, *, path: str | None = None,
    **context: Any,
) -> bytes:  # fmt: skip
    other = "en" if lang == "zh" else "zh"
    params = dict(request.query_params) | {"lang": other}
    page = (
        _templates()
        .get_template(template)
        .render(
            lang=lang,
            t=MESSAGES[lang],
            other_language_url=_url(path or request.url.path, params),
            code=display.code,
            day=display.day,
            has_beds=display.has_beds,
            markup=Markup,
            period=lambda start, end: display.period(start, end, lang),
            place=lambda value: display.region(value, lang),
            **context,
        )
    )
    return page.encode()


def not_found_page(request: Request[Any, Any, Any], lang: str, message: str) -> ASGIResponse:
    """The 404 page; whatever the path held that looks like an ID number is masked."""
    body = render(
        request, "not_found.html", lang, path=redact_path(request.url.path),
        message=redact_echoes(message, request.url.path),
    )  # fmt: skip
    return ASGIResponse(body=body, status_code=404, media_type=HTML)


async def _reasons(
    request: Request[Any, Any, Any], session: AsyncSession, lang: str
) -> Callable[[str, str], str]:
    """Each list entry's reason by its title in the policy in force now."""
    now = request.app.state.clock()
    policy = await policy_in_force(session, local_date(now), now)
    return lambda list_type, code: display.reason(policy, list_type, code, lang)


def _page_key(request: Request[Any, Any, Any], lang: str) -> str:
    """A page varies with its language (from ?lang= or Accept-Language) and nothing else."""
    return request_key(request, f"page:{lang}:")


async def _page(
    request: Request[Any, Any, Any], lang: str, produce: Any, missing: str
) -> ASGIResponse:
    try:
        return await answer(
            request,
            _page_key(request, lang),
            produce,
            missing=missing,
            headers={"Vary": "Accept-Language"},
        )
    except NotFound as error:
        return not_found_page(request, lang, error.detail)


@get("/", include_in_schema=False)
async def search_page(
    request: Request[Any, Any, Any], q: Query = None, region: Region = None, page: PageNumber = 1
) -> ASGIResponse:
    lang = _language(request)
    try:
        prefix = normalize_region_prefix(region) if region else None
    except IdentifierError:
        prefix = None  # a page forgives what the API refuses

    async def produce(session: Any) -> tuple[bytes, str]:
        found = await queries.search(session, q, prefix, page) if (q or prefix) else None

        def page_url(number: int) -> str:
            return _url("/", {"q": q, "region": region, "page": number, "lang": lang})

        body = render(
            request, "search.html", lang, q=q, region=region, found=found, page_url=page_url
        )
        return body, HTML

    return await _page(request, lang, produce, "")


@get("/institutions/{uscc:str}", include_in_schema=False)
async def institution_page(request: Request[Any, Any, Any], uscc: FromPath[str]) -> ASGIResponse:
    lang = _language(request)
    if (hit := cached_answer(request, _page_key(request, lang))) is not None:
        return hit  # keyed by the raw path and the language: a hit normalises nothing
    message = MESSAGES[lang]["not_found"].format(uscc=uscc[:18])
    try:
        code = normalize_uscc(uscc)
    except IdentifierError:
        return not_found_page(request, lang, message)

    async def produce(session: AsyncSession) -> tuple[bytes, str] | None:
        document = await queries.institution(session, code)
        if document is None:
            return None
        reason = await _reasons(request, session, lang)
        return render(request, "institution.html", lang, d=document, reason=reason), HTML

    return await _page(request, lang, produce, message)


@get("/lists/{list_type:str}", include_in_schema=False)
async def list_page(
    request: Request[Any, Any, Any], list_type: FromPath[ListType], region: Region = None,
    page: PageNumber = 1,
) -> ASGIResponse:  # fmt: skip
    lang = _language(request)
    try:
        prefix = normalize_region_prefix(region) if region else None
    except IdentifierError:
        prefix = None

    async def produce(session: AsyncSession) -> tuple[bytes, str]:
        found = await queries.current_entries(session, list_type.value, prefix, page)
        reason = await _reasons(request, session, lang)

        def page_url(number: int) -> str:
            return _url(request.url.path, {"region": region, "page": number, "lang": lang})

        body = render(
            request, "list.html", lang, list_type=list_type.value, found=found,
            page_url=page_url, reason=reason,
        )  # fmt: skip
        return body, HTML

    return await _page(request, lang, produce, "")


PAGE_ROUTES = [search_page, institution_page, list_page]
# The pages' stylesheet, from the package (the pages' CSP allows no inline style).
PUBLIC_ASSETS = create_static_files_router(
    path="/static/public",
    directories=[Path(__file__).parent / "static"],
    cache_control=CacheControlHeader(public=True, max_age=3600),
    name="public_assets",
)
