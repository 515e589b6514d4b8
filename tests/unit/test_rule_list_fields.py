"""A rule names a detail field; the SQL evaluator matches it element by element when the
field is declared as an array, as the engine does, and as a whole value otherwise."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from service.credit.bulk import array_fields
from service.facts.details import DETAILS_OF_KIND
from service.facts.kinds import PenaltyKind, RecordKind


class Declared(msgspec.Struct):
    kinds: list[PenaltyKind]
    bounded: Annotated[list[str], Meta(min_length=1, max_length=6)]
    optional: list[str] | None = None
    as_tuple: tuple[str, ...] = ()
    as_set: frozenset[str] = frozenset()
    described: Annotated[str, Meta(description="one of list[str] joined by commas")] = ""
    plain: str = ""


def test_array_fields_are_the_fields_declared_as_arrays() -> None:
    assert array_fields(Declared) == {"kinds", "bounded", "optional", "as_tuple", "as_set"}


def test_the_record_kinds_array_fields() -> None:
    found = {kind: array_fields(details) for kind, details in DETAILS_OF_KIND.items()}
    assert found == {
        RecordKind.INSPECTION: {"inspectors"},
        RecordKind.COMPLAINT: set(),
        RecordKind.ABUSE_FINDING: set(),
        RecordKind.PENALTY: {"penalty_kinds"},
        RecordKind.COMMENDATION: set(),
    }
