"""The vocabulary of records: their kinds, statuses and the values each field may take.

Every list of allowed values lives here once; schemas, table constraints, the
spreadsheet import and the policy file all read it from this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RecordKind(StrEnum):
    INSPECTION = "inspection"
    COMPLAINT = "complaint"
    ABUSE_FINDING = "abuse_finding"
    PENALTY = "penalty"
    COMMENDATION = "commendation"


# What a subject reads a record kind as, in the documents written to it.
RECORD_KIND_ZH = {
    RecordKind.INSPECTION: "监督检查",
    RecordKind.COMPLAINT: "投诉核查",
    RecordKind.ABUSE_FINDING: "欺老虐老行为认定",
    RecordKind.PENALTY: "行政处罚",
    RecordKind.COMMENDATION: "表彰奖励",
}


class RecordStatus(StrEnum):
    DRAFT = "draft"
    CONFIRMED = "confirmed"
    SUPERSEDED = "superseded"
    REVOKED = "revoked"


class InspectionType(StrEnum):
    ROUTINE = "routine"
    RANDOM = "random"  # 双随机一公开
    COMPLAINT_TRIGGERED = "complaint_triggered"
    FOLLOW_UP = "follow_up"


class DeficiencySeverity(StrEnum):
    MINOR = "minor"
    GENERAL = "general"
    SERIOUS = "serious"
    CRITICAL = "critical"  # risk to life


class DeficiencyScope(StrEnum):
    ISOLATED = "isolated"
    PATTERN = "pattern"
    WIDESPREAD = "widespread"


class ComplaintChannel(StrEnum):
    HOTLINE_12345 = "hotline_12345"
    PHONE = "phone"
    LETTER = "letter"
    VISIT = "visit"
    ONLINE = "online"
    MEDIA = "media"
    OTHER = "other"


class ComplaintCategory(StrEnum):
    CARE_QUALITY = "care_quality"
    SAFETY = "safety"
    FOOD = "food"
    FEES = "fees"
    STAFF_CONDUCT = "staff_conduct"
    ENVIRONMENT = "environment"
    OTHER = "other"


class ComplaintOutcome(StrEnum):
    SUBSTANTIATED = "substantiated"
    UNSUBSTANTIATED = "unsubstantiated"
    UNFOUNDED = "unfounded"


class AbuseCategory(StrEnum):
    PHYSICAL = "physical"
    PSYCHOLOGICAL = "psychological"
    NEGLECT = "neglect"
    FINANCIAL_EXPLOITATION = "financial_exploitation"


class AbuseHarm(StrEnum):
    ACTUAL = "actual"
    POTENTIAL = "potential"


class PenaltyKind(StrEnum):
    """Kinds of administrative penalty (行政处罚法 Art. 9, as the brief names them)."""

    WARNING = "warning"
    FINE = "fine"
    CONFISCATION = "confiscation"
    SUSPENSION = "suspension"
    LICENCE_REVOCATION = "licence_revocation"
    OTHER = "other"


class ViolationCategory(StrEnum):
    """What a penalised violation was, where the policy's triggers need to know.

    The brief's direct-D facts and black-list triggers (民发〔2019〕103号) name these.
    """

    SUBSIDY_FRAUD = "subsidy_fraud"  # 以虚假材料骗取补贴、挪用资金
    OBSTRUCTING_INSPECTION = "obstructing_inspection"  # 拒绝、阻挠监督检查
    FALSE_INFORMATION = "false_information"  # 提供虚假信息
    ELDER_RIGHTS = "elder_rights"  # 侵害老年人合法权益
    DEFRAUDING_ELDERS = "defrauding_elders"  # 非法集资、欺诈销售
    FIRE_HAZARD_UNCORRECTED = "fire_hazard_uncorrected"  # 重大火灾隐患逾期未改
    SAFETY_ACCIDENT = "safety_accident"  # 安全责任事故
    OUTSIDE_SCOPE = "outside_scope"  # 超出章程或业务范围
    REPORTING = "reporting"  # 未履行年报、信息公开义务
    FEES = "fees"
    STAFFING = "staffing"
    OTHER = "other"


class PenaltySeverity(StrEnum):
    """How the deciding authority classes the violation; sets the publication period."""

    MINOR = "minor"
    GENERAL = "general"
    SERIOUS = "serious"


class CommendationLevel(StrEnum):
    NATIONAL = "national"
    PROVINCIAL = "provincial"
    MUNICIPAL = "municipal"
    COUNTY = "county"


class SubjectKind(StrEnum):
    INSTITUTION = "institution"
    PRACTITIONER = "practitioner"


# (names an institution, names a practitioner)
INSTITUTION_ONLY = (True, False)
PRACTITIONER_ONLY = (False, True)
BOTH = (True, True)


@dataclass(frozen=True, slots=True)
class SubjectRule:
    """Which subjects a record of one kind may name."""

    allowed: frozenset[tuple[bool, bool]]
    description: str

    def allows(self, has_institution: bool, has_practitioner: bool) -> bool:
        return (has_institution, has_practitioner) in self.allowed


SUBJECT_RULES: dict[RecordKind, SubjectRule] = {
    RecordKind.INSPECTION: SubjectRule(frozenset({INSTITUTION_ONLY}), "an institution only"),
    RecordKind.COMPLAINT: SubjectRule(
        frozenset({INSTITUTION_ONLY, BOTH}),
        "an institution, and optionally the practitioner complained of",
    ),
    RecordKind.ABUSE_FINDING: SubjectRule(
        frozenset({INSTITUTION_ONLY, PRACTITIONER_ONLY, BOTH}),
        "an institution, a practitioner, or both",
    ),
    RecordKind.PENALTY: SubjectRule(
        frozenset({INSTITUTION_ONLY, PRACTITIONER_ONLY}),
        "either an institution or a practitioner, not both",
    ),
    RecordKind.COMMENDATION: SubjectRule(
        frozenset({INSTITUTION_ONLY, PRACTITIONER_ONLY}),
        "either an institution or a practitioner, not both",
    ),
}
