"""The bounds on uploaded files, in one place: spreadsheets imported as records, policy files.

A file within these bounds is read in bounded time and memory; a file outside them is
refused before or while it is read, whatever its own headers claim. The README's
"Upload limits" section states each of them.
"""

from __future__ import annotations

# Spreadsheet imports: POST /api/v1/records/imports.
MAX_IMPORT_BYTES = 20 * 1024 * 1024  # the body as sent (larger: 413 before it is read)
MAX_IMPORT_ROWS = 10_000  # non-empty rows under the header
MAX_CELL_CHARS = 32_767  # Excel's own limit on the text of one cell
# All the cells' text together: one shared string may be referenced from every cell,
# so the text a sheet yields is bounded apart from the size of its XML.
MAX_IMPORT_TEXT_CHARS = 32 * 1024 * 1024
# An XLSX file is a zip archive of XML parts. Its parts together may expand to this
# much, counted both from the sizes the archive declares and while they are inflated:
# a workbook of 10,000 rows of long Chinese text is well under it, a zip bomb is not.
MAX_XLSX_UNCOMPRESSED_BYTES = 64 * 1024 * 1024
MAX_XLSX_PARTS = 1_000  # files inside the archive; Excel writes about a dozen
# A row numbered past Excel's last row is not from a spreadsheet program; refusing it
# also stops a reader from walking a billion empty rows up to it.
MAX_SHEET_ROW_NUMBER = 1_048_576
# Cells walked in the sheet, empty ones included: one cell in column XFD makes a row of
# 16,384, so this bounds the work that a few bytes of XML can ask for.
MAX_SHEET_CELLS = 5_000_000
# Spreadsheets read at the same time in one process (each in a worker thread, off the
# event loop); more wait their turn, so memory stays bounded under parallel uploads.
PARALLEL_SPREADSHEET_READS = 2

# Policy files: POST /api/v1/policies, POST /api/v1/admin/policy-simulations and the
# `policy install` / `policy simulate` commands. The shipped policy is about 11 KB.
MAX_POLICY_CHARS = 256 * 1024
# Arrays and inline tables nested inside each other; the policy nests two or three
# deep. The TOML reader recurses once per level, so a deeper file is refused unread.
MAX_POLICY_NESTING = 32
