"""Spreadsheet files and rows: encodings, grouping into records, errors located by column."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook

from service.facts.kinds import RecordKind
from service.records.import_rows import KindColumns, build_groups, convert, unknown_columns
from service.tabular import TableError, TableRow, read_table, write_csv


def test_columns_come_from_the_schemas() -> None:
    complaint = KindColumns.of(RecordKind.COMPLAINT).names
    assert complaint == [
        "institution_uscc", "practitioner_id_number", "occurred_on", "document_no",
        "legal_basis", "channel", "category", "outcome", "summary",
    ]  # fmt: skip
    inspection = KindColumns.of(RecordKind.INSPECTION).names
    assert inspection[0] == "ref"
    assert "deficiency_rectified_on" in inspection
    assert "inspectors" in inspection


def test_a_path_in_the_body_maps_back_to_its_column() -> None:
    columns = KindColumns.of(RecordKind.INSPECTION)
    assert columns.column_of("details.inspectors[1]") == "inspectors"
    assert columns.column_of("deficiencies[3].scope") == "deficiency_scope"
    assert columns.column_of("institution_id") == "institution_uscc"
    assert columns.column_of("occurred_on") == "occurred_on"


def test_every_bad_cell_of_a_row_is_reported_at_once() -> None:
    columns = KindColumns.of(RecordKind.COMPLAINT)
    row = TableRow(
        2, {"occurred_on": "2026-02-30", "channel": "fax", "category": "fees", "outcome": "?"}
    )
    (group,) = build_groups(columns, [row])
    assert convert(columns, group) is None
    assert [(p.line, p.column) for p in group.problems] == [
        (2, "occurred_on"),
        (2, "channel"),
        (2, "outcome"),
    ]


def test_a_missing_required_cell_is_named() -> None:
    columns = KindColumns.of(RecordKind.COMPLAINT)
    (group,) = build_groups(columns, [TableRow(5, {"occurred_on": "2026-02-03"})])
    assert {(p.line, p.column, p.message) for p in group.problems} == {
        (5, "channel", "is required"),
        (5, "category", "is required"),
        (5, "outcome", "is required"),
    }


def test_inspection_rows_that_share_a_ref_become_one_record() -> None:
    columns = KindColumns.of(RecordKind.INSPECTION)
    head = {
        "ref": "A",
        "occurred_on": "2026-05-06",
        "inspection_type": "routine",
        "inspectors": "甲、乙",
    }
    rows = [
        TableRow(2, {**head, "deficiency_item": "一", "deficiency_severity": "minor", "deficiency_scope": "isolated"}),
        TableRow(3, {"ref": "B", **{k: v for k, v in head.items() if k != "ref"}}),
        TableRow(4, {"ref": "A", "deficiency_item": "二", "deficiency_severity": "general", "deficiency_scope": "pattern"}),
        TableRow(5, {"ref": "A", "occurred_on": "2026-05-07", "deficiency_item": "三", "deficiency_severity": "minor", "deficiency_scope": "isolated"}),
    ]  # fmt: skip
    first, second = build_groups(columns, rows)
    assert first.lines == [2, 4, 5]
    assert [d["item"] for d in first.body["deficiencies"]] == ["一", "二", "三"]
    assert first.body["details"]["inspectors"] == ["甲", "乙"]
    assert [(p.line, p.column) for p in first.problems] == [(5, "occurred_on")]
    assert second.lines == [3]
    assert second.body["deficiencies"] == []


def test_unknown_columns_are_listed_with_the_expected_ones() -> None:
    (problem,) = unknown_columns(KindColumns.of(RecordKind.COMMENDATION), ["title", "stars"])
    assert (problem.line, problem.column) == (1, "stars")
    assert "awarding_body" in problem.message


def test_csv_with_a_bom_or_in_gb18030_reads_the_same() -> None:
    text = "名称,日期\n颐养院,2026-01-02\n\n,\n"
    for content in (("\ufeff" + text).encode(), text.encode("gb18030")):
        header, rows = read_table(content, 10)
        assert header == ["名称", "日期"]
        assert rows == [TableRow(2, {"名称": "颐养院", "日期": "2026-01-02"})]


def test_xlsx_dates_and_numbers_read_as_a_clerk_typed_them() -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["occurred_on", "fine_amount", "note"])
    sheet.append([datetime(2026, 3, 4), 5000.0, None])
    sheet.append([date(2026, 3, 5), 12.5, "备注"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    _, rows = read_table(buffer.getvalue(), 10)
    assert [row.cells for row in rows] == [
        {"occurred_on": "2026-03-04", "fine_amount": "5000"},
        {"occurred_on": "2026-03-05", "fine_amount": "12.5", "note": "备注"},
    ]


def test_too_many_rows_and_an_empty_file_are_refused() -> None:
    with pytest.raises(TableError, match="more than 2 rows"):
        read_table(b"a\n1\n2\n3\n", 2)
    with pytest.raises(TableError, match="empty"):
        read_table(b"\n\n", 2)


def test_written_csv_keeps_formula_like_text_as_text() -> None:
    content = write_csv(["a", "b"], [["=1+2", "-x"], ["普通", None]])
    assert content.startswith("\ufeff".encode())
    assert content.decode("utf-8-sig").splitlines() == ["a,b", "'=1+2,'-x", "普通,"]
