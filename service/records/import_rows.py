"""Spreadsheet rows → record bodies, with every problem located by line and column.

The columns of each kind are derived from the request schemas, so the spreadsheet
and the API can never disagree: the envelope columns, then one column per field of
the kind's ``details``, and for inspections one column per deficiency field prefixed
``deficiency_``. One row is one record, except inspections: rows that share a
``ref`` are one inspection with one deficiency per row. Subjects are named by code
(``institution_uscc``, ``practitioner_id_number``), as the people who fill the sheet
know them. List cells (inspectors, penalty kinds) separate items with ; or 、.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from msgspec.structs import FieldInfo

from service.facts.details import DeficiencyIn
from service.facts.kinds import RecordKind
from service.records.schemas import BODY_OF_KIND, RecordBase
from service.tabular import TableRow

INSTITUTION_COLUMN = "institution_uscc"
PRACTITIONER_COLUMN = "practitioner_id_number"
GROUP_COLUMN = "ref"
DEFICIENCY_PREFIX = "deficiency_"
ENVELOPE_COLUMNS = ("occurred_on", "document_no", "legal_basis")
_SUBJECT_FIELDS = {"institution_id": INSTITUTION_COLUMN, "practitioner_id": PRACTITIONER_COLUMN}
_LIST_SEPARATORS = re.compile(r"\s*[;；、]\s*")
_INDEXED = re.compile(r"^deficiencies\[(\d+)\]\.?(.*)$")
_MISSING = re.compile(r"missing required field `([^`]+)`")


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    column: str
    message: str


def _is_list(annotation: Any) -> bool:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_list(arg) for arg in typing.get_args(annotation))
    return typing.get_origin(annotation) is list


def _fields(struct: Any) -> dict[str, FieldInfo]:
    return {f.name: f for f in msgspec.structs.fields(struct)}


@dataclass(frozen=True, slots=True)
class KindColumns:
    """The spreadsheet columns of one record kind and where each lands in the body."""

    kind: RecordKind
    envelope: dict[str, FieldInfo]
    details: dict[str, FieldInfo]
    deficiency: dict[str, FieldInfo]

    @classmethod
    def of(cls, kind: RecordKind) -> KindColumns:
        body_fields = {f.name: f for f in msgspec.structs.fields(BODY_OF_KIND[kind])}
        envelope = {name: body_fields[name] for name in ENVELOPE_COLUMNS}
        details = _fields(body_fields["details"].type)
        deficiency = _fields(DeficiencyIn) if kind == RecordKind.INSPECTION else {}
        return cls(kind, envelope, details, deficiency)

    @property
    def names(self) -> list[str]:
        names = [INSTITUTION_COLUMN, PRACTITIONER_COLUMN, *ENVELOPE_COLUMNS, *self.details]
        if self.deficiency:
            names = [GROUP_COLUMN, *names, *(DEFICIENCY_PREFIX + f for f in self.deficiency)]
        return names

    def group_level(self, column: str) -> bool:
        return not column.startswith(DEFICIENCY_PREFIX) and column != GROUP_COLUMN

    def column_of(self, path: str) -> str:
        """The column a body path came from: details.channel → channel."""
        if path in _SUBJECT_FIELDS:
            return _SUBJECT_FIELDS[path]
        head, _, rest = path.partition(".")
        if head == "details" and rest:
            return rest.split(".")[0].split("[")[0]
        if match := _INDEXED.match(path):
            name = match.group(2).split(".")[0].split("[")[0]
            return DEFICIENCY_PREFIX + name if name else DEFICIENCY_PREFIX + "item"
        return head.split("[")[0]


@dataclass(slots=True)
class RowGroup:
    """The rows that make one record, and the body they build (subject ids still to come)."""

    rows: list[TableRow]
    body: dict[str, Any]
    deficiency_lines: list[int] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def lines(self) -> list[int]:
        return [row.line for row in self.rows]

    @property
    def first(self) -> TableRow:
        return self.rows[0]

    def locate(self, columns: KindColumns, path: str) -> tuple[int, str]:
        """The line and column at fault for a body path such as deficiencies[1].scope."""
        match = _INDEXED.match(path)
        if match and int(match.group(1)) < len(self.deficiency_lines):
            return self.deficiency_lines[int(match.group(1))], columns.column_of(path)
        return self.first.line, columns.column_of(path)

    def fail(self, columns: KindColumns, path: str, message: str) -> None:
        line, column = self.locate(columns, path)
        self.problems.append(RowProblem(line, column, message))


def unknown_columns(columns: KindColumns, header: Sequence[str]) -> list[RowProblem]:
    known = set(columns.names)
    expected = ", ".join(columns.names)
    return [
        RowProblem(
            1, name, f"unknown column for {columns.kind.value} records; expected: {expected}"
        )
        for name in header
        if name and name not in known
    ]


def _value(raw: str, info: FieldInfo) -> Any:
    if _is_list(info.type):
        return [item for item in _LIST_SEPARATORS.split(raw) if item]
    return raw


def _check_cells(
    group: RowGroup,
    columns: KindColumns,
    values: dict[str, Any],
    fields: dict[str, FieldInfo],
    prefix: str,
) -> None:
    """Each cell against its field's type, and each required field present: all problems at once."""
    for name, info in fields.items():
        if name not in values:
            if info.required:
                group.fail(columns, prefix + name, "is required")
            continue
        try:
            msgspec.convert(values[name], info.type, strict=False)
        except msgspec.ValidationError as error:
            group.fail(columns, prefix + name, str(error).partition(" - at `")[0])


def _group(columns: KindColumns, rows: Sequence[TableRow]) -> list[list[TableRow]]:
    if not columns.deficiency:
        return [[row] for row in rows]
    groups: dict[str, list[TableRow]] = {}
    ordered: list[list[TableRow]] = []
    for row in rows:
        ref = row.cells.get(GROUP_COLUMN)
        if ref is None:
            ordered.append([row])
        elif ref in groups:
            groups[ref].append(row)
        else:
            groups[ref] = [row]
            ordered.append(groups[ref])
    return ordered


def build_groups(columns: KindColumns, rows: Sequence[TableRow]) -> list[RowGroup]:
    """One body per record; cells that contradict their inspection's first row are problems."""
    groups = []
    for members in _group(columns, rows):
        first = members[0]
        body: dict[str, Any] = {"kind": columns.kind.value, "details": {}}
        for name, info in columns.envelope.items():
            if name in first.cells:
                body[name] = _value(first.cells[name], info)
        for name, info in columns.details.items():
            if name in first.cells:
                body["details"][name] = _value(first.cells[name], info)
        group = RowGroup(members, body)
        _check_cells(group, columns, body, columns.envelope, "")
        _check_cells(group, columns, body["details"], columns.details, "details.")
        if columns.deficiency:
            body["deficiencies"] = []
            for row in members:
                found = {
                    name: _value(row.cells[DEFICIENCY_PREFIX + name], info)
                    for name, info in columns.deficiency.items()
                    if DEFICIENCY_PREFIX + name in row.cells
                }
                if found:
                    prefix = f"deficiencies[{len(group.deficiency_lines)}]."
                    body["deficiencies"].append(found)
                    group.deficiency_lines.append(row.line)
                    _check_cells(group, columns, found, columns.deficiency, prefix)
                for column, value in row.cells.items():
                    if columns.group_level(column) and first.cells.get(column) != value:
                        group.problems.append(
                            RowProblem(
                                row.line,
                                column,
                                f"differs from line {first.line}, the first row of "
                                f"inspection {row.cells.get(GROUP_COLUMN)!r}",
                            )
                        )
        groups.append(group)
    return groups


def convert(columns: KindColumns, group: RowGroup) -> RecordBase | None:
    """The typed body, or None when a cell was already found at fault or conversion fails."""
    if group.problems:
        return None
    try:
        body: RecordBase = msgspec.convert(group.body, BODY_OF_KIND[columns.kind], strict=False)
    except msgspec.ValidationError as error:
        message, _, where = str(error).partition(" - at `")
        path = where.rstrip("`").removeprefix("$").removeprefix(".")
        if missing := _MISSING.search(message):
            path = f"{path}.{missing.group(1)}" if path else missing.group(1)
            message = "is required"
        group.fail(columns, path, message)
        return None
    return body
