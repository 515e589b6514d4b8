"""Name matching from user text: LIKE patterns with the wildcards escaped, so a name is
matched as typed, and the trigram thresholds of the name searches."""

from __future__ import annotations

import re

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
    " set_config('pg_trgm.word_similarity_threshold', :word, true)"
)


async def use_name_similarity(
    session: AsyncSession, threshold: float = NAME_SIMILARITY, word: float | None = None
) -> None:
    """Make pg_trgm's ``%`` mean ``>= threshold`` and ``<%`` mean ``>= word`` (the same
    unless given) until the transaction ends.

    Written with the operators (not ``similarity() >= x``), a filter is served by the
    trigram index; ``set_config(..., true)`` is ``SET LOCAL``, so nothing leaks to the
    pool's next user.
    """
    word = threshold if word is None else word
    await session.execute(_THRESHOLDS, {"value": str(threshold), "word": str(word)})


# Words most names of elderly-care institutions carry (kinds of home, of service, of
# legal entity). A trigram of one of them is in a good part of the country's names, so
# an index lookup by it reads a posting list of 100,000 rows; the rest of a name (place,
# brand) is what tells one institution from another.
GENERIC_NAME_WORDS = (
    "有限责任公司", "股份有限公司", "有限公司", "分公司", "公司",
    "养老服务", "养老", "敬老", "福利", "护理", "颐养", "康养", "医养", "托养", "供养",
    "服务", "照料", "日间", "居家", "社区", "老年人", "老年", "公寓", "中心", "社会",
)  # fmt: skip
_GENERIC = re.compile("|".join(sorted(map(re.escape, GENERIC_NAME_WORDS), key=len, reverse=True)))


def distinctive_part(term: str) -> str:
    """``term`` without the generic words: ``"卧龙区前进居家养老服务照料中心"`` gives
    ``"卧龙区前进"``. The pieces are joined as they were (a space would make each a word
    of its own, whose padded trigrams a longer name does not have); a piece of a single
    character is dropped. The term itself when nothing is left.
    """
    pieces = [piece for piece in _GENERIC.sub(" ", term).split() if len(piece) > 1]
    return "".join(pieces) or term
