"""Parameters that many routes share: security, If-Match, the region filter."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar.params import HeaderParameter, QueryParameter

SECURITY: list[dict[str, list[str]]] = [{"BearerToken": []}]
IfMatch = Annotated[str | None, HeaderParameter(name="If-Match", required=False)]
AsOf = Annotated[
    date | None,
    QueryParameter(description="the date to answer for (China time); default today"),
]
RegionFilter = Annotated[
    str | None, QueryParameter(description="region prefix: 2, 4 or 6 digits", max_length=6)
]
