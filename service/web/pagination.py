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
