"""Members of staff for the workbench tests: created as `users create --login` does,
enrolled and signed in through the pages, as a browser would (over HTTP, or in a real
browser's sign-in form)."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
import pyotp
from playwright.async_api import Page
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.actor import Role
from service.auth.staff import create_staff_user
from service.auth.totp import TotpVault
from service.clock import Clock, system_clock
from service.secret import Secret
from service.wiring import system_context

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
TOTP_SECRET = re.compile(r'id="totp-secret">([^<]+)<')
PASSWORD = "长风破浪会有时-2025"  # meets every rule, and is on no list


def csrf_token(page: str) -> str:
    found = CSRF_FIELD.search(page)
    assert found, "the page has no CSRF field"
    return found.group(1)


async def new_staff(
    sessions: async_sessionmaker[AsyncSession],
    secret_key: Secret,
    *,
    login: str,
    role: str,
    region: str | None = "3305",
    second_factor_required: bool = False,
    clock: Clock = system_clock,
) -> str:
    """A member of staff not yet enrolled: the token of their enrolment link."""
    async with sessions() as session, session.begin():
        enrolment = await create_staff_user(
            session,
            system_context(clock=clock),
            name=f"测试 {login}",
            role=Role(role),
            region_code=None if role == "admin" else region,
            login=login,
            vault=TotpVault(secret_key),
            second_factor_required=second_factor_required,
        )
    return enrolment.token


async def enrol(
    client: httpx.AsyncClient,
    token: str,
    *,
    password: str = PASSWORD,
    with_second_factor: bool = True,
    now: datetime | None = None,
) -> str | None:
    """Open the link, set the password and (with a code of this moment) the second
    factor; the TOTP secret, or None without one."""
    page = await client.get(f"/staff/enrol/{token}")
    assert page.status_code == 200, page.text
    found = TOTP_SECRET.search(page.text)
    assert found
    secret = found.group(1).replace(" ", "")
    code = pyotp.TOTP(secret).at(now or datetime.now().astimezone()) if with_second_factor else ""
    answer = await client.post(
        f"/staff/enrol/{token}",
        data={"csrf_token": csrf_token(page.text), "password": password,
              "password_again": password, "code": code},
    )  # fmt: skip
    assert answer.status_code == 303, answer.text
    return secret if with_second_factor else None


async def enrolled(
    sessions: async_sessionmaker[AsyncSession],
    secret_key: Secret,
    live_server: str,
    *,
    login: str,
    role: str,
    clock: Clock,
    with_second_factor: bool = True,
) -> str | None:
    """A member of staff (of 3305) created and enrolled at the clock's moment: their TOTP
    secret, or None without a second factor."""
    token = await new_staff(sessions, secret_key, login=login, role=role, clock=clock)
    async with httpx.AsyncClient(base_url=live_server) as client:
        return await enrol(client, token, with_second_factor=with_second_factor, now=clock())


async def sign_in_on_page(
    page: Page,
    login: str,
    *,
    password: str = PASSWORD,
    secret: str | None = None,
    now: datetime | None = None,
) -> None:
    """In a browser on the (Chinese) sign-in page: the password, then the code of this
    moment when there is a second factor."""
    await page.get_by_label("登录名").fill(login)
    await page.get_by_label("密码").fill(password)
    await page.get_by_role("button", name="登录").click()
    if secret is not None:
        code = pyotp.TOTP(secret).at(now or datetime.now().astimezone())
        await page.get_by_label("动态验证码（6 位数字）").fill(code)
        await page.get_by_role("button", name="继续").click()


async def post_password(
    client: httpx.AsyncClient, login: str, password: str = PASSWORD
) -> httpx.Response:
    page = await client.get("/staff/sign-in")
    return await client.post(
        "/staff/sign-in",
        data={"csrf_token": csrf_token(page.text), "login": login, "password": password},
    )


async def post_code(client: httpx.AsyncClient, code: str) -> httpx.Response:
    page = await client.get("/staff/sign-in/code")
    assert page.status_code == 200, page.text
    return await client.post(
        "/staff/sign-in/code", data={"csrf_token": csrf_token(page.text), "code": code}
    )


async def sign_in(
    client: httpx.AsyncClient,
    login: str,
    *,
    password: str = PASSWORD,
    secret: str | None = None,
    now: datetime | None = None,
) -> None:
    """Sign in through both steps; the client then holds the session cookie."""
    answer = await post_password(client, login, password)
    assert answer.status_code == 303, answer.text
    if secret is not None:
        assert answer.headers["location"].startswith("/staff/sign-in/code")
        answer = await post_code(client, pyotp.TOTP(secret).at(now or datetime.now().astimezone()))
        assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/staff/"
