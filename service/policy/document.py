"""The shape of a policy file; loading converts the TOML into these and refuses anything else.

Beyond types, ``Policy.problems()`` checks what types cannot: grades in order, every
class and grade a rule names defined, every ``when`` field a real field of that
record kind, every reason code the service emits defined. Each problem names its key.

Whatever a subject or the public reads by a code (a trigger, an eligibility reason, a
list entry's reason) carries ``title_zh`` and ``title_en``, both required: a policy
without them is refused with the key that lacks one (``$.lists.black.triggers[0]``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import msgspec
from msgspec import Meta, Struct

from service.facts.details import DETAILS_OF_KIND
from service.facts.kinds import PenaltyKind, RecordKind

Months = Annotated[int, Meta(ge=1, le=600)]
WorkingDays = Annotated[int, Meta(ge=1, le=60)]
Points = Annotated[Decimal, Meta(description="points deducted from the starting score")]
Code = Annotated[str, Meta(pattern=r"^[A-Z][A-Z0-9_]{1,63}$")]
Stars = Annotated[int, Meta(ge=0, le=5)]
Title = Annotated[str, Meta(min_length=1, max_length=200)]
Citation = Annotated[str, Meta(min_length=1, max_length=500)]


class ListType(StrEnum):
    BLACK = "black"
    WATCH = "watch"
    RED = "red"


class SubjectType(StrEnum):
    INSTITUTION = "institution"
    PRACTITIONER = "practitioner"


class ReasonEffect(StrEnum):
    ELIGIBLE = "eligible"
    REVIEW = "review"  # eligible, flagged for a person to look at
    INELIGIBLE = "ineligible"


class Titled(Struct, forbid_unknown_fields=True, kw_only=True):
    """What a reader sees by its code, in both languages."""

    title_zh: Title
    title_en: Title

    def title(self, lang: str) -> str:
        return self.title_zh if lang == "zh" else self.title_en


# Reason codes the service itself emits; the policy must define each (title and effect).
SERVICE_REASONS = (
    "ELIGIBLE",
    "GRADE_INELIGIBLE",
    "LISTED_INELIGIBLE",
    "LISTED_REVIEW",
    "EMPLOYS_BARRED_PRACTITIONER",
    "STARS_BELOW_MINIMUM",
    "STARS_SUSPENDED",
    "SUBJECT_KIND_NOT_COVERED",
    "NOT_OPERATING",
)
# List-entry reasons the service's own triggers give; each list must define its own.
SERVICE_LIST_REASONS = {
    "watch": ("WATCH_GRADE", "WATCH_COMPLAINTS", "WATCH_OVERDUE_DEFICIENCY"),
    "red": ("RED_CANDIDATE",),
}


class PolicyMeta(Struct, forbid_unknown_fields=True):
    version: Annotated[str, Meta(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,39}$")]
    effective_from: date
    title: str = ""


class ScoreScale(Struct, forbid_unknown_fields=True):
    start: Points
    floor: Points


class GradeBand(Struct, forbid_unknown_fields=True):
    grade: Annotated[str, Meta(pattern=r"^[A-Z]{1,2}$")]
    min: Points


class MonthsByClass(Struct, forbid_unknown_fields=True):
    """A number of months for each class of violation: minor, general, serious."""

    minor: Months
    general: Months
    serious: Months

    def of(self, name: str) -> int:
        months: int = getattr(self, name)
        return months


class Decay(MonthsByClass, forbid_unknown_fields=True):
    """How many months a negative fact counts, by its class (the credit-repair rules)."""

    def months(self, fact_class: FactClass) -> int:
        return self.of(fact_class.value)


class FactClass(StrEnum):
    MINOR = "minor"
    GENERAL = "general"
    SERIOUS = "serious"


class ScopePoints(Struct, forbid_unknown_fields=True):
    isolated: Points
    pattern: Points
    widespread: Points


class SeverityPoints(Struct, forbid_unknown_fields=True):
    minor: ScopePoints
    general: ScopePoints
    serious: ScopePoints
    critical: ScopePoints


class SeverityClasses(Struct, forbid_unknown_fields=True):
    minor: FactClass
    general: FactClass
    serious: FactClass
    critical: FactClass


RectificationDays = Annotated[int, Meta(ge=1, le=366, description="calendar days")]


class SeverityDays(Struct, forbid_unknown_fields=True):
    minor: RectificationDays
    general: RectificationDays
    serious: RectificationDays
    critical: RectificationDays


class InspectionRules(Struct, forbid_unknown_fields=True):
    points: SeverityPoints
    severity_class: SeverityClasses
    rectified_in_time_factor: Annotated[Decimal, Meta(description="0 to 1")]
    rectified_late_factor: Annotated[Decimal, Meta(description="0 to 1")]
    # The deadline a deficiency gets when the inspector names none: days after the finding.
    rectification_days: SeverityDays

    def default_deadline(self, severity: str, found_on: date) -> date:
        days: int = getattr(self.rectification_days, severity)
        return found_on + timedelta(days=days)

    def points_for(self, severity: str, scope: str) -> Decimal:
        points: Decimal = getattr(getattr(self.points, severity), scope)
        return points

    def class_of(self, severity: str) -> FactClass:
        fact_class: FactClass = getattr(self.severity_class, severity)
        return fact_class


def record_matches(
    rule_kind: RecordKind, when: dict[str, list[str]], kind: str, details: dict[str, object]
) -> bool:
    """A record of ``kind`` matches when every ``when`` field holds an allowed value
    (for a list field, any of its items)."""
    if kind != rule_kind:
        return False
    for field, allowed in when.items():
        value = details.get(field)
        values = value if isinstance(value, list) else [value]
        if not any(str(item) in allowed for item in values if item is not None):
            return False
    return True


class FactRule(Titled, forbid_unknown_fields=True, kw_only=True):
    """Points for a record of one kind whose details match ``when`` (first match wins);
    its titles name it where a point is explained."""

    code: Code
    kind: RecordKind
    points: Points
    fact_class: FactClass = msgspec.field(name="class")
    when: dict[str, list[str]] = msgspec.field(default_factory=dict)
    grade_cap: str | None = None  # while it counts, the grade is at best this one

    def matches(self, kind: str, details: dict[str, object]) -> bool:
        return record_matches(self.kind, self.when, kind, details)


class StarRules(Struct, forbid_unknown_fields=True):
    cap_by_grade: dict[str, Stars] = msgspec.field(default_factory=dict)


class EligibilityRules(Struct, forbid_unknown_fields=True):
    ineligible_grades: list[str] = msgspec.field(default_factory=list)
    operating_statuses: list[str] = msgspec.field(default_factory=lambda: ["operating"])


class Measure(Struct, forbid_unknown_fields=True):
    """What a listing does to a subject, and the published basis it rests on."""

    code: Code
    zh: str
    en: str
    basis: Annotated[str, Meta(min_length=1)]
    subsidy: ReasonEffect | None = None  # how it changes subsidy eligibility
    suspends_stars: bool = False


class Program(Struct, forbid_unknown_fields=True):
    code: Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
    title_zh: str
    title_en: str
    subject_kind: SubjectType
    min_stars: Stars = 0


class Reason(Titled, forbid_unknown_fields=True, kw_only=True):
    """Why an eligibility answer is what it is."""

    effect: ReasonEffect


class ListReason(Titled, forbid_unknown_fields=True, kw_only=True):
    """Why a subject was proposed for a list (its entry's ``reason_code``)."""


class Trigger(Titled, forbid_unknown_fields=True, kw_only=True):
    """A record that, once confirmed, proposes its subjects for a list."""

    code: Code
    kind: RecordKind
    when: dict[str, list[str]] = msgspec.field(default_factory=dict)

    def matches(self, kind: str, details: dict[str, object]) -> bool:
        return record_matches(self.kind, self.when, kind, details)


class RecordCondition(Struct, forbid_unknown_fields=True):
    """Which records count as a kind of fact a rule needs (a substantiated complaint)."""

    kind: RecordKind
    when: dict[str, list[str]] = msgspec.field(default_factory=dict)

    def matches(self, kind: str, details: dict[str, object]) -> bool:
        return record_matches(self.kind, self.when, kind, details)


def _substantiated_complaint() -> RecordCondition:
    # Policies before 2026.4 did not spell the rule out; this is the one they applied.
    return RecordCondition(kind=RecordKind.COMPLAINT, when={"outcome": ["substantiated"]})


class ExternalTrigger(Titled, forbid_unknown_fields=True, kw_only=True):
    """Another department's list entry (as a platform feeds it) that proposes the subject."""

    code: Code
    record_type: Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{1,39}$")]


class ListProcess(Struct, forbid_unknown_fields=True, kw_only=True):
    """Due process shared by every list: windows in Chinese working days, durations, the
    published rules the list rests on, and the reasons a subject may be proposed for."""

    basis: Citation  # cited in every document of the list (民发〔2019〕103号 …)
    duration_months: Months
    objection_working_days: WorkingDays  # the notice period (public notice for the red list)
    publish_within_working_days: WorkingDays
    measures: list[Code]
    reasons: dict[Code, ListReason] = msgspec.field(default_factory=dict)

    def proposal_reasons(self) -> dict[str, Titled]:
        """Every reason an entry of this list may give: its own, and its triggers'."""
        return dict(self.reasons)


class BlackListRules(ListProcess, forbid_unknown_fields=True, kw_only=True):
    repair_after_months: Months
    triggers: list[Trigger] = msgspec.field(default_factory=list)
    external_triggers: list[ExternalTrigger] = msgspec.field(default_factory=list)

    def external_trigger(self, record_type: str) -> ExternalTrigger | None:
        return next((t for t in self.external_triggers if t.record_type == record_type), None)

    @property
    def trigger_codes(self) -> list[str]:
        return [t.code for t in self.triggers] + [t.code for t in self.external_triggers]

    def proposal_reasons(self) -> dict[str, Titled]:
        found: dict[str, Titled] = {t.code: t for t in self.triggers}
        found.update((t.code, t) for t in self.external_triggers)
        return found | dict(self.reasons)


class WatchListRules(ListProcess, forbid_unknown_fields=True, kw_only=True):
    grades: list[str]
    substantiated_complaints: Annotated[int, Meta(ge=1)]
    complaints_window_months: Months
    overdue_deficiency_severities: list[str] = msgspec.field(default_factory=list)


class RedListRules(ListProcess, forbid_unknown_fields=True, kw_only=True):
    grade: str
    grade_months: Months
    min_stars: Stars
    complaint_free_months: Months


class ListRules(Struct, forbid_unknown_fields=True):
    black: BlackListRules
    watch: WatchListRules
    red: RedListRules
    # What the watch list counts and the red list must not have in its window.
    substantiated_complaint: RecordCondition = msgspec.field(
        default_factory=_substantiated_complaint
    )

    def of(self, list_type: str) -> ListProcess:
        process: ListProcess = getattr(self, list_type)
        return process


class Calendar(Struct, forbid_unknown_fields=True):
    """Days off for years the working-day library does not cover yet (the fallback)."""

    holidays: list[date] = msgspec.field(default_factory=list)
    workdays: list[date] = msgspec.field(default_factory=list)  # adjusted weekend workdays


class PublicationMonths(MonthsByClass, forbid_unknown_fields=True):
    """How long a penalty stays published, by the severity its authority classed it."""


class Disclosure(Struct, forbid_unknown_fields=True):
    unpublished_penalty_kinds: frozenset[PenaltyKind]
    publication_months: PublicationMonths

    def months_for(self, severity: str) -> int:
        return self.publication_months.of(severity)

    def is_published(self, kinds: frozenset[PenaltyKind]) -> bool:
        """A penalty is published unless every one of its kinds is exempt (a warning alone)."""
        return not kinds <= self.unpublished_penalty_kinds


class Remedy(Titled, forbid_unknown_fields=True, kw_only=True):
    """A way to challenge a decision against the subject, which that decision must state
    (行政复议, 行政诉讼): the time limit, the body to address and the law."""

    code: Code
    within_days: Annotated[int, Meta(ge=1, le=3650)] | None = None
    within_months: Months | None = None
    body_zh: Title  # whom to address: 本级人民政府, 有管辖权的人民法院
    body_en: Title
    action_zh: Title  # 申请行政复议, 提起行政诉讼
    law: Citation  # 《中华人民共和国行政复议法》第二十条

    @property
    def limit_zh(self) -> str:
        return f"{self.within_days}日" if self.within_days else f"{self.within_months}个月"

    @property
    def limit_en(self) -> str:
        return f"{self.within_days} days" if self.within_days else f"{self.within_months} months"


class Policy(Struct, forbid_unknown_fields=True):
    policy: PolicyMeta
    score: ScoreScale
    grades: list[GradeBand]
    decay: Decay
    inspection: InspectionRules
    rules: list[FactRule]
    stars: StarRules
    eligibility: EligibilityRules
    programs: list[Program]
    reasons: dict[Code, Reason]
    measures: list[Measure]
    lists: ListRules
    calendar: Calendar
    disclosure: Disclosure
    remedies: list[Remedy]

    @property
    def version(self) -> str:
        return self.policy.version

    @property
    def grade_names(self) -> list[str]:
        """Best first."""
        return [band.grade for band in self.grades]

    def grade_for(self, score: Decimal) -> str:
        for band in self.grades:
            if score >= band.min:
                return band.grade
        return self.grades[-1].grade

    def worse(self, first: str, second: str) -> str:
        names = self.grade_names
        return first if names.index(first) >= names.index(second) else second

    def at_least(self, grade: str, target: str) -> bool:
        """Whether ``grade`` is ``target`` or better."""
        return self.grade_names.index(grade) <= self.grade_names.index(target)

    def next_better(self, grade: str) -> GradeBand | None:
        index = self.grade_names.index(grade)
        return self.grades[index - 1] if index > 0 else None

    def program(self, code: str) -> Program | None:
        return next((program for program in self.programs if program.code == code), None)

    def list_reason(self, list_type: str, code: str) -> Titled | None:
        """The title of a list entry's reason; None for a code this policy does not define."""
        return self.lists.of(list_type).proposal_reasons().get(code)

    def measure(self, code: str) -> Measure:
        return next(measure for measure in self.measures if measure.code == code)

    def measures_of(self, list_types: Iterable[str]) -> list[Measure]:
        """The measures the given lists apply, each once, in policy order."""
        codes = {code for list_type in list_types for code in self.lists.of(list_type).measures}
        return [measure for measure in self.measures if measure.code in codes]

    def problems(self) -> list[str]:
        """What the types cannot say is wrong, each naming its key."""
        found: list[str] = []
        names = self.grade_names
        if len(set(names)) != len(names):
            found.append("grades: a grade appears twice")
        minimums = [band.min for band in self.grades]
        if minimums != sorted(minimums, reverse=True):
            found.append("grades: list them best first, each min lower than the one before")
        if self.grades and self.grades[-1].min > self.score.floor:
            found.append("grades: the last grade must cover the floor of the score")
        if self.score.floor >= self.score.start:
            found.append("score.floor: must be below score.start")
        for name in ("rectified_in_time_factor", "rectified_late_factor"):
            if not 0 <= getattr(self.inspection, name) <= 1:
                found.append(f"inspection.{name}: must be from 0 to 1")
        codes = [rule.code for rule in self.rules]
        for index, rule in enumerate(self.rules):
            key = f"rules[{index}]"
            if codes.count(rule.code) > 1:
                found.append(f"{key}.code: {rule.code} is used twice")
            if rule.kind == RecordKind.INSPECTION:
                found.append(f"{key}.kind: inspections are scored by inspection.points")
            if rule.grade_cap is not None and rule.grade_cap not in names:
                found.append(f"{key}.grade_cap: {rule.grade_cap} is not a grade")
            fields = {f.name for f in msgspec.structs.fields(DETAILS_OF_KIND[rule.kind])}
            for field in rule.when:
                if field not in fields:
                    found.append(
                        f"{key}.when.{field}: {rule.kind.value} details have no such field"
                    )
        measure_codes = [measure.code for measure in self.measures]
        if len(set(measure_codes)) != len(measure_codes):
            found.append("measures: a code appears twice")
        for list_type in ListType:
            for code in self.lists.of(list_type).measures:
                if code not in measure_codes:
                    found.append(f"lists.{list_type.value}.measures: {code} is not a measure")
        conditions: list[tuple[str, Trigger | RecordCondition]] = [
            (f"lists.black.triggers[{index}]", trigger)
            for index, trigger in enumerate(self.lists.black.triggers)
        ]
        conditions.append(("lists.substantiated_complaint", self.lists.substantiated_complaint))
        for key, condition in conditions:
            fields = {f.name for f in msgspec.structs.fields(DETAILS_OF_KIND[condition.kind])}
            for field in condition.when:
                if field not in fields:
                    found.append(
                        f"{key}.when.{field}: {condition.kind.value} details have no such field"
                    )
        for grade in [*self.stars.cap_by_grade, *self.eligibility.ineligible_grades]:
            if grade not in names:
                found.append(f"stars/eligibility: {grade} is not a grade")
        for grade in [*self.lists.watch.grades, self.lists.red.grade]:
            if grade not in names:
                found.append(f"lists: {grade} is not a grade")
        program_codes = [program.code for program in self.programs]
        if len(set(program_codes)) != len(program_codes):
            found.append("programs: a code appears twice")
        for code in SERVICE_REASONS:
            if code not in self.reasons:
                found.append(f"reasons.{code}: the service emits it, so define it")
        for list_name, list_codes in SERVICE_LIST_REASONS.items():
            for code in list_codes:
                if code not in self.lists.of(list_name).reasons:
                    found.append(f"lists.{list_name}.reasons.{code}: the service proposes "
                                 "with it, so define it")  # fmt: skip
        black = self.lists.black
        for code in black.reasons:
            if code in black.trigger_codes:
                found.append(f"lists.black.reasons.{code}: a trigger already defines it")
        if not self.remedies:
            found.append("remedies: a decision against the subject must state them; define them")
        for index, remedy in enumerate(self.remedies):
            if (remedy.within_days is None) == (remedy.within_months is None):
                found.append(f"remedies[{index}]: give within_days or within_months, one of them")
        return found
