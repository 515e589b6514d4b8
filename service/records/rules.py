"""What makes a record acceptable, as pure functions over its body and today's date.

The API and the spreadsheet import both run these, so a rule is written once; each
failure names the field (``details.fine_amount``, ``deficiencies[2].rectified_on``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import msgspec

from service.dates import add_months
from service.errors import FieldError
from service.facts.details import PenaltyDetails
from service.facts.kinds import SUBJECT_RULES, PenaltyKind, RecordKind
from service.identity.codes import IdentifierError, normalize_uscc
from service.policy.document import Policy
from service.records.schemas import InspectionIn, PenaltyIn, RecordBase

MAX_AMOUNT = Decimal("1000000000000")

Fail = Callable[[str, str], None]


def kind_of(body: RecordBase) -> RecordKind:
    return RecordKind(str(body.__struct_config__.tag))


def check_record(body: RecordBase, today: date, prefix: str = "") -> list[FieldError]:
    """Every rule the body breaks; an empty list means it may be stored."""
    errors: list[FieldError] = []

    def fail(field: str, message: str) -> None:
        errors.append(FieldError(prefix + field, message))

    kind = kind_of(body)
    rule = SUBJECT_RULES[kind]
    has_institution, has_practitioner = body.institution_id is not None, body.practitioner_id
    if not rule.allows(has_institution, has_practitioner is not None):
        field = "practitioner_id" if has_practitioner and has_institution else "institution_id"
        fail(field, f"a {kind.value} record names {rule.description}")
    if body.occurred_on > today:
        fail("occurred_on", f"must not be after today ({today.isoformat()})")
    if isinstance(body, InspectionIn):
        _check_deficiencies(body, today, fail)
    if isinstance(body, PenaltyIn):
        _check_penalty(body, fail)
    return errors


def _check_deficiencies(body: InspectionIn, today: date, fail: Fail) -> None:
    for index, deficiency in enumerate(body.deficiencies):
        field = f"deficiencies[{index}]"
        deadline, rectified = deficiency.rectification_deadline, deficiency.rectified_on
        if deadline is not None and deadline < body.occurred_on:
            fail(f"{field}.rectification_deadline", "must not be before the inspection date")
        if rectified is not None and rectified < body.occurred_on:
            fail(f"{field}.rectified_on", "must not be before the inspection date")
        if rectified is not None and rectified > today:
            fail(f"{field}.rectified_on", f"must not be after today ({today.isoformat()})")


def _check_amount(value: Decimal | None, field: str, fail: Fail) -> None:
    if value is None:
        return
    if not value.is_finite() or value < 0 or value > MAX_AMOUNT:
        fail(field, "must be an amount in yuan from 0 to 1,000,000,000,000")
    elif value.as_tuple().exponent < -2:  # type: ignore[operator]
        fail(field, "must have at most 2 decimals (yuan and fen)")


def _check_code(value: str | None, field: str, fail: Fail) -> None:
    if value is None:
        return
    try:
        normalize_uscc(value)
    except IdentifierError as error:
        fail(field, str(error))


def _check_penalty(body: PenaltyIn, fail: Fail) -> None:
    details = body.details
    if body.document_no is None:
        fail("document_no", "a penalty needs its decision document number")
    if body.legal_basis is None:
        fail("legal_basis", "a penalty needs its legal basis")
    if len(set(details.penalty_kinds)) != len(details.penalty_kinds):
        fail("details.penalty_kinds", "must not repeat a kind")
    _check_amount(details.fine_amount, "details.fine_amount", fail)
    _check_amount(details.confiscated_amount, "details.confiscated_amount", fail)
    if PenaltyKind.FINE in details.penalty_kinds and not details.fine_amount:
        fail("details.fine_amount", "a fine needs its amount")
    _check_code(details.authority_uscc, "details.authority_uscc", fail)
    _check_code(details.data_source_uscc, "details.data_source_uscc", fail)
    for name in ("valid_until", "publication_end_date"):
        value = getattr(details, name)
        if value is not None and value < body.occurred_on:
            fail(f"details.{name}", "must not be before the decision date (occurred_on)")


def publication_end(details: PenaltyDetails, decision_date: date, policy: Policy) -> date:
    """The date publication ends: as decided, or by the policy's period for the severity."""
    if details.publication_end_date is not None:
        return details.publication_end_date
    months = policy.disclosure.months_for(details.severity)
    return add_months(decision_date, months)


def stored_details(body: RecordBase, policy: Policy) -> dict[str, Any]:
    """The details as stored: codes normalized, a penalty's publication end filled in."""
    details: Any = body.details  # type: ignore[attr-defined]
    if isinstance(details, PenaltyDetails):
        details = msgspec.structs.replace(
            details,
            authority_uscc=normalize_uscc(details.authority_uscc),
            data_source_uscc=(
                normalize_uscc(details.data_source_uscc) if details.data_source_uscc else None
            ),
            publication_end_date=publication_end(details, body.occurred_on, policy),
        )
    stored: dict[str, Any] = msgspec.to_builtins(details)
    return stored
