"""The candidates a name search ranks: bounded lists read through the trigram index, not
every weak match (decision 0032). The public search ranks them (``public.queries``).

With realistic names a whole name is "similar" (NAME_SIMILARITY) to a quarter of the
country and a part like 养老服务 is in 160,000 names; ranking all of those is seconds.
Each list here reads at most :n rows. A search ranks what they found with its own rank,
and keeps only the candidates that are matches as before (``MATCH``).

The planner knows little of how many names a trigram operator keeps (from 0.01% to 2%
of the rows, whatever the term). On the wide ``public_institutions`` it reads these
lists through the GIN index, as it should. On a narrow table (``institutions``) an
estimate of 1% already makes a scan that stops at :n look cheaper, and a rare term then
reads the whole table (0.1–1 s): mind that before using these lists there.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.db.like import (
    NAME_SIMILARITY,
    contains,
    distinctive_part,
    escape_like,
    use_name_similarity,
)

# Rows a list reads for the first three pages of 20 (so they all come from one and the
# same set), twice that for the next three, and so on, up to DEEPEST: a term in more
# names than that shows what the lists read (about 48 pages of 20), its total a floor.
CANDIDATES = 60
DEEPEST = 960
# How much of a term's distinctive part (``distinctive_part``) a name must share to be a
# similar candidate (word similarity), and how close a name must be to the whole term
# (similarity) when none contains it; a candidate must still reach NAME_SIMILARITY
# against the whole term to be a match, as every match did before.
DISTINCTIVE_SIMILARITY = 0.5
CLOSE = 0.6
# Up to this length a term with a character wrong falls below CLOSE (a 9-character one
# keeps 7 of its 10 trigrams: 7 / 13 = 0.54), so these terms also read the names of a
# word similarity of DISTINCTIVE_SIMILARITY to the whole term.
SHORT_NAME = 10

# A candidate is a match as before: a containing name or a likeness of at least
# NAME_SIMILARITY (the functions, not the operators: they run on the candidates only,
# and the operators' thresholds are the lists' here).
MATCH = (
    "(name ILIKE :like OR similarity(name, :term) >= :similarity"
    " OR word_similarity(:term, name) >= :similarity)"
)
# The likeness that ranks names within a class (word similarity, in fact, for every name
# measured: it is never below the similarity).
LIKENESS = "greatest(similarity(name, :term), word_similarity(:term, name))"

# First the names containing the term; when there are more than the list reads, which it
# reads is the index's choice (or the table's order: for a pattern in a good part of the
# country a scan that stops at :n is cheaper), so the more alike among them are read as
# lists of their own: the name that is the term, the names beginning with it (the word's
# leading trigrams match too), then those ending with it.
_INSIDE = "SELECT 1 AS list, {key} AS key, name FROM {table} WHERE name ILIKE :like{scope} LIMIT :n"
_EDGES = tuple(
    f"SELECT {number} AS list, key, name FROM (SELECT {{key}} AS key, name FROM {{table}}"
    f" WHERE {condition}{{scope}} AND (SELECT count(*) FROM inside) >= :n LIMIT :n)"
    f" AS l{number}"
    for number, condition in (
        (2, "name = :term"), (3, "name ILIKE :starts"), (4, "name ILIKE :ends"),
    )
)  # fmt: skip
# Then, only when the containing names do not fill the page (they rank below every one
# of those): the names sharing the term's distinctive part (the place and the brand:
# rare trigrams, a short walk of the index) and, when no name contains the term (a
# character wrong, say), names close to it as a whole. Close at 0.5 to a long name with
# a common ending (居家养老服务照料中心) is 1,500 names to read, hence CLOSE, and 0.5
# only for short terms.
_SIMILAR = (
    "SELECT 5 AS list, key, name FROM (SELECT {key} AS key, name FROM {table}"
    " WHERE :distinctive <% name{scope} AND {unfilled} LIMIT :n) AS l5"
    " UNION ALL SELECT 6 AS list, key, name FROM (SELECT {key} AS key, name FROM {table}"
    " WHERE name % :term{scope} AND NOT EXISTS (SELECT FROM containing) LIMIT :n) AS l6"
)
_SIMILAR_SHORT = (
    " UNION ALL SELECT 7 AS list, key, name FROM (SELECT {key} AS key, name FROM {table}"
    " WHERE :term <% name{scope} AND NOT EXISTS (SELECT FROM containing) LIMIT :n) AS l7"
)
UNFILLED = "(SELECT count(DISTINCT key) FROM containing) < :needed"
# How many rows the longest list read: a list that read :n may have had more.
LONGEST = "(SELECT max(n) FROM (SELECT count(*) AS n FROM found WHERE list > 0 GROUP BY list) AS l)"


def candidates(table: str, key: str, scope: str, term: str, *, also: str = "") -> str:
    """The CTEs ``inside``, ``containing``, ``alike`` and ``found`` (list, key, name) of a
    name search of ``table`` for ``term``, each list filtered by ``scope`` (``" AND ..."``
    or ``""``); ``also``: a statement of more rows (list 0) counted as containing ones."""
    similar = _SIMILAR + (_SIMILAR_SHORT if len(term) <= SHORT_NAME else "")
    if not any(character.isalnum() for character in term):
        # No trigram (``%``, ``_``): alike to nothing, and the index would read it all.
        similar = "SELECT 5 AS list, {key} AS key, name FROM {table} WHERE false"
    edges = " UNION ALL ".join((*_EDGES, also) if also else _EDGES)
    names = {"table": table, "key": key, "scope": scope}
    return (
        f"inside AS ({_INSIDE.format(**names)}),"
        f" containing AS (SELECT list, key, name FROM inside UNION ALL {edges.format(**names)}),"
        f" alike AS ({similar.format(**names, unfilled=UNFILLED)}),"
        " found AS (SELECT list, key, name FROM containing"
        "  UNION ALL SELECT list, key, name FROM alike)"
    )


async def parameters(session: AsyncSession, term: str, needed: int) -> dict[str, Any]:
    """The parameters of ``candidates`` for the first ``needed`` ranked rows; sets the
    lists' thresholds for the rest of the transaction."""
    await use_name_similarity(session, CLOSE, DISTINCTIVE_SIMILARITY)
    escaped = escape_like(term)
    return {
        "term": term, "like": contains(term), "starts": f"{escaped}%", "ends": f"%{escaped}",
        "distinctive": distinctive_part(term), "needed": needed,
        "n": min(CANDIDATES * -(-needed // CANDIDATES), DEEPEST),  # the same for 3 pages
        "similarity": NAME_SIMILARITY,
    }  # fmt: skip
