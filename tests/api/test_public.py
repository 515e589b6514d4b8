"""The public API and pages, as the public uses them: no login, cached, masked, rate-limited."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from conftest import MakeToken, bearer, serve
from factories import (
    SHIPPED,
    commendation_body,
    institution_body,
    make_uscc,
    penalty_body,
    penalty_details,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.app import create_app
from service.config import Settings
from service.db import name_search
from service.demo.seeding import seed_demo
from service.identity.protection import IdNumberVault
from service.policy.load import DEFAULT_POLICY_FILE

Headers = dict[str, str]
TODAY = datetime.now(UTC).date()
API = "/api/v1/public"


async def register(
    client: httpx.AsyncClient, headers: Headers, n: int, name: str, **overrides: Any
) -> str:
    response = await client.post(
        "/api/v1/institutions", json=institution_body(n, name=name, **overrides), headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def confirmed(client: httpx.AsyncClient, headers: Headers, body: dict[str, Any]) -> None:
    response = await client.post(
        "/api/v1/records", json=body, params={"confirm": True}, headers=headers
    )
    assert response.status_code == 201, response.text


async def public(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await client.get(API + path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_search_forgives_typos_and_parts_and_puts_an_exact_uscc_first(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    await register(client, admin, 1, "长兴县颐养院")
    await register(client, admin, 2, "长兴县康乐养老院")
    await register(client, admin, 3, "湖州市福寿园养老中心", region_code="330502")
    await register(client, admin, 4, "长兴县颐养院分院")

    partial = await public(client, "/institutions", q="颐养")
    assert [item["name"] for item in partial["items"]] == ["长兴县颐养院", "长兴县颐养院分院"]
    typo = await public(client, "/institutions", q="长兴县颐养园")  # 园 for 院
    assert typo["items"][0]["name"] == "长兴县颐养院"
    by_code = await public(client, "/institutions", q=make_uscc(4))
    assert by_code["items"][0]["uscc"] == make_uscc(4)
    assert by_code["total"] == 1
    region = await public(client, "/institutions", region="330502")
    assert [item["name"] for item in region["items"]] == ["湖州市福寿园养老中心"]
    assert (await public(client, "/institutions", q="不存在的名字"))["total"] == 0

    bad = await client.get(API + "/institutions", params={"region": "33x"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "region"
    assert (await client.get(API + "/institutions", params={"page": 0})).status_code == 400


async def test_a_name_search_that_fills_its_page_with_close_matches_says_its_total_is_a_floor(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    await register(client, admin, 1, "长兴县颐养院")
    for n in range(2, 24):
        await register(client, admin, n, f"长兴县颐养院{n}号分院")
    await register(client, admin, 24, "湖州市康乐园", region_code="330502")

    found = await public(client, "/institutions", q="长兴县颐养院")
    assert found["items"][0]["name"] == "长兴县颐养院"
    assert len(found["items"]) == found["page_size"] == 20
    assert found["total_is_estimate"] is True
    assert found["total"] >= 20
    whole = await public(client, "/institutions", q="长兴县颐养院", page=2)
    assert [item["name"] for item in whole["items"]][-1].endswith("号分院")
    exact = await public(client, "/institutions", q="湖州市康乐园")
    assert (exact["total"], exact["total_is_estimate"]) == (1, False)
    page = await client.get("/", params={"q": "长兴县颐养院", "lang": "en"})
    assert "or more institutions" in page.text


async def test_a_name_search_ranks_code_then_name_then_containing_then_close(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    names = [
        "湖州市长兴县颐养院分院",  # contains the term
        "长兴县颐和养老院",  # only alike
        "吴兴区长兴县颐养院",  # ends with it
        "长兴县颐养院康复中心",  # begins with it
        "长兴县颐养院",  # the term itself
        "长兴县夕阳红居家养老服务照料中心",
        "德清县夕阳红居家养老服务照料中心",
    ]
    for n, name in enumerate(names, 1):
        await register(client, admin, n, name, region_code="330521" if "德清" in name else "330522")

    found = await public(client, "/institutions", q="长兴县颐养院")
    assert [item["name"] for item in found["items"]][:5] == [
        "长兴县颐养院", "长兴县颐养院康复中心", "吴兴区长兴县颐养院", "湖州市长兴县颐养院分院",
        "长兴县颐和养老院",
    ]  # fmt: skip
    # An exact code comes before a name that is the term itself.
    by_code = await public(client, "/institutions", q=make_uscc(6).lower())
    assert (by_code["items"][0]["uscc"], by_code["total"]) == (make_uscc(6), 1)
    # One character wrong, in a long name and in a short one: still the first found.
    long_typo = await public(client, "/institutions", q="长兴县夕阳虹居家养老服务照料中心")
    assert long_typo["items"][0]["name"] == "长兴县夕阳红居家养老服务照料中心"
    short_typo = await public(client, "/institutions", q="长兴县颐养苑")
    assert short_typo["items"][0]["name"] == "长兴县颐养院"
    # The distinctive part (长兴县夕阳红, without 养老院) finds it by another kind of home.
    other_kind = await public(client, "/institutions", q="长兴县夕阳红养老院")
    assert other_kind["items"][0]["name"] == "长兴县夕阳红居家养老服务照料中心"
    in_region = await public(client, "/institutions", q="夕阳红", region="330521")
    assert [item["name"] for item in in_region["items"]] == ["德清县夕阳红居家养老服务照料中心"]


async def test_the_name_itself_comes_first_when_more_contain_it_than_a_list_reads(
    client: httpx.AsyncClient, admin: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(name_search, "CANDIDATES", 20)  # a list reads 20 rows for page 1
    for n in range(1, 25):  # 24 names beginning and ending with the term, read first
        await register(client, admin, n, f"颐养院{n}号颐养院")
    await register(client, admin, 25, "颐养院")

    found = await public(client, "/institutions", q="颐养院")
    assert found["items"][0]["name"] == "颐养院"
    assert found["total"] >= 20
    assert found["total_is_estimate"] is True
    # Past what the lists read at their deepest (here 20 rows each, 25 names in all), a
    # page is empty and its total a floor.
    monkeypatch.setattr(name_search, "DEEPEST", 20)
    deep = await public(client, "/institutions", q="颐养院", page=3)
    assert (deep["items"], deep["total_is_estimate"]) == ([], True)
    assert deep["total"] >= 20


async def test_an_institutions_public_status_shows_what_may_be_shown(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    home = await register(client, admin, 1, "长兴县颐养院")
    await confirmed(client, admin, penalty_body(home))  # fined: published
    warning = penalty_details(penalty_kinds=["warning"], fine_amount=None, content="警告")
    await confirmed(
        client, admin, penalty_body(home, document_no="长民罚〔2026〕9号", details=warning)
    )
    await confirmed(client, admin, commendation_body(home))
    rating = {
        "level": 4, "assessor": "湖州市养老机构等级评定委员会",
        "assessed_on": (TODAY - timedelta(days=30)).isoformat(),
        "valid_from": (TODAY - timedelta(days=30)).isoformat(),
        "valid_to": (TODAY + timedelta(days=700)).isoformat(), "document_no": "湖民评〔2026〕1号",
    }  # fmt: skip
    response = await client.post(
        f"/api/v1/institutions/{home}/star-ratings", json=rating, headers=inspector
    )
    assert response.status_code == 201, response.text

    status = await public(client, f"/institutions/{make_uscc(1)}")
    assert (status["name"], status["uscc"], status["region_code"]) == (
        "长兴县颐养院", make_uscc(1), "330522",
    )  # fmt: skip
    assert status["credit"]["grade"] == "B"  # 100 - 15 for a general penalty
    assert status["stars"] == {"effective": 4, "assessed": 4, "suspended": False, "capped": False}
    assert [p["decision_no"] for p in status["penalties"]] == ["长民罚〔2026〕3号"]  # no warning
    assert status["penalties"][0]["publication_end_date"] > TODAY.isoformat()
    assert [c["title"] for c in status["commendations"]] == ["浙江省示范养老机构"]
    assert status["lists"] == []
    assert status["as_of"] == datetime.now(UTC).date().isoformat()
    assert status["data_updated_at"] <= status["computed_at"]

    missing = await client.get(API + f"/institutions/{make_uscc(99)}")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    wrong = await client.get(API + "/institutions/91330522MA2B3C4D5X")
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "uscc"


async def test_an_answer_is_cached_revalidated_and_dropped_when_the_facts_change(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    home = await register(client, admin, 1, "长兴县颐养院")
    url = API + f"/institutions/{make_uscc(1)}"
    first = await client.get(url)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=60"
    again = await client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""

    await confirmed(client, admin, penalty_body(home))  # commits with NOTIFY public_changed

    async def changed() -> bool:
        response = await client.get(url, headers={"If-None-Match": etag})
        return response.status_code == 200

    for _ in range(100):  # the notification arrives within milliseconds
        if await changed():
            break
    after = (await client.get(url)).json()
    assert [p["decision_no"] for p in after["penalties"]] == ["长民罚〔2026〕3号"]


@pytest.fixture
async def own_server(test_settings: Settings) -> AsyncIterator[tuple[str, Any]]:
    """A server of our own, to watch its database traffic and to give it a low rate limit."""
    app = create_app(replace(test_settings, public_rate_limit=30))
    async for url in serve(app):
        yield url, app


async def test_a_cached_lookup_reads_nothing_from_the_database(
    own_server: tuple[str, Any], client: httpx.AsyncClient, admin: Headers, engine: AsyncEngine
) -> None:
    """A hit is answered from memory: the ORM engine runs no statement for it. The only
    database work a public request does is the rate limit's count, one statement on the
    limiter's own small pool (it must be shared by every worker): counted here too."""
    url, app = own_server
    await register(client, admin, 1, "长兴县颐养院")
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(str(args[2]))

    served_engine = app.state.engine.sync_engine
    for _ in range(200):  # the cache serves once its listening connection is up
        if app.state.public_cache.live:
            break
        await asyncio.sleep(0.01)
    async with httpx.AsyncClient(base_url=url) as own:
        path = API + f"/institutions/{make_uscc(1)}"
        assert (await own.get(path)).status_code == 200  # a miss: read from the read model
        sa.event.listen(served_engine, "before_cursor_execute", seen)
        try:
            for _ in range(5):
                assert (await own.get(path)).status_code == 200
        finally:
            sa.event.remove(served_engine, "before_cursor_execute", seen)
    assert statements == []
    async with engine.connect() as connection:
        counted = await connection.scalar(sa.text("SELECT sum(hits) FROM public_rate_counts"))
    assert counted == 6  # the miss and the five hits, and nothing else was read or written


async def test_too_many_requests_get_a_429_problem_with_retry_after(
    own_server: tuple[str, Any], clean_db: None
) -> None:
    url, _ = own_server
    async with httpx.AsyncClient(base_url=url) as own:
        answers = [(await own.get(API + "/lists/black")).status_code for _ in range(31)]
        refused = await own.get(API + "/lists/black")
        hello = await own.get("/hello")  # outside the public routes: not limited
    assert answers[:30] == [200] * 30
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["title"] == "Too many requests"
    assert int(refused.headers["retry-after"]) > 0
    assert hello.status_code == 200


@pytest.fixture
async def demo(
    session_factory: async_sessionmaker[AsyncSession], clean_db: None, test_settings: Settings
) -> IdNumberVault:
    assert test_settings.secret_key is not None
    async with session_factory() as session:
        await seed_demo(session, seed=1, secret_key=test_settings.secret_key)
    return IdNumberVault(test_settings.secret_key)


MASKED_ID = re.compile(r"^\d{6}\*{8}\d{3}[\dX]$")


async def test_lists_name_people_only_masked_and_only_while_black_listed(
    client: httpx.AsyncClient, demo: IdNumberVault, make_token: MakeToken
) -> None:
    reviewer = bearer(await make_token("reviewer", "33", name="省厅复核"))
    black = await public(client, "/lists/black")
    people = [e for e in black["items"] if e["subject_kind"] == "practitioner"]
    assert people, "the demo black-lists practitioners"
    for person in people:
        assert MASKED_ID.match(person["id_number_masked"])
        assert "*" in person["name"]
        assert person["uscc"] is None
    watch = await public(client, "/lists/watch")
    assert watch["total"] > 0
    assert {e["subject_kind"] for e in watch["items"]} == {"institution"}

    snapshot = await client.get(API + "/lists/black/snapshot.csv")
    assert snapshot.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(snapshot.content.decode("utf-8-sig"))))
    assert len(rows) == black["total"]
    assert {row["entry_id"] for row in rows} == {e["entry_id"] for e in black["items"]}

    ended = people[0]
    response = await client.post(
        f"/api/v1/list-entries/{ended['entry_id']}/revoke",
        json={"reason": "行政复议撤销", "basis_document": "浙政复〔2026〕1号"},
        headers=reviewer,
    )
    assert response.status_code == 200, response.text
    after = await public(client, "/lists/black")
    assert ended["entry_id"] not in {e["entry_id"] for e in after["items"]}
    since = (TODAY - timedelta(days=1)).isoformat()
    changes = await client.get(API + "/lists/black/changes.csv", params={"since": since})
    changed = list(csv.DictReader(io.StringIO(changes.content.decode("utf-8-sig"))))
    added = [row for row in changed if row["change"] == "added"]
    removed = [row for row in changed if row["change"] == "removed"]
    assert len(added) == black["total"]
    assert [row["entry_id"] for row in removed] == [ended["entry_id"]]
    assert (removed[0]["name"], removed[0]["id_number_masked"]) == ("", "")  # no longer shown
    bad = await client.get(API + "/lists/black/changes.csv", params={"since": "last week"})
    assert bad.status_code == 400
    assert (await client.get(API + "/lists/grey")).status_code == 400


async def test_a_new_policy_version_renames_a_reason_on_a_page_already_cached(
    client: httpx.AsyncClient, demo: IdNumberVault, admin: Headers
) -> None:
    shipped_title, renamed = "信用等级为C级", "信用等级评定为C级（新版政策）"
    first = await client.get("/lists/watch")
    assert shipped_title in first.text
    assert (await client.get("/lists/watch")).headers["etag"] == first.headers["etag"]  # cached

    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    assert text.count(f'title_zh = "{shipped_title}"') == 1
    text = text.replace(f'title_zh = "{shipped_title}"', f'title_zh = "{renamed}"')
    text = text.replace(f'version = "{SHIPPED}"', 'version = "2026.9-titles"')
    installed = await client.post("/api/v1/policies", content=text.encode(), headers=admin)
    assert installed.status_code == 201, installed.text

    for _ in range(100):  # the notification arrives within milliseconds
        page = await client.get("/lists/watch")
        if renamed in page.text:
            break
        await asyncio.sleep(0.02)
    assert renamed in page.text
    assert shipped_title not in page.text


async def test_pages_speak_chinese_by_default_and_english_when_asked(
    client: httpx.AsyncClient, demo: IdNumberVault
) -> None:
    listed = await public(client, "/lists/watch")
    uscc = listed["items"][0]["uscc"]
    chinese = await client.get(f"/institutions/{uscc}")
    assert chinese.status_code == 200
    assert '<html lang="zh-CN">' in chinese.text
    assert "信用等级" in chinese.text
    assert "重点关注名单" in chinese.text
    english = await client.get(
        f"/institutions/{uscc}", headers={"Accept-Language": "en-GB,en;q=0.9"}
    )
    assert '<html lang="en">' in english.text
    assert "Credit grade" in english.text
    assert english.headers["vary"] == "Accept-Language"
    forced = await client.get(f"/institutions/{uscc}", params={"lang": "zh"},
                              headers={"Accept-Language": "en"})  # fmt: skip
    assert "信用等级" in forced.text
    missing = await client.get(f"/institutions/{make_uscc(999)}", params={"lang": "en"})
    assert missing.status_code == 404
    assert "No institution has the code" in missing.text


def _requests(uscc_list: list[str], names: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """Every public route and page, in both languages."""
    requests: list[tuple[str, dict[str, Any]]] = []
    for lang in ("zh", "en"):
        requests += [("/", {"lang": lang}), ("/", {"q": "养老", "lang": lang})]
        requests += [("/", {"q": name[2:6], "lang": lang}) for name in names[:20]]
        for list_type in ("black", "watch", "red"):
            requests += [(f"/lists/{list_type}", {"lang": lang, "page": p}) for p in (1, 2)]
        requests += [(f"/institutions/{uscc}", {"lang": lang}) for uscc in uscc_list]
    for list_type in ("black", "watch", "red"):
        requests += [
            (f"{API}/lists/{list_type}", {}),
            (f"{API}/lists/{list_type}/snapshot.csv", {}),
            (f"{API}/lists/{list_type}/changes.csv", {"since": "2000-01-01"}),
        ]
    requests += [(f"{API}/institutions/{uscc}", {}) for uscc in uscc_list]
    requests += [(f"{API}/institutions", {"q": "养老", "page": p}) for p in (1, 2, 3)]
    requests += [(f"{API}/institutions", {"region": "33"})]
    return requests


ID_SHAPE = re.compile(
    r"(?<![0-9A-Z])[1-9]\d{5}(?:18|19|20)\d{2}[01]\d[0-3]\d\d{3}[\dX](?![0-9A-Z])"
)


async def test_no_public_answer_contains_a_full_id_number(
    client: httpx.AsyncClient,
    demo: IdNumberVault,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        numbers = {
            demo.reveal(cipher)
            for cipher in (
                await session.execute(sa.text("SELECT id_number_encrypted FROM practitioners"))
            ).scalars()
        }
        institutions = (await session.execute(sa.text("SELECT uscc, name FROM institutions"))).all()
    assert len(numbers) == 3000
    usccs = {row.uscc for row in institutions}
    scanned = 0
    plan = _requests(sorted(usccs), [row.name for row in institutions])
    assert len(plan) > 3 * len(usccs)  # each institution's page in two languages and its API
    for path, params in plan:
        response = await client.get(path, params=params)
        assert response.status_code == 200, (path, params, response.text[:200])
        body = response.content.decode("utf-8-sig")
        found = {match for match in ID_SHAPE.findall(body) if match not in usccs}
        assert not found & numbers, (path, params)
        assert not found, (path, params, found)  # nothing shaped like one, either
        scanned += 1
    assert scanned == len(plan)
