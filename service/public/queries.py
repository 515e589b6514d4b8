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
from service.db.like import contains, escape_like
from service.identity.codes import IdentifierError, normalize_uscc

PAGE_SIZE = 20
# Below this trigram similarity a name is not a match (pg_trgm's default is 0.3; CJK
# names are short, so a little lower finds a name with one character wrong).
SIMILARITY = 0.2


@dataclass(frozen=True, slots=True)
class Found:
    items: list[dict[str, Any]]
    total: int
    page: int
    page_size: int


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
    document = row.document
    return {
        "uscc": document["uscc"],
        "name": document["name"],
        "region_code": document["region_code"],
        "kind": document["kind"],
        "grade": document["credit"]["grade"],
        "stars": document["stars"]["effective"],
        "lists": sorted({entry["list_type"] for entry in document["lists"]}),
    }


async def search(session: AsyncSession, q: str | None, region: str | None, page: int) -> Found:
    """By name (typos and parts forgiven), ranked; an exact USCC first; or a region's all."""
    term = (q or "").strip()
    code = None
    with contextlib.suppress(IdentifierError):
        code = normalize_uscc(term) if term else None
    conditions: list[str] = []
    params: dict[str, Any] = {"limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE}
    order = "name, uscc"
    if term:
        params |= {"term": term, "like": contains(term), "code": code or "",
                   "similarity": SIMILARITY}  # fmt: skip
        conditions.append(
            "(uscc = :code OR name ILIKE :like OR similarity(name, :term) >= :similarity"
            " OR word_similarity(:term, name) >= :similarity)"
        )
        order = (
            "(uscc = :code)::int * 10 + (name = :term)::int * 5 + (name ILIKE :like)::int * 2"
            " + greatest(similarity(name, :term), word_similarity(:term, name)) DESC, name, uscc"
        )
    if region:
        conditions.append("region_code LIKE :region")
        params["region"] = escape_like(region) + "%"
    where = " AND ".join(conditions) or "true"
    total = await session.scalar(
        sa.text(f"SELECT count(*) FROM public_institutions WHERE {where}"), params
    )
    rows = (
        await session.execute(
            sa.text(
                f"SELECT document FROM public_institutions WHERE {where}"
                f" ORDER BY {order} LIMIT :limit OFFSET :offset"
            ),
            params,
        )
    ).all()
    return Found([_summary(row) for row in rows], int(total or 0), page, PAGE_SIZE)


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
