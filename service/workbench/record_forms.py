"""The forms of complaints, abuse findings, penalties and commendations: which of the API's
fields each shows and how (a table, not a template per kind), their values from a draft,
and the API's body from a posted form. The rules stay in the API's shapes and in
``records.rules``: a field is checked against its type in the kind's details struct here,
so every problem is named at once, and the service function checks the rest.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

import msgspec
from msgspec import Struct

from service.facts.details import DETAILS_OF_KIND, read_details
from service.facts.kinds import (
    AbuseCategory,
    AbuseHarm,
    CommendationLevel,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintOutcome,
    PenaltyKind,
    PenaltySeverity,
    RecordKind,
    ViolationCategory,
)
from service.limits import DATE_RANGE_MESSAGE, dates_out_of_range
from service.records.models import Record
from service.records.schemas import BODY_OF_KIND, RecordBase, RecordIn


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a form: the API's path (its name and id), its label's word key, and
    how it is entered: ``text``, ``textarea``, ``date``, ``select`` or ``choices`` (boxes)."""

    name: str
    label: str
    widget: str = "text"
    options: type[StrEnum] | None = None
    maxlength: int | None = None

    @property
    def option_prefix(self) -> str:
        """The word keys of its options: ``opt_<field>_<value>``."""
        return f"opt_{self.name.removeprefix('details.')}_"


OCCURRED_ON = FieldSpec("occurred_on", "field_decision_date", "date")
DOCUMENT_NO = FieldSpec("document_no", "field_document_no", maxlength=100)
LEGAL_BASIS = FieldSpec("legal_basis", "field_legal_basis", maxlength=1000)

KIND_FIELDS: dict[RecordKind, tuple[FieldSpec, ...]] = {
    RecordKind.COMPLAINT: (
        FieldSpec("occurred_on", "field_complaint_received_on", "date"),
        FieldSpec("details.channel", "field_channel", "select", ComplaintChannel),
        FieldSpec("details.category", "field_complaint_category", "select", ComplaintCategory),
        FieldSpec("details.outcome", "field_outcome", "select", ComplaintOutcome),
        FieldSpec("details.summary", "field_summary", "textarea", maxlength=4000),
        DOCUMENT_NO,
    ),
    RecordKind.ABUSE_FINDING: (
        OCCURRED_ON,
        FieldSpec("details.category", "field_abuse_category", "select", AbuseCategory),
        FieldSpec("details.harm", "field_harm", "select", AbuseHarm),
        FieldSpec("details.description", "field_description", "textarea", maxlength=4000),
        DOCUMENT_NO,
        LEGAL_BASIS,
    ),
    RecordKind.PENALTY: (
        OCCURRED_ON,
        FieldSpec("document_no", "field_penalty_document_no", maxlength=100),
        FieldSpec("legal_basis", "field_penalty_legal_basis", "textarea", maxlength=1000),
        FieldSpec("details.violation_type", "field_violation_type", maxlength=500),
        FieldSpec(
            "details.violation_category", "field_violation_category", "select", ViolationCategory
        ),
        FieldSpec("details.violation_facts", "field_violation_facts", "textarea", maxlength=4000),
        FieldSpec("details.penalty_kinds", "field_penalty_kinds", "choices", PenaltyKind),
        FieldSpec("details.content", "field_penalty_content", "textarea", maxlength=4000),
        FieldSpec("details.severity", "field_penalty_severity", "select", PenaltySeverity),
        FieldSpec("details.fine_amount", "field_fine_amount", maxlength=20),
        FieldSpec("details.confiscated_amount", "field_confiscated_amount", maxlength=20),
        FieldSpec("details.licence_affected", "field_licence_affected", maxlength=500),
        FieldSpec("details.valid_until", "field_valid_until", "date"),
        FieldSpec("details.publication_end_date", "field_publication_end_date", "date"),
        FieldSpec("details.authority_name", "field_authority_name", maxlength=200),
        FieldSpec("details.authority_uscc", "field_authority_uscc", maxlength=40),
        FieldSpec("details.data_source", "field_data_source", maxlength=200),
        FieldSpec("details.data_source_uscc", "field_data_source_uscc", maxlength=40),
    ),
    RecordKind.COMMENDATION: (
        OCCURRED_ON,
        FieldSpec("details.title", "field_commendation_title", maxlength=500),
        FieldSpec("details.awarding_body", "field_awarding_body", maxlength=200),
        FieldSpec("details.level", "field_level", "select", CommendationLevel),
        FieldSpec("details.description", "field_description", "textarea", maxlength=4000),
        DOCUMENT_NO,
    ),
}
FORM_KINDS = tuple(KIND_FIELDS)
PRACTITIONER_FIELD = "practitioner_id"  # a person the record also names, where it may


def form_kind(text: str | None) -> RecordKind | None:
    """A kind these forms record, or None (inspections have their own form)."""
    return next((kind for kind in FORM_KINDS if kind.value == text), None)


def field_names(kind: RecordKind) -> list[str]:
    return [spec.name for spec in KIND_FIELDS[kind]]


def values_of_record(record: Record) -> dict[str, Any]:
    """A stored record's form values: text, or a list of codes for boxes."""
    values: dict[str, Any] = {
        "occurred_on": record.occurred_on.isoformat(),
        "document_no": record.document_no or "",
        "legal_basis": record.legal_basis or "",
        PRACTITIONER_FIELD: str(record.practitioner_id) if record.practitioner_id else "",
    }
    stored: dict[str, Any] = msgspec.to_builtins(read_details(record.kind, record.details))
    for name, value in stored.items():
        key = f"details.{name}"
        if isinstance(value, list):
            values[key] = [str(item) for item in value]
        else:
            values[key] = "" if value is None else str(value)
    return values


def check_fields(
    values: Mapping[str, Any], shape: type[Struct], prefix: str, errors: dict[str, str]
) -> None:
    """Each value against its field's type in the API's shape, so every field's problem is
    found at once, in the API's words (msgspec stops at the first)."""
    for info in msgspec.structs.fields(shape):
        name = prefix + info.name
        if info.name not in values:
            if info.required:
                errors.setdefault(name, "is required")
            continue
        try:
            value = msgspec.convert(values[info.name], info.type, strict=False)
        except msgspec.ValidationError as error:
            errors.setdefault(name, str(error).partition(" - at `")[0])
            continue
        if dates_out_of_range(value):
            errors.setdefault(name, DATE_RANGE_MESSAGE)


def present(values: Mapping[str, Any]) -> dict[str, Any]:
    """The filled-in fields: an empty optional field is left out, as an API client would."""
    found: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, list):
            if value:
                found[name] = value
        elif value.strip():
            found[name] = value.strip()
    return found


@dataclass(frozen=True, slots=True)
class BuiltRecord:
    body: RecordIn | None
    errors: dict[str, str]


def build_record(
    kind: RecordKind,
    values: Mapping[str, Any],
    *,
    institution_id: uuid.UUID | None,
    practitioner_id: uuid.UUID | None,
) -> BuiltRecord:
    """The API's body of a kind from its form's values, or the problems by field."""
    errors: dict[str, str] = {}
    envelope = present({
        name: values.get(name, "") for name in ("occurred_on", "document_no", "legal_basis")
        if name in field_names(kind)
    })  # fmt: skip
    check_fields(envelope, RecordBase, "", errors)
    details = present({
        spec.name.removeprefix("details."): values.get(spec.name, [] if spec.widget == "choices" else "")
        for spec in KIND_FIELDS[kind]
        if spec.name.startswith("details.")
    })  # fmt: skip
    check_fields(details, DETAILS_OF_KIND[kind], "details.", errors)
    if errors:
        return BuiltRecord(None, errors)
    body = {
        "kind": kind.value,
        "institution_id": str(institution_id) if institution_id else None,
        "practitioner_id": str(practitioner_id) if practitioner_id else None,
        **envelope,
        "details": details,
    }
    try:
        converted = msgspec.convert(body, BODY_OF_KIND[kind], strict=False)
        return BuiltRecord(cast(RecordIn, converted), {})
    except msgspec.ValidationError as error:
        message, _, where = str(error).partition(" - at `")
        path = where.rstrip("`").removeprefix("$").removeprefix(".") or "form"
        return BuiltRecord(None, {path: message})


def displayed(
    kind: RecordKind, values: Mapping[str, Any], t: Mapping[str, str]
) -> list[tuple[str, str]]:
    """Each filled-in field as a reader sees it: its label and its value's name."""
    rows: list[tuple[str, str]] = []
    for spec in KIND_FIELDS[kind]:
        value = values.get(spec.name)
        if not value:
            continue
        if spec.widget == "select":
            text = t.get(spec.option_prefix + str(value), str(value))
        elif spec.widget == "choices":
            text = "、".join(t.get(spec.option_prefix + str(item), str(item)) for item in value)
        else:
            text = str(value)
        rows.append((t[spec.label], text))
    return rows


def options_words(specs: Sequence[FieldSpec]) -> list[str]:
    """Every option word key the specs need (a test holds the word lists to them)."""
    return [
        spec.option_prefix + option.value
        for spec in specs
        if spec.options
        for option in spec.options
    ]
