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
from service.db import name_search
from service.db.like import escape_like
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


_RANK = (
    "(key = :code)::int * 10 + (name = :term)::int * 5 + (name ILIKE :like)::int * 2 + "
    + name_search.LIKENESS
)
_SEARCH = (
    "WITH {candidates},"
    " matched AS (SELECT DISTINCT ON (key) key, name, " + _RANK + " AS rank"
    "  FROM found WHERE (key = :code OR " + name_search.MATCH + ") ORDER BY key),"
    " page AS (SELECT key, name, rank FROM matched"
    "  ORDER BY rank DESC, name, key LIMIT :limit OFFSET :offset)"
    " SELECT (SELECT count(*) FROM matched) AS total,"
    "  " + name_search.UNFILLED + " AS similar_read,"
    "  " + name_search.LONGEST + " AS longest,"
    "  (SELECT jsonb_agg(p.document ORDER BY page.rank DESC, page.name, page.key)"
    "   FROM page JOIN public_institutions AS p ON p.uscc = page.key) AS documents"
)
_CODE = "SELECT 0 AS list, uscc AS key, name FROM public_institutions WHERE uscc = :code{scope}"


async def search(session: AsyncSession, q: str | None, region: str | None, page: int) -> Found:
    """By name (typos and parts forgiven), ranked; an exact USCC first; or a region's all.

    The rank is an exact code (10), then the exact name (5), then the names containing
    the term (2), each plus its trigram likeness (``greatest(similarity, word_similarity)``,
    at most 1). One statement ranks candidates, not every match
    (``service.db.name_search``): the code's row and the names containing the term
    (the name that is the term, those beginning and ending with it too, when there are
    more than a list reads) and, only when those do not fill the page, names sharing the
    term's distinctive part (without 养老服务, 中心, 有限公司...) and, when no name
    contains it, names close to it as a whole (a character wrong). When a list has more
    rows than it reads, the index chooses which it reads, and ``total`` is only a lower
    bound (``total_is_estimate``), as it is when the similar names were not read; it is
    counted with the ranking, never by a second scan.
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
    params |= await name_search.parameters(session, term, page * PAGE_SIZE)
    params["code"] = code or ""
    candidates = name_search.candidates(
        "public_institutions", "uscc", region_filter, term, also=_CODE if code else ""
    )
    row = (await session.execute(sa.text(_SEARCH.format(candidates=candidates)), params)).one()
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
