"""Spreadsheets in and out: CSV and XLSX, as the people who keep them actually save them.

Reading accepts UTF-8 (with or without Excel's byte-order mark) and GB18030, which
Excel on a Chinese system writes by default; an XLSX file is recognised by its zip
signature whatever the declared content type. Writing gives UTF-8 CSV with a BOM,
so Excel opens Chinese text correctly, and a one-sheet XLSX.

An uploaded file is untrusted: reading one is bounded by service/upload_limits.py (the
archive's sizes, declared and actual, the rows, cells and text), an XML part with a
DTD is refused (a workbook never has one: it is how entity bombs and external entities
get in), and whatever the spreadsheet library trips over in a malformed file becomes a
``TableError`` saying so, never an unexpected exception. Reading is synchronous and
CPU-bound: async callers run it in a worker thread.
"""

from __future__ import annotations

import csv
import io
import time
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from xml.parsers import expat

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from service.upload_limits import (
    MAX_CELL_CHARS,
    MAX_IMPORT_TEXT_CHARS,
    MAX_SHEET_CELLS,
    MAX_SHEET_ROW_NUMBER,
    MAX_XLSX_PARTS,
    MAX_XLSX_UNCOMPRESSED_BYTES,
)

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


_MIB = 1024 * 1024
_XML_PART_SUFFIXES = (".xml", ".rels")
_READ_CHUNK = 1024 * 1024


def _unreadable(reason: str) -> TableError:
    return TableError(
        f"the file is not a readable XLSX workbook: {reason}; open it in a spreadsheet "
        "program and save it again, or save it as CSV"
    )


def _failure(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text if len(text) <= 200 else text[:200] + "…"


def _too_long(line: int, column: str, length: int) -> TableError:
    return TableError(
        f"line {line}, column {column}: a cell holds {length:,} characters, more than the "
        f"{MAX_CELL_CHARS:,} a spreadsheet cell may"
    )


class _DtdFound(Exception):
    """Raised from the XML scanner when a part declares a document type."""


def _refuse_dtd(*_: object) -> None:
    raise _DtdFound


def _inflate_part(archive: zipfile.ZipFile, part: zipfile.ZipInfo, budget: int) -> int:
    """Inflate one part with a bound, scanning it as XML; the bytes it really holds.

    The sizes in the archive's directory are the sender's claim: the bytes are counted
    as they come out, so a part that inflates past what is left of the budget is
    refused however small it said it was.
    """
    scanner = expat.ParserCreate()
    scanner.StartDoctypeDeclHandler = _refuse_dtd
    scanner.EntityDeclHandler = _refuse_dtd
    must_be_xml = part.filename.lower().endswith(_XML_PART_SUFFIXES)
    scanning = True  # a binary part (an image) stops the XML scan at once, harmlessly
    inflated = 0
    try:
        with archive.open(part) as stream:
            while chunk := stream.read(_READ_CHUNK):
                inflated += len(chunk)
                if inflated > budget:
                    raise TableError(
                        "the workbook expands to more than "
                        f"{MAX_XLSX_UNCOMPRESSED_BYTES // _MIB} MiB when unpacked; split it "
                        "into smaller files"
                    )
                if scanning:
                    try:
                        scanner.Parse(chunk, False)
                    except expat.ExpatError as error:
                        if must_be_xml:
                            raise _unreadable(
                                f"{part.filename} is not well-formed XML ({error})"
                            ) from error
                        scanning = False
        if scanning and must_be_xml:
            try:
                scanner.Parse(b"", True)
            except expat.ExpatError as error:
                raise _unreadable(f"{part.filename} is not well-formed XML ({error})") from error
    except TableError:
        raise
    except _DtdFound as error:
        raise _unreadable(f"{part.filename} declares a DTD, which a workbook never has") from error
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        RuntimeError,
        ValueError,
        NotImplementedError,
    ) as error:
        # A CRC or size mismatch, a truncated stream, encryption, an unknown compression.
        raise _unreadable(f"{part.filename} is damaged ({_failure(error)})") from error
    return inflated


def _check_archive(content: bytes) -> None:
    """Refuse an archive that is not one, has too many parts, or unpacks too large."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise _unreadable(f"it is not a zip archive ({_failure(error)})") from error
    with archive:
        parts = archive.infolist()
        if len(parts) > MAX_XLSX_PARTS:
            raise _unreadable(
                f"it holds {len(parts):,} files, more than the {MAX_XLSX_PARTS:,} a workbook may"
            )
        declared = sum(part.file_size for part in parts)
        if declared > MAX_XLSX_UNCOMPRESSED_BYTES:
            raise TableError(
                f"the workbook expands to {declared / _MIB:,.0f} MiB when unpacked, more than "
                f"the {MAX_XLSX_UNCOMPRESSED_BYTES // _MIB} MiB allowed; split it into "
                "smaller files"
            )
        budget = MAX_XLSX_UNCOMPRESSED_BYTES
        for part in parts:
            budget -= _inflate_part(archive, part, budget)


def _xlsx_lines(content: bytes) -> Iterator[tuple[int, list[str]]]:
    _check_archive(content)
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as error:  # whatever a malformed workbook makes openpyxl raise
        raise _unreadable(_failure(error)) from error
    try:
        if not workbook.worksheets:
            raise _unreadable("it has no worksheet")
        sheet = workbook.worksheets[0]
        # The rows are what counts, not the size the sheet claims: a claimed size pads
        # every row to it, and rows past it would be silently dropped.
        sheet.reset_dimensions()
        rows = sheet.iter_rows(values_only=True)
        number = cells = chars = 0
        while True:
            try:
                values = next(rows, None)
            except Exception as error:  # a bad cell reference, value or string index
                raise _unreadable(
                    f"the sheet cannot be read after row {number} ({_failure(error)})"
                ) from error
            if values is None:
                return
            number += 1
            cells += len(values)
            if number > MAX_SHEET_ROW_NUMBER:
                raise _unreadable(f"it has rows past Excel's last row ({MAX_SHEET_ROW_NUMBER:,})")
            if cells > MAX_SHEET_CELLS:
                raise TableError(
                    f"the sheet has more than {MAX_SHEET_CELLS:,} cells (empty formatted cells "
                    f"count too), reached at row {number}; delete unused rows and columns or "
                    "split the file"
                )
            texts = []
            for column, value in enumerate(values, start=1):
                # Checked before any copy is made: one shared string may fill many cells.
                if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
                    raise _too_long(number, get_column_letter(column), len(value))
                texts.append(text := _cell_text(value))
                chars += len(text)
                if chars > MAX_IMPORT_TEXT_CHARS:
                    raise TableError(
                        f"the sheet holds more than {MAX_IMPORT_TEXT_CHARS:,} characters of "
                        f"text by row {number}; split the file"
                    )
            yield number, texts
    finally:
        workbook.close()


YIELD_EVERY_ROWS = 100


def read_table(content: bytes, max_rows: int) -> tuple[list[str], list[TableRow]]:
    """The header (first non-empty row, lower-cased) and the non-empty rows under it."""
    lines = _xlsx_lines(content) if content.startswith(_ZIP_SIGNATURE) else _csv_lines(content)
    header: list[str] | None = None
    rows: list[TableRow] = []
    for number, cells in lines:
        if number % YIELD_EVERY_ROWS == 0:
            # Read on a worker thread, a sheet kept the GIL for 0.2-0.6 s at a time here:
            # the event loop waiting for it was not handed it back at the 5 ms switch
            # interval. Sleeping 0 hands it over; measured, the longest wait fell to 11 ms.
            time.sleep(0)
        if not any(cells):
            continue
        for index, cell in enumerate(cells):
            if len(cell) > MAX_CELL_CHARS:
                column = header[index] if header and index < len(header) else f"#{index + 1}"
                raise _too_long(number, column, len(cell))
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
