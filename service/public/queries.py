"""Reads of the public read model: lookup, search, lists and their CSV files.

Nothing here reads a table outside ``public_institutions`` and ``public_list_entries``,
so what the public sees is exactly what the read model holds.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from service.clock import start_of_local_day
from service.db.like import (
    NAME_SIMILARITY,
    contains,
    distinctive_part,
    escape_like,
    use_name_similarity,
)
from service.identity.codes import IdentifierError, normalize_uscc

PAGE_SIZE = 20


@dataclass(frozen=True, slots=True)
class Found:
    items: list[dict[str, Any]]
    total: int
    page: int
    page_size: int
    # True when ``total`` is only a lower bound (a name search that found a full page of
    # its best matches and did not read the weaker ones).
    total_is_estimate: bool = False


def _freshness(row: Any) -> dict[str, Any]:
    return {
        "as_of": row.computed_at.date().isoformat(),
        "computed_at": row.computed_at.isoformat(),
        "data_updated_at": row.data_updated_at.isoformat() if row.data_updated_at else None,
    }


async def institution(session: AsyncSession, uscc: str) -> dict[str, Any] | None:
    try:
        code = normalize_uscc(uscc)
    except IdentifierError:
        return None
    row = (
        await session.execute(
            sa.text(
                "SELECT document, computed_at, data_updated_at FROM public_institutions"
                " WHERE uscc = :uscc"
            ),
            {"uscc": code},
        )
    ).first()
    if row is None:
        return None
    return {**row.document, **_freshness(row)}


def _summary(row: Any) -> dict[str, Any]:
    return _summary_of(row.document)


def _summary_of(document: dict[str, Any]) -> dict[str, Any]:
    return {
        "uscc": document["uscc"],
        "name": document["name"],
        "region_code": document["region_code"],
        "kind": document["kind"],
        "grade": document["credit"]["grade"],
        "stars": document["stars"]["effective"],
        "lists": sorted({entry["list_type"] for entry in document["lists"]}),
    }


# A name search ranks a bounded set of candidates, never every match: with realistic names
# a whole name is "similar" to a quarter of the country and a part like 养老服务 is in
# 160,000 names. Each list reads at most CANDIDATES rows for the first three pages (so
# they all come from one and the same set), twice that for the next three, and so on.
CANDIDATES = 60
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
_RANK = (
    "(uscc = :code)::int * 10 + (name = :term)::int * 5 + (name ILIKE :like)::int * 2"
    " + greatest(similarity(name, :term), word_similarity(:term, name))"
)
# A candidate is a match as before: the code, a containing name, or a likeness of at
# least NAME_SIMILARITY (the functions: they run on the candidates only).
_MATCH = (
    "(uscc = :code OR name ILIKE :like OR similarity(name, :term) >= :similarity"
    " OR word_similarity(:term, name) >= :similarity)"
)
# The lists of candidates, each read only up to :n rows (the trigram index, or for a
# pattern in a good part of the country the table itself, stopping at :n). First the
# names containing the term; when there are more than the list reads, which it reads is
# the index's choice, so the more alike among them are read as lists of their own: the
# name that is the term, the names beginning with it (the word's leading trigrams match
# too), then those ending with it.
_CODE = "SELECT 0 AS list, uscc, name FROM public_institutions WHERE uscc = :code{region}"
_INSIDE = (
    "SELECT 1 AS list, uscc, name FROM public_institutions WHERE name ILIKE :like{region} LIMIT :n"
)
_EDGES = tuple(
    f"SELECT {number} AS list, uscc, name FROM (SELECT uscc, name FROM public_institutions"
    f" WHERE {condition}{{region}} AND (SELECT count(*) FROM inside) >= :n LIMIT :n)"
    f" AS l{number}"
    for number, condition in (
        (2, "name = :term"), (3, "name ILIKE :starts"), (4, "name ILIKE :ends"),
    )
)  # fmt: skip
# Names sharing the term's distinctive part (the place and the brand: rare trigrams, a
# short walk of the index) and, when no name contains the term (a character wrong, say),
# names alike to it as a whole: a similarity of CLOSE or more, which a name of
# SHORT_NAME + 1 characters or more keeps with a character wrong and few others reach,
# and for a shorter term a word similarity of DISTINCTIVE_SIMILARITY. Read only when
# the containing names do not fill the page: they rank below every one of those. Alike
# at 0.5 to a long name with a common ending (居家养老服务照料中心) is 1,500 names to
# read, hence not for every term.
_SIMILAR = (
    "SELECT 5 AS list, uscc, name FROM (SELECT uscc, name FROM public_institutions"
    " WHERE :distinctive <% name{region} AND {unfilled} LIMIT :n) AS l5"
    " UNION ALL SELECT 6 AS list, uscc, name FROM (SELECT uscc, name FROM public_institutions"
    " WHERE name % :term{region} AND NOT EXISTS (SELECT FROM containing) LIMIT :n) AS l6"
)
_SIMILAR_SHORT = (
    " UNION ALL SELECT 7 AS list, uscc, name FROM (SELECT uscc, name FROM public_institutions"
    " WHERE :term <% name{region} AND NOT EXISTS (SELECT FROM containing) LIMIT :n) AS l7"
)
_UNFILLED = "(SELECT count(DISTINCT uscc) FROM containing) < :needed"
_SEARCH = (
    "WITH inside AS ({inside}),"
    " containing AS (SELECT list, uscc, name FROM inside UNION ALL {edges}),"
    " alike AS ({similar}),"
    " found AS (SELECT list, uscc, name FROM containing"
    "  UNION ALL SELECT list, uscc, name FROM alike),"
    " matched AS (SELECT DISTINCT ON (uscc) uscc, name, " + _RANK + " AS rank"
    "  FROM found WHERE " + _MATCH + " ORDER BY uscc),"
    " page AS (SELECT uscc, name, rank FROM matched"
    "  ORDER BY rank DESC, name, uscc LIMIT :limit OFFSET :offset)"
    " SELECT (SELECT count(*) FROM matched) AS total,"
    "  " + _UNFILLED + " AS similar_read,"
    "  (SELECT max(n) FROM (SELECT count(*) AS n FROM found WHERE list > 0 GROUP BY list)"
    "   AS l) AS longest,"
    "  (SELECT jsonb_agg(p.document ORDER BY page.rank DESC, page.name, page.uscc)"
    "   FROM page JOIN public_institutions AS p ON p.uscc = page.uscc) AS documents"
)


async def search(session: AsyncSession, q: str | None, region: str | None, page: int) -> Found:
    """By name (typos and parts forgiven), ranked; an exact USCC first; or a region's all.

    The rank is an exact code (10), then the exact name (5), then the names containing
    the term (2), each plus its trigram likeness (``greatest(similarity, word_similarity)``,
    at most 1). One statement ranks candidates, not every match (see ``CANDIDATES``):
    the code's row and the names containing the term (beginning with it and ending with
    it too, when there are more than a list reads) and, only when those do not fill the
    page, names sharing the term's distinctive part (without 养老服务, 中心, 有限公司...)
    and, when no name contains it, names close to it as a whole (a character wrong).
    When a list has more rows than it reads, the index chooses which it reads, and
    ``total`` is only a lower bound (``total_is_estimate``), as it is when the similar
    names were not read; it is counted with the ranking, never by a second scan.
    """
    term = (q or "").strip()
    code = None
    with contextlib.suppress(IdentifierError):
        code = normalize_uscc(term) if term else None
    params: dict[str, Any] = {"limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE}
    region_filter = ""
    if region:
        region_filter = " AND region_code LIKE :region"
        params["region"] = escape_like(region) + "%"
    if not term:
        return await _listed(session, region_filter, params, page)
    needed = page * PAGE_SIZE
    escaped = escape_like(term)
    params |= {
        "term": term, "like": contains(term), "starts": f"{escaped}%", "ends": f"%{escaped}",
        "code": code or "", "distinctive": distinctive_part(term), "needed": needed,
        "n": CANDIDATES * -(-needed // CANDIDATES),  # the same for three pages
        "similarity": NAME_SIMILARITY,
    }  # fmt: skip
    inside = _INSIDE.format(region=region_filter)
    edges = " UNION ALL ".join((*_EDGES, _CODE) if code else _EDGES).format(region=region_filter)
    similar = (_SIMILAR + (_SIMILAR_SHORT if len(term) <= SHORT_NAME else "")).format(
        region=region_filter, unfilled=_UNFILLED
    )
    await use_name_similarity(session, CLOSE, DISTINCTIVE_SIMILARITY)  # for _SIMILAR
    statement = _SEARCH.format(edges=edges, inside=inside, similar=similar)
    row = (await session.execute(sa.text(statement), params)).one()
    items = [_summary_of(document) for document in row.documents or []]
    estimate = not row.similar_read or (row.longest or 0) >= params["n"]
    return Found(items, int(row.total), page, PAGE_SIZE, estimate)


async def _listed(
    session: AsyncSession, region_filter: str, params: dict[str, Any], page: int
) -> Found:
    """A page of a region's institutions (the country's without one), by name."""
    where, rank = "true" + region_filter, "0"
    rows = (
        await session.execute(
            sa.text(
                "SELECT p.document, m.total FROM ("
                " SELECT uscc, name, rank, count(*) OVER () AS total FROM ("
                f"  SELECT uscc, name, {rank} AS rank FROM public_institutions WHERE {where}"
                " ) AS r ORDER BY rank DESC, name, uscc LIMIT :limit OFFSET :offset"
                ") AS m JOIN public_institutions AS p ON p.uscc = m.uscc"
                " ORDER BY m.rank DESC, m.name, m.uscc"
            ),
            params,
        )
    ).all()
    if rows:
        total = int(rows[0].total)
    elif page > 1:  # past the last page: no row carries the total, so count (rare)
        total = int(
            await session.scalar(
                sa.text(f"SELECT count(*) FROM public_institutions WHERE {where}"), params
            )
            or 0
        )
    else:
        total = 0
    return Found([_summary(row) for row in rows], total, page, PAGE_SIZE)


ENTRY_FIELDS = (
    "entry_id, list_type, subject_kind, subject_name, uscc, id_number_masked, region_code,"
    " reason_code, effective_from, effective_to, published_at, ended_at, end_reason, changed_at"
)


def _entry(row: Any) -> dict[str, Any]:
    return {
        "entry_id": str(row.entry_id),
        "list_type": row.list_type,
        "subject_kind": row.subject_kind,
        "name": row.subject_name or None,
        "uscc": row.uscc,
        "id_number_masked": row.id_number_masked,
        "region_code": row.region_code,
        "reason_code": row.reason_code,
        "effective_from": row.effective_from.isoformat() if row.effective_from else None,
        "effective_to": row.effective_to.isoformat() if row.effective_to else None,
        "published_at": row.published_at.isoformat(),
        "ended_at": row.ended_at.isoformat() if row.ended_at else None,
        "end_reason": row.end_reason,
    }


async def current_entries(
    session: AsyncSession, list_type: str, region: str | None, page: int | None
) -> Found:
    """Entries in force now, newest first; every one of them when ``page`` is None."""
    params: dict[str, Any] = {"type": list_type, "region": escape_like(region or "") + "%"}
    where = "list_type = :type AND ended_at IS NULL AND region_code LIKE :region"
    total = await session.scalar(
        sa.text(f"SELECT count(*) FROM public_list_entries WHERE {where}"), params
    )
    paging = ""
    if page is not None:
        paging = " LIMIT :limit OFFSET :offset"
        params |= {"limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE}
    rows = await session.execute(
        sa.text(
            f"SELECT {ENTRY_FIELDS} FROM public_list_entries WHERE {where}"
            f" ORDER BY published_at DESC, entry_id{paging}"
        ),
        params,
    )
    return Found([_entry(row) for row in rows], int(total or 0), page or 1, PAGE_SIZE)


async def changes_since(
    session: AsyncSession, list_type: str, since: date, region: str | None
) -> list[dict[str, Any]]:
    """Each entry added or removed since the start of ``since`` (China time), in order."""
    start = start_of_local_day(since)
    rows = await session.execute(
        sa.text(
            f"SELECT {ENTRY_FIELDS} FROM public_list_entries"
            " WHERE list_type = :type AND region_code LIKE :region"
            " AND (published_at >= :start OR ended_at >= :start)"
            " ORDER BY changed_at, entry_id"
        ),
        {"type": list_type, "region": escape_like(region or "") + "%", "start": start},
    )
    changes = []
    for row in rows:
        entry = _entry(row)
        if row.published_at >= start:
            changes.append({"change": "added", "changed_at": entry["published_at"], **entry})
        if row.ended_at is not None and row.ended_at >= start:
            changes.append({"change": "removed", "changed_at": entry["ended_at"], **entry})
    return sorted(changes, key=lambda change: (change["changed_at"], change["entry_id"]))
