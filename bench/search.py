"""Benchmark: the public name search over 400,000 institutions with realistic names.

    .venv/bin/python bench/search.py [--queries 300] [--bare 40] [--old 8] [--concurrency 8]
        [--rounds 3] [--typos 300]

Needs BENCH_DATABASE_URL; it names the server only: the data goes to a database of its
own on it, ``bench_search`` (``--database``), created and loaded once (names, codes and
regions from the demo generator, service/demo/province.py, over every province; each
public row a document of the served shape), then reused. The ``bench`` database is not
touched.

Each round runs distinct searches nobody ran before in that round (the public API's
cache is not in the way: they go through ``service.public.queries.search`` itself):
parts of names, names with one character wrong, whole names and codes; ``--concurrency``
at a time, each in its own transaction, as a request would. Beside it, in the same
round: the bare trigram-index query (the operators' filter alone at the search's
threshold, no ranking, no documents) over the first ``--bare`` of the same searches,
and the filter as it was (``similarity()`` and ``word_similarity()`` as functions, a
count and a page: two statements) over ``--old`` more. Both are slow (seconds a search
with these names), hence the small samples. Reports searches per second, p50 and p99, and the medians.

The search ranks a bounded set of candidates (``queries.search``), so it also reports
how often a name with one character wrong (``--typos`` of them, one at a time) still
finds the name it was made from: first, and on the first page.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import sqlalchemy as sa
from common import content_audit_off, dsn, prepare
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db.engine import make_engine, make_session_factory
from service.db.like import NAME_SIMILARITY, contains, use_name_similarity
from service.demo.province import demo_province_codes, generate_demo_institutions
from service.public import queries

INSTITUTIONS = 400_000
GRADES = ("A", "B", "B", "B", "C", "C", "D", None)
# One wrong character: one of these in place of one of the name's own.
WRONG = "园院苑康乐福寿安颐养老心中服务区县市城"


def _server_url(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


async def ensure_database(url: str, database: str) -> str:
    """The URL of ``database`` on the server ``url`` names, created if missing."""
    connection = await asyncpg.connect(dsn(_server_url(url, "postgres")))
    try:
        if not await connection.fetchval(
            "SELECT true FROM pg_database WHERE datname = $1", database
        ):
            await connection.execute(f'CREATE DATABASE "{database}"')
    finally:
        await connection.close()
    return _server_url(url, database)


def _institutions() -> list[tuple[Any, ...]]:
    provinces = demo_province_codes()
    share, extra = divmod(INSTITUTIONS, len(provinces))
    rows: list[tuple[Any, ...]] = []
    now = datetime.now(UTC)
    for index, province in enumerate(provinces):
        count = share + (1 if index < extra else 0)
        for home in generate_demo_institutions(
            index + 1, province_code=province, institutions=count
        ):
            rows.append((uuid.uuid4(), home.name, home.uscc, home.region_code, home.kind,
                         home.beds, home.address, home.status, 1, now, now))  # fmt: skip
    return rows


async def dataset(url: str) -> None:
    """Load the institutions and their public rows unless they are there already."""
    await prepare(url)
    connection = await asyncpg.connect(dsn(url))
    try:
        have = await connection.fetchval("SELECT count(*) FROM public_institutions")
        if have == INSTITUTIONS:
            return
        started = time.perf_counter()
        await connection.execute("TRUNCATE institutions, public_institutions CASCADE")
        # Below the service, without content-audit rows (decision 0035): a search benchmark's
        # database, not vouched for.
        async with content_audit_off(connection, "institutions"):
            await connection.copy_records_to_table(
                "institutions",
                records=_institutions(),
                columns=["id", "name", "uscc", "region_code", "kind", "beds", "address",
                         "status", "version", "created_at", "updated_at"],
            )  # fmt: skip
        grades = "ARRAY[" + ",".join(f"'{g}'" if g else "NULL" for g in GRADES) + "]"
        await connection.execute(
            "INSERT INTO public_institutions (institution_id, uscc, name, region_code, document,"
            " computed_at, data_updated_at)"
            " SELECT id, uscc, name, region_code, jsonb_build_object("
            "  'uscc', uscc, 'name', name, 'region_code', region_code, 'kind', kind,"
            "  'beds', beds, 'status', status, 'lists', '[]'::jsonb, 'penalties', '[]'::jsonb,"
            "  'commendations', '[]'::jsonb,"
            "  'stars', jsonb_build_object('effective', (abs(hashtext(uscc)) % 6)::int,"
            "    'assessed', (abs(hashtext(uscc)) % 6)::int, 'capped', false,"
            "    'suspended', false),"
            f"  'credit', jsonb_build_object('grade', ({grades})"
            f"[1 + abs(hashtext(name)) % {len(GRADES)}],"
            "    'scored_as_of', current_date::text, 'policy_version', '2026.4')),"
            " now(), now() FROM institutions"
        )
        await connection.execute("VACUUM ANALYZE institutions")
        await connection.execute("VACUUM ANALYZE public_institutions")
        print(f"loaded {INSTITUTIONS:,} institutions with realistic names in "
              f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
    finally:
        await connection.close()


async def searches(url: str, count: int, seed: int) -> list[str]:
    """``count`` distinct search terms: parts of names, one character wrong, whole, codes."""
    connection = await asyncpg.connect(dsn(url))
    try:
        rows = await connection.fetch(
            "SELECT name, uscc FROM public_institutions TABLESAMPLE SYSTEM (2) REPEATABLE ($1)",
            seed,
        )
    finally:
        await connection.close()
    rng = random.Random(seed)
    terms: dict[str, None] = {}
    while len(terms) < count:
        name, code = rows[rng.randrange(len(rows))]
        kind = len(terms) % 4
        if kind == 0:  # a part: at least three characters from inside the name
            size = rng.randint(3, max(3, len(name) - 2))
            start = rng.randrange(0, len(name) - size + 1)
            term = name[start : start + size]
        elif kind == 1:  # one character wrong
            term = one_wrong(name, rng)
        elif kind == 2:
            term = name
        else:
            term = code
        terms.setdefault(term)
    return list(terms)


# The filter as it was before: the functions, which no index serves; a count and a page.
OLD_WHERE = (
    "(uscc = :code OR name ILIKE :like OR similarity(name, :term) >= :similarity"
    " OR word_similarity(:term, name) >= :similarity)"
)
OLD_ORDER = (
    "(uscc = :code)::int * 10 + (name = :term)::int * 5 + (name ILIKE :like)::int * 2"
    " + greatest(similarity(name, :term), word_similarity(:term, name)) DESC, name, uscc"
)


def one_wrong(name: str, rng: random.Random) -> str:
    at = rng.randrange(len(name))
    return name[:at] + rng.choice(WRONG.replace(name[at], "")) + name[at + 1 :]


async def typos_found(
    factory: async_sessionmaker[AsyncSession], url: str, count: int, seed: int
) -> tuple[int, int]:
    """Of ``count`` names with one character wrong, how many find their name first, and
    on the first page."""
    connection = await asyncpg.connect(dsn(url))
    try:
        rows = await connection.fetch(
            "SELECT name FROM public_institutions TABLESAMPLE SYSTEM (1) REPEATABLE ($1)", seed
        )
    finally:
        await connection.close()
    rng = random.Random(seed)
    first = on_page = 0
    for _ in range(count):
        name = rows[rng.randrange(len(rows))]["name"]
        async with factory() as session, session.begin():
            found = await queries.search(session, one_wrong(name, rng), None, 1)
        names = [item["name"] for item in found.items]
        first += names[:1] == [name]
        on_page += name in names
    return first, on_page


async def old_search(session: AsyncSession, term: str) -> int:
    params = {"term": term, "like": contains(term), "code": term, "similarity": NAME_SIMILARITY,
              "limit": queries.PAGE_SIZE, "offset": 0}  # fmt: skip
    total = await session.scalar(
        sa.text(f"SELECT count(*) FROM public_institutions WHERE {OLD_WHERE}"), params
    )
    await session.execute(
        sa.text(
            f"SELECT document FROM public_institutions WHERE {OLD_WHERE}"
            f" ORDER BY {OLD_ORDER} LIMIT :limit OFFSET :offset"
        ),
        params,
    )
    return int(total or 0)


async def bare_index(session: AsyncSession, term: str) -> int:
    await use_name_similarity(session)
    found = await session.execute(
        sa.text(
            "SELECT uscc FROM public_institutions"
            " WHERE uscc = :term OR name % :term OR :term <% name"
        ),
        {"term": term},
    )
    return len(found.all())


async def new_search(session: AsyncSession, term: str) -> int:
    return (await queries.search(session, term, None, 1)).total


@dataclass
class Figures:
    per_second: float
    p50_ms: float
    p99_ms: float


async def run(
    factory: async_sessionmaker[AsyncSession],
    terms: list[str],
    concurrency: int,
    search: Callable[[AsyncSession, str], Awaitable[int]],
) -> Figures:
    pending = iter(terms)
    took: list[float] = []

    async def worker() -> None:
        for term in pending:
            started = time.perf_counter()
            async with factory() as session, session.begin():
                await search(session, term)
            took.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    took.sort()
    return Figures(
        len(took) / elapsed,
        1000 * took[len(took) // 2],
        1000 * took[min(len(took) - 1, int(len(took) * 0.99))],
    )


def show(label: str, figures: Figures) -> None:
    print(f"  {label:<42} {figures.per_second:8.1f} searches/s   p50 {figures.p50_ms:7.1f} ms"
          f"   p99 {figures.p99_ms:7.1f} ms", flush=True)  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--old", type=int, default=8, help="searches through the old filter")
    parser.add_argument("--bare", type=int, default=40, help="searches through the bare query")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--typos", type=int, default=300, help="names with a character wrong")
    parser.add_argument("--database", default="bench_search")
    args = parser.parse_args()
    configured = os.environ.get("BENCH_DATABASE_URL")
    if not configured:
        sys.exit("set BENCH_DATABASE_URL to a PostgreSQL server's URL (its database is not used)")
    url = await ensure_database(configured, args.database)
    await dataset(url)
    engine = make_engine(url, pool_size=args.concurrency)
    factory = make_session_factory(engine)
    results: dict[str, list[Figures]] = {"new": [], "bare": [], "old": []}
    try:
        for round_ in range(args.rounds):
            terms = await searches(url, args.queries + args.old, seed=1000 + round_)
            fresh, old_terms = terms[: args.queries], terms[args.queries :]
            print(f"round {round_ + 1}: {len(fresh):,} distinct searches, "
                  f"concurrency {args.concurrency}", flush=True)  # fmt: skip
            results["new"].append(await run(factory, fresh, args.concurrency, new_search))
            show("search (bounded candidates)", results["new"][-1])
            results["bare"].append(
                await run(factory, fresh[: args.bare], args.concurrency, bare_index)
            )
            show(f"baseline: bare trigram-index query ({args.bare})", results["bare"][-1])
            results["old"].append(await run(factory, old_terms, args.concurrency, old_search))
            show(f"baseline: old function filter ({len(old_terms)})", results["old"][-1])
        if args.typos:
            first, on_page = await typos_found(factory, url, args.typos, seed=7)
            print(f"one character wrong ({args.typos}, one at a time): the name first "
                  f"{first / args.typos:.0%}, on the first page {on_page / args.typos:.0%}")  # fmt: skip
    finally:
        await engine.dispose()
    print("medians:")
    for label, key in (("search", "new"), ("bare trigram-index query", "bare"),
                       ("old function filter", "old")):  # fmt: skip
        figures = results[key]
        show(label, Figures(*(statistics.median(getattr(f, field) for f in figures)
                              for field in ("per_second", "p50_ms", "p99_ms"))))  # fmt: skip
    new = statistics.median(f.per_second for f in results["new"])
    p99 = statistics.median(f.p99_ms for f in results["new"])
    met = "met" if new >= 200 and p99 <= 50 else "NOT met"
    print(f"goal (>= 200 searches/s, p99 <= 50 ms): {met}")


if __name__ == "__main__":
    asyncio.run(main())
