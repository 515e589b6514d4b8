"""Name matching from user text: LIKE patterns with the wildcards escaped, so a name is
matched as typed, and the trigram thresholds of the name searches."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains(text: str) -> str:
    return f"%{escape_like(text)}%"


# Below this trigram similarity a name is no match, for the public and the staff search
# alike (pg_trgm's default is 0.3; Chinese names are short, so a little lower still finds
# one with a character wrong).
NAME_SIMILARITY = 0.2
_THRESHOLDS = sa.text(
    "SELECT set_config('pg_trgm.similarity_threshold', :value, true),"
    " set_config('pg_trgm.word_similarity_threshold', :value, true)"
)


async def use_name_similarity(session: AsyncSession, threshold: float = NAME_SIMILARITY) -> None:
    """Make pg_trgm's ``%`` and ``<%`` mean ``>= threshold`` until the transaction ends.

    Written with the operators (not ``similarity() >= x``), a filter is served by the
    trigram index; ``set_config(..., true)`` is ``SET LOCAL``, so nothing leaks to the
    pool's next user.
    """
    await session.execute(_THRESHOLDS, {"value": str(threshold)})
