"""HTTP routes of employment links: hiring (with the black-list bar), ending, listing."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from litestar.params import QueryParameter
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import CommandContext
from service.employment import service
from service.employment.schemas import EmploymentCreate, EmploymentOut, EmploymentUpdate
from service.web.answers import shaped, tagged_answer
from service.web.endpoints import Endpoint, Option, endpoint_routes, subject_reads

EMPLOYMENTS = "/api/v1/employments"
CurrentOnly = Annotated[bool, QueryParameter(description="only links without an end date")]


def _links_of(subject: str) -> Callable[..., Awaitable[list[EmploymentOut]]]:
    """The employment links of one institution or one practitioner."""

    async def links(
        session: AsyncSession, ctx: CommandContext, subject_id: uuid.UUID, *, current: bool
    ) -> list[EmploymentOut]:
        where = {f"{subject}_id": subject_id}
        rows = await service.list_employments(session, ctx, current_only=current, **where)
        return [shaped(row, EmploymentOut) for row in rows]

    return links


_answer = tagged_answer(EmploymentOut)  # no Location: a link is read through its subjects
ENDPOINTS = (
    Endpoint(
        EMPLOYMENTS, service.create_employment, EmploymentCreate, _answer, EmploymentOut, 201,
        name="create",
    ),
    Endpoint(
        f"{EMPLOYMENTS}/{{employment_id:uuid}}", service.update_employment, EmploymentUpdate,
        _answer, EmploymentOut, targets=("employment_id",), method="PATCH", name="update",
    ),
    *subject_reads(
        "employments", _links_of, list[EmploymentOut], name="employments",
        options=(Option("current", CurrentOnly, False),),
    ),
)  # fmt: skip

ROUTES: list[ControllerRouterHandler] = endpoint_routes(ENDPOINTS, tags=["registry"])
