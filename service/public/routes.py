"""The public JSON API and CSV files: no login, cached, rate-limited per client."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Request, get
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response.base import ASGIResponse

from service.identity.codes import normalize_region_prefix, normalize_uscc
from service.policy.document import ListType
from service.public import queries
from service.public.schemas import PublicInstitutionOut, PublicListPage, PublicSearchPage
from service.public.serving import answer, cached_answer, request_key
from service.tabular import write_csv
from service.validation import checked

Query = Annotated[str | None, QueryParameter(max_length=100, description="name or USCC")]
Region = Annotated[
    str | None, QueryParameter(max_length=6, description="region prefix: 2, 4 or 6 digits")
]
PageNumber = Annotated[int, QueryParameter(ge=1, le=10_000)]
JSON = "application/json"
CSV = "text/csv; charset=utf-8"
ENTRY_COLUMNS = (
    "entry_id", "list_type", "subject_kind", "name", "uscc", "id_number_masked",
    "region_code", "reason_code", "effective_from", "effective_to", "published_at",
    "ended_at", "end_reason",
)  # fmt: skip
CHANGE_COLUMNS = ("change", "changed_at", *ENTRY_COLUMNS)


def _json_answer(shape: type[Any]) -> dict[int, ResponseSpec]:
    """The documented success answer of a route that sends prepared JSON bytes."""
    return {200: ResponseSpec(shape, description="the answer", media_type=JSON)}


def _csv_answer(columns: tuple[str, ...]) -> dict[int, ResponseSpec]:
    return {
        200: ResponseSpec(
            str,
            description="UTF-8 CSV with a BOM; columns: " + ", ".join(columns),
            media_type=CSV,
            generate_examples=False,
        )
    }


def _region(region: str | None) -> str | None:
    return checked("region", normalize_region_prefix, region) if region else None


def _json(data: Any) -> tuple[bytes, str]:
    return msgspec.json.encode(data), JSON


@get("/api/v1/public/institutions", tags=["public"], responses=_json_answer(PublicSearchPage))
async def search_institutions(
    request: Request[Any, Any, Any], q: Query = None, region: Region = None, page: PageNumber = 1
) -> ASGIResponse:
    """Search by name (typos and partial names forgiven, ranked); an exact USCC comes first.

    A name search ranks bounded lists of candidates (``db/name_search.py``); when one
    was cut short, ``total`` is a lower bound and ``total_is_estimate`` is true.
    """
    prefix = _region(region)

    async def produce(session: Any) -> tuple[bytes, str]:
        found = await queries.search(session, q, prefix, page)
        return _json({"items": found.items, "total": found.total, "page": found.page,
                      "page_size": found.page_size,
                      "total_is_estimate": found.total_is_estimate})  # fmt: skip

    return await answer(request, request_key(request), produce)


@get(
    "/api/v1/public/institutions/{uscc:str}",
    tags=["public"],
    responses=_json_answer(PublicInstitutionOut),
)
async def public_institution(request: Request[Any, Any, Any], uscc: FromPath[str]) -> ASGIResponse:
    """An institution's public credit status: grade, stars, lists, penalties, commendations."""
    key = request_key(request)
    if (hit := cached_answer(request, key)) is not None:
        return hit  # keyed by the raw path: a hit normalises nothing
    code = checked("uscc", normalize_uscc, uscc)

    async def produce(session: Any) -> tuple[bytes, str] | None:
        document = await queries.institution(session, code)
        return _json(document) if document is not None else None

    return await answer(request, key, produce, missing=f"no institution has the USCC {code}")


@get(
    "/api/v1/public/lists/{list_type:str}", tags=["public"], responses=_json_answer(PublicListPage)
)
async def public_list(
    request: Request[Any, Any, Any], list_type: FromPath[ListType], region: Region = None,
    page: PageNumber = 1,
) -> ASGIResponse:  # fmt: skip
    """The entries of a published list in force now, newest first."""
    prefix = _region(region)

    async def produce(session: Any) -> tuple[bytes, str]:
        found = await queries.current_entries(session, list_type.value, prefix, page)
        return _json({"list_type": list_type.value, "items": found.items, "total": found.total,
                      "page": found.page, "page_size": found.page_size})  # fmt: skip

    return await answer(request, request_key(request), produce)


@get(
    "/api/v1/public/lists/{list_type:str}/snapshot.csv",
    tags=["public"],
    responses=_csv_answer(ENTRY_COLUMNS),
)
async def list_snapshot(
    request: Request[Any, Any, Any], list_type: FromPath[ListType], region: Region = None
) -> ASGIResponse:
    """Every entry in force now, as CSV (UTF-8 with BOM, opens in Excel)."""
    prefix = _region(region)

    async def produce(session: Any) -> tuple[bytes, str]:
        found = await queries.current_entries(session, list_type.value, prefix, None)
        rows = ([item[column] for column in ENTRY_COLUMNS] for item in found.items)
        return write_csv(ENTRY_COLUMNS, rows), CSV

    name = f"{list_type.value}-list-snapshot.csv"
    return await answer(
        request, request_key(request), produce,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )  # fmt: skip


@get(
    "/api/v1/public/lists/{list_type:str}/changes.csv",
    tags=["public"],
    responses=_csv_answer(CHANGE_COLUMNS),
)
async def list_changes(
    request: Request[Any, Any, Any],
    list_type: FromPath[ListType],
    since: FromQuery[date],
    region: Region = None,
) -> ASGIResponse:
    """Entries added and removed since a date, in order, as CSV (a monthly file, say)."""
    prefix = _region(region)
    columns = CHANGE_COLUMNS

    async def produce(session: Any) -> tuple[bytes, str]:
        changes = await queries.changes_since(session, list_type.value, since, prefix)
        return write_csv(columns, ([c[column] for column in columns] for c in changes)), CSV

    name = f"{list_type.value}-list-changes-since-{since.isoformat()}.csv"
    return await answer(
        request, request_key(request), produce,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )  # fmt: skip


API_ROUTES = [search_institutions, public_institution, public_list, list_snapshot, list_changes]
