"""Spreadsheets in and out: CSV and XLSX, as the people who keep them actually save them.

Reading accepts UTF-8 (with or without Excel's byte-order mark) and GB18030, which
Excel on a Chinese system writes by default; an XLSX file is recognised by its zip
signature whatever the declared content type. Writing gives UTF-8 CSV with a BOM,
so Excel opens Chinese text correctly, and a one-sheet XLSX.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
_ZIP_SIGNATURE = b"PK\x03\x04"


class TableError(ValueError):
    """The file cannot be read as a table; the message says why."""


@dataclass(frozen=True, slots=True)
class TableRow:
    line: int  # the line (CSV) or row (XLSX) number a person sees in their editor
    cells: dict[str, str]  # column name → non-empty, stripped text


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _csv_lines(content: bytes) -> Iterator[tuple[int, list[str]]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise TableError("the CSV file is neither UTF-8 nor GB18030 text")
    if "\x00" in text:
        raise TableError("the file contains NUL characters: is it really a CSV file?")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for cells in reader:
            yield reader.line_num, [cell.strip() for cell in cells]
    except csv.Error as error:
        raise TableError(f"line {reader.line_num}: {error}") from error


def _xlsx_lines(content: bytes) -> Iterator[tuple[int, list[str]]]:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise TableError("the XLSX file cannot be opened") from error
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_cell_text(value) for value in values]
    finally:
        workbook.close()


def read_table(content: bytes, max_rows: int) -> tuple[list[str], list[TableRow]]:
    """The header (first non-empty row, lower-cased) and the non-empty rows under it."""
    lines = _xlsx_lines(content) if content.startswith(_ZIP_SIGNATURE) else _csv_lines(content)
    header: list[str] | None = None
    rows: list[TableRow] = []
    for number, cells in lines:
        if not any(cells):
            continue
        if header is None:
            header = [cell.lower() for cell in cells]
            continue
        if len(rows) == max_rows:
            raise TableError(f"more than {max_rows} rows; split the file")
        values = {name: value for name, value in zip(header, cells, strict=False) if name and value}
        rows.append(TableRow(number, values))
    if header is None:
        raise TableError("the file is empty: the first row must name the columns")
    return header, rows


# A cell that starts like a formula is run by a spreadsheet that opens the file
# (CSV/formula injection): such text is written so that it stays text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _xlsx_cell(sheet: WriteOnlyWorksheet, value: object) -> object:
    if value is None:
        return None
    if isinstance(value, datetime):  # Excel has no time zones: keep the offset as text
        value = value.isoformat()
    if isinstance(value, Decimal | int | float | date):
        return value
    cell = WriteOnlyCell(sheet, value=str(value))
    cell.data_type = "s"  # never a formula, whatever the text starts with
    return cell


def write_csv(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([_csv_value(value) for value in row] for row in rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def write_xlsx(columns: Sequence[str], rows: Iterable[Sequence[object]], title: str) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    sheet.append(list(columns))
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
