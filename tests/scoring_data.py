"""Random policies and random facts over five years, for the tests that hold the engine
and the SQL evaluator to one answer (the parity test, the scoring split).

A policy is drawn within what the policy model validates (every drawn policy passes
the same checks a policy file does) with decay windows of at most four years, and
facts happen over five years, so every window expires inside the years asked about.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import msgspec.inspect
import sqlalchemy as sa
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncConnection

from service.clock import Moment, local_date, start_of_local_day
from service.dates import add_months
from service.facts.details import DETAILS_OF_KIND
from service.facts.kinds import DeficiencyScope, DeficiencySeverity, RecordKind
from service.policy.document import (
    Decay,
    FactClass,
    FactRule,
    GradeBand,
    InspectionRules,
    Policy,
    ScopePoints,
    ScoreScale,
    SeverityClasses,
    SeverityPoints,
    StarRules,
)
from service.policy.load import shipped_policy
from service.records.models import Deficiency, Record
from service.registry.models import Institution, Practitioner

FIRST_DAY = date(2021, 1, 1)
YEARS = 5
LAST_DAY = date(FIRST_DAY.year + YEARS, 1, 1) - timedelta(days=1)
LONGEST_WINDOW = 48  # months: a fact of the first year stops counting inside the range
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
GRADE_NAMES = ("A", "B", "C", "D", "E")
STRING_VALUES = ("a", "b")  # the values drawn for free-text fields a rule may name

Stored = tuple[dict[str, Any], list[dict[str, Any]]]


def _values(declared: msgspec.inspect.Type) -> tuple[list[str], bool, bool] | None:
    """What a detail field may hold, for fields a rule can match on: (values, is a
    list, may be null); None for fields of other types (dates, amounts)."""
    optional = False
    if isinstance(declared, msgspec.inspect.UnionType):
        members = [t for t in declared.types if not isinstance(t, msgspec.inspect.NoneType)]
        if len(members) != 1:
            return None
        declared, optional = members[0], True
    while isinstance(declared, msgspec.inspect.Metadata):
        declared = declared.type
    is_list = isinstance(declared, msgspec.inspect.ListType)
    item = declared.item_type if isinstance(declared, msgspec.inspect.ListType) else declared
    while isinstance(item, msgspec.inspect.Metadata):
        item = item.type
    if isinstance(item, msgspec.inspect.EnumType):
        return [member.value for member in item.cls], is_list, optional
    if isinstance(item, msgspec.inspect.StrType):
        return list(STRING_VALUES), is_list, optional
    return None


def matchable_fields(kind: RecordKind) -> dict[str, tuple[list[str], bool, bool]]:
    """The detail fields of a kind with the values they may hold, as the details declare."""
    declared = msgspec.inspect.type_info(DETAILS_OF_KIND[kind])
    assert isinstance(declared, msgspec.inspect.StructType)
    found = {}
    for field in declared.fields:
        values = _values(field.type)
        if values is not None:
            found[field.name] = values
    return found


def coded_fields(kind: RecordKind) -> list[str]:
    """The fields that hold codes (enumerations, alone or in a list): what rules name."""
    return sorted(
        name
        for name, (values, _, _) in matchable_fields(kind).items()
        if values != list(STRING_VALUES)
    )


RULED_KINDS = sorted(kind for kind in RecordKind if kind != RecordKind.INSPECTION)

# Per kind and field, the few values one example uses, so that rules and records meet.
Vocabulary = dict[RecordKind, dict[str, list[str]]]


@st.composite
def vocabularies(draw: st.DrawFn) -> Vocabulary:
    return {
        kind: {
            name: draw(st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True))
            for name, (values, _, _) in matchable_fields(kind).items()
        }
        for kind in DETAILS_OF_KIND
    }


@st.composite
def details(draw: st.DrawFn, kind: RecordKind, vocabulary: Vocabulary) -> dict[str, Any]:
    """Stored details of a kind: each field a value it may hold, null, or absent."""
    found: dict[str, Any] = {}
    for name, (_, is_list, optional) in matchable_fields(kind).items():
        values = vocabulary[kind][name]
        if draw(st.integers(0, 9)) == 0:
            continue  # absent, as in details stored before the field existed
        if optional and draw(st.integers(0, 3)) == 0:
            found[name] = None
        elif is_list:
            found[name] = draw(st.lists(st.sampled_from(values), min_size=1, max_size=3))
        else:
            found[name] = draw(st.sampled_from(values))
    return found


# Now and then nothing: a fact that costs no points but may still cap the grade.
points = st.integers(0, 9).flatmap(
    lambda n: st.just(Decimal(0)) if n == 0 else st.decimals(0, 150, places=2)
)
factors = st.decimals(0, 1, places=3)
classes = st.sampled_from(list(FactClass))


@st.composite
def rules(draw: st.DrawFn, grades: list[str], vocabulary: Vocabulary) -> list[FactRule]:
    drawn = []
    for index in range(draw(st.integers(0, 10))):
        # Penalties most often: the kind with the most fields to match, one a list.
        kind = draw(st.sampled_from(RULED_KINDS) | st.just(RecordKind.PENALTY))
        when = {}
        for name in draw(st.lists(st.sampled_from(coded_fields(kind)), max_size=2, unique=True)):
            values = vocabulary[kind][name]
            allowed = draw(st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True))
            # Now and then a value no record holds, or none at all (a rule that never matches).
            odd = draw(st.integers(0, 9))
            when[name] = [] if odd == 0 else [*allowed, "none_such"] if odd == 1 else allowed
        drawn.append(
            FactRule(
                code=f"RULE_{index}",
                kind=kind,
                points=draw(points),
                fact_class=draw(classes),
                when=when,
                grade_cap=draw(st.none() | st.sampled_from(grades)),
                title_zh=f"规则{index}",
                title_en=f"Rule {index}",
            )
        )
    return drawn


@st.composite
def policies(draw: st.DrawFn, vocabulary: Vocabulary) -> Policy:
    """A policy the policy model accepts, every number of its scoring model drawn."""
    shipped = shipped_policy()
    # A floor well below the start, mostly: a score held at the floor hides what counts.
    start = draw(st.decimals(1, 1000, places=2))
    floor = draw(
        st.decimals(-20, start - Decimal("0.01"), places=2) | st.decimals(-20, start / 4, places=2)
    )
    names = list(GRADE_NAMES[: draw(st.integers(1, len(GRADE_NAMES)))])
    minimums = sorted(
        draw(st.lists(st.decimals(floor, start + 5, places=2), min_size=len(names) - 1,
                      max_size=len(names) - 1)),
        reverse=True,
    )  # fmt: skip
    minimums.append(draw(st.decimals(floor - 10, floor, places=2)))
    grid = {
        severity.value: ScopePoints(**{scope.value: draw(points) for scope in DeficiencyScope})
        for severity in DeficiencySeverity
    }
    policy = msgspec.structs.replace(
        shipped,
        score=ScoreScale(start=start, floor=floor),
        grades=[GradeBand(grade=name, min=low) for name, low in zip(names, minimums, strict=True)],
        decay=Decay(*(draw(st.integers(1, LONGEST_WINDOW)) for _ in range(3))),
        inspection=InspectionRules(
            points=SeverityPoints(**grid),
            severity_class=SeverityClasses(
                **{severity.value: draw(classes) for severity in DeficiencySeverity}
            ),
            rectified_in_time_factor=draw(factors),
            rectified_late_factor=draw(factors),
            rectification_days=shipped.inspection.rectification_days,  # scores read no default
        ),
        rules=draw(rules(names, vocabulary)),
        # What names grades outside the scoring model, made to name the drawn ones.
        stars=StarRules(cap_by_grade={names[-1]: 1}),
        eligibility=msgspec.structs.replace(shipped.eligibility, ineligible_grades=names[-1:]),
        lists=msgspec.structs.replace(
            shipped.lists,
            watch=msgspec.structs.replace(shipped.lists.watch, grades=names[-1:]),
            red=msgspec.structs.replace(shipped.lists.red, grade=names[0]),
        ),
    )
    # Through the same checks a policy file passes: types and bounds, then the rest.
    checked = msgspec.convert(msgspec.to_builtins(policy), Policy)
    assert checked.problems() == [], checked.problems()
    return checked


def _days(start: date, end: date) -> st.SearchStrategy[date]:
    """Any day in the range, month ends (where adding months clamps) drawn often."""
    month_ends = [
        add_months(date(year, month, 1), 1) - timedelta(days=1)
        for year in range(start.year, end.year + 1)
        for month in range(1, 13)
    ]
    ends = [day for day in month_ends if start <= day <= end]
    return st.dates(start, end) | st.sampled_from(ends)


def _instant(draw: st.DrawFn, day: date, max_days: int) -> datetime:
    """A moment within ``max_days`` after the start of ``day`` in China."""
    return start_of_local_day(day) + timedelta(minutes=draw(st.integers(0, max_days * 24 * 60)))


@st.composite
def histories(
    draw: st.DrawFn,
    homes: list[uuid.UUID],
    people: list[uuid.UUID],
    vocabulary: Vocabulary,
    ruled: list[RecordKind],
    max_size: int = 30,
) -> list[Stored]:
    """Records of the subjects: spread over all five years, or over a year or a season of
    them (so that many count at once and their windows end close together); of any
    kind, often an inspection or of a kind the policy's rules name."""
    span = draw(st.sampled_from([90, 365, (LAST_DAY - FIRST_DAY).days]))
    first = draw(st.dates(FIRST_DAY, LAST_DAY - timedelta(days=span)))
    last = first + timedelta(days=span)
    kinds = st.sampled_from(sorted(DETAILS_OF_KIND)) | st.just(RecordKind.INSPECTION)
    if ruled:
        kinds = kinds | st.sampled_from(sorted(set(ruled)))
    records = stored_records(homes, people, first, last, vocabulary, kinds)
    return draw(st.lists(records, min_size=min(4, max_size), max_size=max_size))


@st.composite
def scenarios(
    draw: st.DrawFn, homes: list[uuid.UUID], people: list[uuid.UUID], max_records: int = 30
) -> tuple[Policy, list[Stored]]:
    """A policy and the subjects' records, drawn from one vocabulary of detail values."""
    vocabulary = draw(vocabularies())
    policy = draw(policies(vocabulary))
    ruled = [rule.kind for rule in policy.rules]
    return policy, draw(histories(homes, people, vocabulary, ruled, max_records))


@st.composite
def stored_records(
    draw: st.DrawFn,
    homes: list[uuid.UUID],
    people: list[uuid.UUID],
    first: date,
    last: date,
    vocabulary: Vocabulary,
    kinds: st.SearchStrategy[RecordKind],
) -> Stored:
    """One record as it is stored once confirmed (perhaps corrected or revoked since),
    with its deficiencies: any subject, any day from ``first`` to ``last``."""
    kind = draw(kinds)
    occurred = draw(_days(first, last))
    confirmed = _instant(draw, occurred, 60)
    inspection = kind == RecordKind.INSPECTION
    home = draw(st.sampled_from(homes)) if inspection else draw(st.sampled_from([*homes, None]))
    person = None if inspection else draw(st.sampled_from([*people, None]))
    if home is None and person is None:
        home = homes[0]
    ending = draw(st.sampled_from([None, "superseded", "revoked"]))
    ended = confirmed + timedelta(minutes=draw(st.integers(1, 400 * 24 * 60)))
    record_id = uuid.uuid4()
    record = {
        "id": record_id, "kind": kind.value, "status": ending or "confirmed", "chain_id": record_id,
        "institution_id": home, "practitioner_id": person, "region_code": "330522",
        "occurred_on": occurred, "details": draw(details(kind, vocabulary)), "version": 2,
        "recorded_at": confirmed, "updated_at": confirmed, "confirmed_at": confirmed,
        "superseded_at": ended if ending == "superseded" else None,
        "revoked_at": ended if ending == "revoked" else None,
        "revocation_reason": "x" if ending == "revoked" else None,
    }  # fmt: skip
    deficiencies = []
    for position in range(1, (draw(st.integers(1, 3)) if inspection else 0) + 1):
        deadline = draw(st.none() | _days(occurred, occurred + timedelta(days=120)))
        # Mostly within a season, as deadlines are; now and then much later.
        soon, late = (_days(occurred, occurred + timedelta(days=days)) for days in (120, 400))
        rectified = draw(st.none() | soon | late)
        if deadline is not None and rectified is not None and draw(st.booleans()):
            edge = deadline + timedelta(days=draw(st.integers(-1, 1)))
            rectified = max(occurred, edge)  # on the deadline or a day either side
        deficiencies.append(
            {
                "id": uuid.uuid4(), "record_id": record_id, "position": position, "item": "x",
                "severity": draw(st.sampled_from(list(DeficiencySeverity))).value,
                "scope": draw(st.sampled_from(list(DeficiencyScope))).value,
                "rectification_deadline": deadline,
                "rectified_on": rectified,
                "rectification_recorded_at": (
                    _instant(draw, rectified, 60) if rectified else None
                ),
            }
        )  # fmt: skip
    return record, deficiencies


def _instants(stored: list[Stored]) -> list[list[datetime]]:
    """When something became known: records confirmed, corrected or revoked; and
    rectifications recorded (fewer, so drawn from a list of their own)."""
    records = [
        instant
        for record, _ in stored
        for instant in (record["confirmed_at"], record["superseded_at"], record["revoked_at"])
        if instant is not None
    ]
    rectified = [
        row["rectification_recorded_at"]
        for _, deficiencies in stored
        for row in deficiencies
        if row["rectification_recorded_at"] is not None
    ]
    return [found for found in (records, rectified) if found]


@st.composite
def moments(draw: st.DrawFn, policy: Policy, stored: list[Stored]) -> Moment:
    """A day of the five years (and the year after) and what was known around its end;
    often a day a drawn fact counts on or the day it stops (or the day either side), or
    known just before, at or after an instant something became known (a record
    confirmed, corrected or revoked, a rectification recorded), asked about that day."""
    how = draw(st.sampled_from(["boundary", "while counting", "as it became known", "any day"]))
    if not stored or how == "any day":
        as_of = draw(st.dates(FIRST_DAY, LAST_DAY + timedelta(days=366)))
        return Moment(as_of, _around_end_of(draw, as_of))
    if how == "as it became known":
        instant = draw(st.sampled_from(draw(st.sampled_from(_instants(stored)))))
        as_of = local_date(instant) + timedelta(days=draw(st.integers(-2, 2)))
        just = draw(st.sampled_from([-1, -1, 0, 1]))  # before it, mostly: not yet known
        return Moment(as_of, instant + timedelta(microseconds=just))
    record, _ = draw(st.sampled_from(stored))
    occurred = record["occurred_on"]
    windows = [policy.decay.minor, policy.decay.general, policy.decay.serious]
    if how == "boundary":
        as_of = add_months(occurred, draw(st.sampled_from(windows)))
        as_of += timedelta(days=draw(st.integers(-1, 1)))
    else:
        as_of = draw(st.dates(occurred, add_months(occurred, max(windows))))
    return Moment(as_of, _around_end_of(draw, as_of))


def _around_end_of(draw: st.DrawFn, as_of: date) -> datetime:
    """Within sixty days either side of the end of ``as_of`` in China."""
    minutes = draw(st.integers(-60 * 24 * 60, 60 * 24 * 60))
    return start_of_local_day(as_of + timedelta(days=1)) + timedelta(minutes=minutes)


async def insert_subjects(
    connection: AsyncConnection, homes: list[uuid.UUID], people: list[uuid.UUID]
) -> None:
    if homes:
        await connection.execute(
            sa.insert(Institution),
            [
                {
                    "id": home,
                    "name": f"院{n}",
                    "uscc": f"U{n}",
                    "region_code": "330522",
                    "kind": "residential",
                    "beds": 10,
                    "address": "",
                    "status": "operating",
                    "version": 1,
                    "created_at": EPOCH,
                    "updated_at": EPOCH,
                }
                for n, home in enumerate(homes)
            ],
        )
    if people:
        await connection.execute(
            sa.insert(Practitioner),
            [
                {
                    "id": person,
                    "name": f"人{n}",
                    "id_number_hash": f"h{n}",
                    "id_number_masked": "m",
                    "id_number_encrypted": "e",
                    "region_code": "330522",
                    "status": "active",
                    "version": 1,
                    "created_at": EPOCH,
                    "updated_at": EPOCH,
                }
                for n, person in enumerate(people)
            ],
        )


LIFECYCLE = ("status", "confirmed_at", "superseded_at", "revoked_at", "revocation_reason")


async def insert_records(connection: AsyncConnection, stored: list[Stored]) -> None:
    """The way records really get there: drafts with their deficiencies, then confirmed,
    then (for some) superseded or revoked; the guard triggers allow no other."""
    drafts = [{**r, **dict.fromkeys(LIFECYCLE), "status": "draft"} for r, _ in stored]
    if drafts:
        await connection.execute(sa.insert(Record), drafts)
    rows = [row for _, found in stored for row in found]
    if rows:
        await connection.execute(sa.insert(Deficiency), rows)
    for record, _ in stored:
        confirm = {"status": "confirmed", "confirmed_at": record["confirmed_at"]}
        ending = {name: record[name] for name in LIFECYCLE if name != "confirmed_at"}
        for values in (confirm, ending) if record["status"] != "confirmed" else (confirm,):
            await connection.execute(
                sa.update(Record).where(Record.id == record["id"]).values(**values)
            )
