"""Hostile uploads: a malformed or bomb workbook and a deeply nested policy are refused
with a 422 naming the body, never a 500, and no upload stops the server answering."""

from __future__ import annotations

import asyncio
import io
import re
import struct
import subprocess
import time
import zipfile
from collections.abc import AsyncIterator, Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import CLI
from factories import make_uscc
from openpyxl import Workbook

from service.upload_limits import (
    MAX_POLICY_CHARS,
    MAX_POLICY_NESTING,
    MAX_XLSX_UNCOMPRESSED_BYTES,
)

Headers = dict[str, str]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET = "xl/worksheets/sheet1.xml"
SHARED_STRINGS = "xl/sharedStrings.xml"
COMPLAINT_HEADER = ["institution_uscc", "occurred_on", "channel", "category", "outcome", "summary"]
UNREADABLE = "not a readable XLSX workbook"


def workbook(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def complaints(count: int) -> bytes:
    """A valid workbook of complaints about unregistered homes; each summary is the number 12."""
    return workbook(
        [COMPLAINT_HEADER]
        + [
            [make_uscc(n), "2026-04-01", "phone", "food", "unfounded", 12]
            for n in range(1, count + 1)
        ]
    )


def rewritten(content: bytes, parts: dict[str, bytes | None]) -> bytes:
    """The workbook with some parts replaced (or added), and those mapped to None left out."""
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            if name not in parts:
                target.writestr(name, source.read(name))
        for name, data in parts.items():
            if data is not None:
                target.writestr(name, data)
    return out.getvalue()


def part(content: bytes, name: str) -> bytes:
    return zipfile.ZipFile(io.BytesIO(content)).read(name)


def with_shared_strings(content: bytes, strings: bytes, index: int) -> bytes:
    """The workbook with a shared-string table, cell B2 pointing at entry ``index``."""
    types = part(content, "[Content_Types].xml").replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    rels = part(content, "xl/_rels/workbook.xml.rels").replace(
        b"</Relationships>",
        b'<Relationship Id="rIdStrings" Type="http://schemas.openxmlformats.org/'
        b'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
        b"</Relationships>",
    )
    sheet = re.sub(
        rb'<c r="B2" t="inlineStr"><is><t>[^<]*</t></is></c>',
        f'<c r="B2" t="s"><v>{index}</v></c>'.encode(),
        part(content, SHEET),
    )
    parts: dict[str, bytes | None] = {
        "[Content_Types].xml": types,
        "xl/_rels/workbook.xml.rels": rels,
        SHEET: sheet,
        SHARED_STRINGS: strings,
    }
    return rewritten(content, parts)


def shared_strings(*texts: str) -> bytes:
    items = "".join(f"<si><t>{text}</t></si>" for text in texts)
    return (
        f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{items}</sst>'
    ).encode()


def bomb(expanded_bytes: int) -> bytes:
    """A small workbook whose one shared string expands to ``expanded_bytes``."""
    valid = with_shared_strings(complaints(3), shared_strings("2026-04-01"), 0)
    out = io.BytesIO()
    source = zipfile.ZipFile(io.BytesIO(valid))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            if name != SHARED_STRINGS:
                target.writestr(name, source.read(name))
        with target.open(SHARED_STRINGS, "w") as stream:
            stream.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
            stream.write(b"<si><t>")
            chunk = b"A" * (1024 * 1024)
            for _ in range(expanded_bytes // len(chunk)):
                stream.write(chunk)
            stream.write(b"</t></si></sst>")
    return out.getvalue()


def understated(content: bytes, name: str, claimed: int) -> bytes:
    """The archive with the uncompressed size of one part understated in both headers."""
    data = bytearray(content)
    encoded = name.encode()
    local = data.find(b"PK\x03\x04")
    while local != -1:
        name_length = struct.unpack_from("<H", data, local + 26)[0]
        if bytes(data[local + 30 : local + 30 + name_length]) == encoded:
            struct.pack_into("<I", data, local + 22, claimed)
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46 : central + 46 + name_length]) == encoded:
            struct.pack_into("<I", data, central + 24, claimed)
        central = data.find(b"PK\x01\x02", central + 4)
    return bytes(data)


def truncated_sheet(content: bytes) -> bytes:
    sheet = part(content, SHEET)
    return rewritten(content, {SHEET: sheet[: len(sheet) // 2]})


def non_numeric_value(content: bytes) -> bytes:
    sheet = part(content, SHEET).replace(b"<v>12</v>", b"<v>twelve</v>", 1)
    return rewritten(content, {SHEET: sheet})


def bad_cell_reference(content: bytes) -> bytes:
    sheet = part(content, SHEET).replace(b'r="B2"', b'r="2B"', 1)
    return rewritten(content, {SHEET: sheet})


def with_dtd(content: bytes) -> bytes:
    laughs = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10))
    doctype = f'<!DOCTYPE worksheet [<!ENTITY l0 "lol">{laughs}]>'.encode()
    sheet = part(content, SHEET).replace(b"<t>phone</t>", b"<t>&l9;</t>", 1)
    return rewritten(content, {SHEET: b'<?xml version="1.0"?>' + doctype + sheet})


def missing_sheet(content: bytes) -> bytes:
    return rewritten(content, {SHEET: None})


def string_index_out_of_range(content: bytes) -> bytes:
    return with_shared_strings(content, shared_strings("2026-04-01"), 7)


def sheet_size_understated(content: bytes) -> bytes:
    return understated(content, SHEET, 100)


MALFORMED: dict[str, Callable[[bytes], bytes]] = {
    "truncated sheet XML": truncated_sheet,
    "a non-numeric <v>": non_numeric_value,
    "a bad cell reference": bad_cell_reference,
    "a DTD with an entity bomb": with_dtd,
    "a missing sheet part": missing_sheet,
    "a shared-string index out of range": string_index_out_of_range,
    "a part's size understated in the archive": sheet_size_understated,
}


async def upload(
    client: httpx.AsyncClient, headers: Headers, content: Any, **params: str
) -> httpx.Response:
    return await client.post(
        "/api/v1/records/imports",
        content=content,
        params={"kind": "complaint", **params},
        headers={**headers, "content-type": XLSX},
    )


def refused_body(response: httpx.Response) -> str:
    """The problem's detail, after checking it is a 422 problem naming the body."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert [error["field"] for error in problem["errors"]] == ["body"], problem
    detail: str = problem["detail"]
    return detail


def refused_body_errors(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    errors: list[dict[str, Any]] = response.json()["errors"]
    return errors


async def test_the_workbook_the_malformed_ones_start_from_is_read(
    client: httpx.AsyncClient, inspector: Headers
) -> None:
    valid = with_shared_strings(complaints(2), shared_strings("2026-04-01"), 0)
    response = await upload(client, inspector, valid)
    assert response.status_code == 200, response.text
    # Read through, cell B2 from the shared strings: the rows fail only on the
    # unregistered homes, not on the file.
    assert {error["field"] for error in response.json()["errors"]} <= {"institution_uscc"}


@pytest.mark.parametrize("damage", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_workbook_is_refused_as_unreadable(
    client: httpx.AsyncClient, inspector: Headers, damage: Callable[[bytes], bytes]
) -> None:
    response = await upload(client, inspector, damage(complaints(3)))
    assert UNREADABLE in refused_body(response)


async def test_a_zip_bomb_is_refused_before_it_is_inflated(
    client: httpx.AsyncClient, inspector: Headers
) -> None:
    content = bomb(2 * MAX_XLSX_UNCOMPRESSED_BYTES)
    assert len(content) < 1024 * 1024  # a small upload, far under the 20 MB body limit
    response = await upload(client, inspector, content)
    detail = refused_body(response)
    assert "MiB when unpacked" in detail
    assert "64 MiB" in detail


async def test_a_zip_bomb_that_understates_its_size_is_refused(
    client: httpx.AsyncClient, inspector: Headers
) -> None:
    content = understated(bomb(2 * MAX_XLSX_UNCOMPRESSED_BYTES), SHARED_STRINGS, 1024)
    assert UNREADABLE in refused_body(await upload(client, inspector, content))


async def test_a_cell_longer_than_excel_allows_is_refused(
    client: httpx.AsyncClient, inspector: Headers
) -> None:
    content = with_shared_strings(complaints(3), shared_strings("长" * 40_000), 0)
    detail = refused_body(await upload(client, inspector, content))
    assert "line 2, column B: a cell holds 40,000 characters" in detail


async def test_one_long_shared_string_in_every_cell_is_bounded(
    client: httpx.AsyncClient, inspector: Headers
) -> None:
    # 30 KB of XML, and every cell of 2,000 rows points at the one 30,000-character string.
    content = with_shared_strings(complaints(1), shared_strings("长" * 30_000), 0)
    cells = "".join(f'<c r="{column}{{n}}" t="s"><v>0</v></c>' for column in "ABCDEF")
    rows = "".join(f'<row r="{n}">{cells.format(n=n)}</row>' for n in range(3, 2_003))
    sheet = part(content, SHEET).replace(b"</sheetData>", rows.encode() + b"</sheetData>")
    detail = refused_body(await upload(client, inspector, rewritten(content, {SHEET: sheet})))
    assert "characters of text" in detail


async def test_a_cell_far_out_to_the_right_in_every_row_is_bounded(
    client: httpx.AsyncClient, inspector: Headers
) -> None:
    # Each row names column XFD: padded out, 16,384 cells from a few bytes of XML.
    rows = b"".join(
        f'<row r="{n}"><c r="XFD{n}" t="inlineStr"><is><t></t></is></c></row>'.encode()
        for n in range(2, 400)
    )
    content = complaints(1)
    sheet = part(content, SHEET).replace(b"</sheetData>", rows + b"</sheetData>")
    detail = refused_body(await upload(client, inspector, rewritten(content, {SHEET: sheet})))
    assert "cells (empty formatted cells count too)" in detail


async def test_a_row_numbered_past_excels_last_row_is_refused(
    client: httpx.AsyncClient, inspector: Headers
) -> None:
    content = complaints(1)
    row = b'<row r="2000000000"><c r="A2000000000"><v>1</v></c></row>'
    sheet = part(content, SHEET).replace(b"</sheetData>", row + b"</sheetData>")
    detail = refused_body(await upload(client, inspector, rewritten(content, {SHEET: sheet})))
    assert "rows past Excel's last row" in detail


async def test_health_answers_while_a_big_workbook_is_read(
    client: httpx.AsyncClient, inspector: Headers
) -> None:
    # 10,000 rows, the most a file may have, with a column complaints do not have: the
    # server reads the whole sheet, then refuses the file without asking the database.
    rows = [[*COMPLAINT_HEADER, "remark"]] + [
        [make_uscc(n), "2026-04-01", "phone", "food", "unfounded", f"第{n}行投诉摘要", "备注"]
        for n in range(1, 10_001)
    ]
    content = workbook(rows)
    body_sent = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield content
        body_sent.set()

    importing = asyncio.create_task(upload(client, inspector, body()))
    await body_sent.wait()
    started = time.monotonic()
    answered_at = [started]
    async with httpx.AsyncClient(base_url=str(client.base_url), timeout=60) as prober:
        while not importing.done():
            health = await prober.get("/health")
            assert health.status_code == 200
            answered_at.append(time.monotonic())
    response = await importing
    answered_at[-1] = min(answered_at[-1], time.monotonic())
    assert [error["field"] for error in refused_body_errors(response)] == ["remark"]
    # Health is answered all through the reading: no wait between two answers takes half
    # of the import (a collector pause may stretch one). Read on the event loop, the sheet
    # held every health request until it was done: one wait took nine tenths of it.
    reading = answered_at[-1] - started
    longest_wait = max(later - earlier for earlier, later in pairwise(answered_at))
    assert len(answered_at) > 10
    assert longest_wait < reading / 2, (longest_wait, reading, len(answered_at))


def nested_toml(depth: int, opener: str = "[", closer: str = "]") -> str:
    return 'version = "2099.1"\nx = ' + opener * depth + closer * depth + "\n"


# As deep as fits the test server's 64 KiB body limit (the default is 1 MiB, enough for
# 50,000 levels); the TOML reader gave up at about 300.
DEEP_POLICIES = {
    "arrays": nested_toml(30_000),
    "inline tables": "x = " + "{a = " * 10_000 + "1" + "}" * 10_000 + "\n",
    "just past the limit": nested_toml(MAX_POLICY_NESTING + 1),
}


@pytest.mark.parametrize("document", DEEP_POLICIES.values(), ids=DEEP_POLICIES.keys())
@pytest.mark.parametrize("route", ["/api/v1/policies", "/api/v1/admin/policy-simulations"])
async def test_a_deeply_nested_policy_is_refused_unread(
    client: httpx.AsyncClient, admin: Headers, route: str, document: str
) -> None:
    response = await client.post(
        route, content=document.encode(), headers={**admin, "content-type": "application/toml"}
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert [error["field"] for error in problem["errors"]] == ["policy"], problem
    assert f"nested more than {MAX_POLICY_NESTING} deep" in problem["detail"]


async def test_brackets_inside_strings_and_comments_do_not_count_as_nesting(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    document = (
        'version = "2099.1" # [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n'
        'a = "' + "[" * 40 + '\\"' + "{" * 40 + '"\n'
        "b = '" + "[" * 40 + "'\n"
        'c = """\n' + "[" * 40 + '\\"""' + "{" * 40 + '"""\n'
        "d = '''" + "[" * 40 + "'''\n"
    )
    response = await client.post(
        "/api/v1/admin/policy-simulations",
        content=document.encode(),
        headers={**admin, "content-type": "application/toml"},
    )
    # Read, and refused for what it lacks, not for its depth.
    assert response.status_code == 422, response.text
    assert "nested" not in response.json()["detail"]


CLI_POLICIES = {
    "nested 50,000 deep": (nested_toml(50_000), f"nested more than {MAX_POLICY_NESTING} deep"),
    "oversized": (
        'version = "2099.1"\n' + "# padding\n" * (MAX_POLICY_CHARS // 10),
        f"more than the {MAX_POLICY_CHARS:,} a policy file may have",
    ),
}


@pytest.mark.parametrize(("document", "message"), CLI_POLICIES.values(), ids=CLI_POLICIES.keys())
@pytest.mark.parametrize("command", ["install", "simulate"])
async def test_the_cli_says_one_line_about_a_hostile_policy_file(
    cli_env: dict[str, str],
    tmp_path: Path,
    clean_db: None,
    command: str,
    document: str,
    message: str,
) -> None:
    draft = tmp_path / "draft.toml"
    draft.write_text(document, encoding="utf-8")
    result = await asyncio.to_thread(
        subprocess.run,
        [CLI, "policy", command, str(draft)],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
