"""Page parameters and the page envelope every list endpoint returns."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

import msgspec
from litestar.params import QueryParameter

T = TypeVar("T")

MAX_PAGE = 100_000
MAX_PAGE_SIZE = 200

PageNumber = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description="1-based page number")]
PageSize = Annotated[
    int, QueryParameter(ge=1, le=MAX_PAGE_SIZE, name="page_size", description="items per page")
]


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    page: int
    page_size: int
    total: int


class Paging(msgspec.Struct, frozen=True):
    """The page a list request asks for; it wraps the items found in the page envelope."""

    page: int
    page_size: int

    def of(self, items: list[T], total: int) -> Page[T]:
        return Page(items=items, page=self.page, page_size=self.page_size, total=total)


async def provide_paging(page: PageNumber = 1, page_size: PageSize = 20) -> Paging:
    return Paging(page, page_size)
