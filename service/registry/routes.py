"""HTTP routes of the registry: thin adapters from requests to registry.service.

Institutions and practitioners are served alike: create, read, search and update, one
table of rows each, made into routes by ``service.web.endpoints``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from litestar.params import QueryParameter
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import CommandContext
from service.db.paging import Listing
from service.registry import service
from service.registry.schemas import (
    InstitutionCreate,
    InstitutionOut,
    InstitutionUpdate,
    PractitionerCreate,
    PractitionerOut,
    PractitionerUpdate,
)
from service.validation import NO_NUL
from service.web.answers import as_is, shaped, tagged_answer
from service.web.endpoints import Endpoint, Option, endpoint_routes
from service.web.pagination import Page, Paging
from service.web.params import RegionFilter

SearchTerm = Annotated[str | None, QueryParameter(max_length=100, pattern=NO_NUL)]
SEARCH_OPTIONS = (Option("region", RegionFilter), Option("q", SearchTerm))


def _search(
    list_subjects: Callable[..., Awaitable[Listing]], shape: type[Any]
) -> Callable[..., Awaitable[Page[Any]]]:
    """A search of subjects answered a page at a time, in the answer's shape."""

    async def search(
        session: AsyncSession, ctx: CommandContext, paging: Paging, *needs: Any, **where: Any
    ) -> Page[Any]:
        listing = await list_subjects(
            session, ctx, *needs, **where, page=paging.page, page_size=paging.page_size
        )
        return paging.of([shaped(row, shape) for row in listing.rows], listing.total)

    return search


@dataclass(frozen=True, slots=True)
class Subjects:
    """What differs between institutions and practitioners on the wire."""

    collection: str
    id_name: str  # the path's id
    create: Callable[..., Awaitable[Any]]
    get: Callable[..., Awaitable[Any]]
    list: Callable[..., Awaitable[Listing]]
    update: Callable[..., Awaitable[Any]]
    create_shape: type[Any]
    shape: type[Any]
    update_shape: type[Any]
    needs: tuple[str, ...] = ()  # what creating and listing also need (the vault)


def _endpoints(subjects: Subjects) -> tuple[Endpoint, ...]:
    collection, shape, needs = subjects.collection, subjects.shape, subjects.needs
    one, target = f"{collection}/{{{subjects.id_name}:uuid}}", (subjects.id_name,)
    answer = tagged_answer(shape, collection=collection)
    search = _search(subjects.list, shape)
    return (
        Endpoint(collection, subjects.create, subjects.create_shape, answer, shape, 201,
                 needs=needs, name="create"),
        Endpoint(one, subjects.get, None, answer, shape, targets=target, method="GET",
                 name="read"),
        Endpoint(collection, search, None, as_is, Page[shape],  # type: ignore[valid-type]
                 method="GET", needs=("paging", *needs), options=SEARCH_OPTIONS, name="search"),
        Endpoint(one, subjects.update, subjects.update_shape, answer, shape, targets=target,
                 method="PATCH", name="update"),
    )  # fmt: skip


INSTITUTIONS = Subjects(
    "/api/v1/institutions",
    "institution_id",
    create=service.create_institution,
    get=service.get_institution,
    list=service.list_institutions,
    update=service.update_institution,
    create_shape=InstitutionCreate,
    shape=InstitutionOut,
    update_shape=InstitutionUpdate,
)
PRACTITIONERS = Subjects(
    "/api/v1/practitioners",
    "practitioner_id",
    create=service.create_practitioner,
    get=service.get_practitioner,
    list=service.list_practitioners,
    update=service.update_practitioner,
    create_shape=PractitionerCreate,
    shape=PractitionerOut,
    update_shape=PractitionerUpdate,
    needs=("vault",),
)

ROUTES: list[ControllerRouterHandler] = [
    *endpoint_routes(_endpoints(INSTITUTIONS), tags=["registry"]),
    *endpoint_routes(_endpoints(PRACTITIONERS), tags=["registry"]),
]
