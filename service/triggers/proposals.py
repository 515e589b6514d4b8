"""Proposals the policy makes by itself: from records as they are confirmed, and daily scans.

- A confirmed record that matches a black-list trigger (abuse with actual harm, a
  penalty for one of the grounds of 民发〔2019〕103号) proposes every subject it names.
- After the scores are updated, a subject whose grade is on the watch list's grades,
  or with enough substantiated complaints in the window, is proposed for the watch list.
- Daily: subjects with a serious deficiency left unrectified past its deadline (watch
  list), and institutions that meet the red list's conditions (red list).

A subject with an open entry of the list is not proposed again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.clock import Moment
from service.context import CommandContext
from service.credit.models import CreditScore
from service.dates import add_months, months_before
from service.listing.documents import record_facts_zh
from service.listing.schemas import ProposalIn
from service.listing.service import propose_unless_open
from service.policy.document import ListType, Policy, RecordCondition, SubjectType
from service.policy.store import policy_now
from service.records.events import RecordConfirmed, RecordCorrected, RecordEvent
from service.records.models import Deficiency, Record
from service.standing.lists import lists_in_force
from service.standing.stars import effective_stars, levels_in_force

SubjectKey = tuple[str, uuid.UUID]


def records_matching(condition: RecordCondition) -> sa.ColumnElement[bool]:
    """The SQL twin of ``RecordCondition.matches``: the record's kind, and each ``when``
    field holding one of its allowed values (for a list field, any of its items)."""
    clauses = [col(Record.kind) == condition.kind.value]
    for field, allowed in condition.when.items():
        clauses.append(
            col(Record.details)[field].has_any(sa.cast(sa.literal(allowed), ARRAY(sa.Text)))
        )
    return sa.and_(*clauses)


def substantiated_complaints(policy: Policy, since: date) -> sa.ColumnElement[bool]:
    """Confirmed records the policy counts as substantiated complaints, from ``since`` on."""
    return sa.and_(
        records_matching(policy.lists.substantiated_complaint),
        col(Record.status) == "confirmed",
        col(Record.occurred_on) >= since,
    )


def _proposal(list_type: ListType, key: SubjectKey, code: str, basis: str) -> ProposalIn:
    return ProposalIn(
        list_type=list_type,
        subject_kind=SubjectType(key[0]),
        subject_id=key[1],
        reason_code=code,
        basis=basis[:2000],
    )


async def on_records(
    session: AsyncSession, ctx: CommandContext, events: Sequence[RecordEvent]
) -> None:
    """Subscriber: run the record-driven triggers in the transaction of the records."""
    policy = await policy_now(session, ctx)
    added = [e.record_id for e in events if isinstance(e, RecordConfirmed | RecordCorrected)]
    if not added:
        return
    records = (await session.execute(sa.select(Record).where(col(Record.id).in_(added)))).scalars()
    subjects: dict[SubjectKey, None] = {}
    for record in records:
        named: list[SubjectKey] = []
        if record.institution_id:
            named.append(("institution", record.institution_id))
        if record.practitioner_id:
            named.append(("practitioner", record.practitioner_id))
        subjects.update(dict.fromkeys(named))
        trigger = next(
            (t for t in policy.lists.black.triggers if t.matches(record.kind, record.details)),
            None,
        )
        if trigger is None:
            continue
        basis = f"{trigger.title_zh}：{record_facts_zh(record)}"
        for key in named:
            await propose_unless_open(
                session,
                ctx,
                _proposal(ListType.BLACK, key, trigger.code, basis),
                trigger_record_id=record.id,
            )
    await _watch_by_grade_and_complaints(session, ctx, policy, list(subjects))


async def _watch_by_grade_and_complaints(
    session: AsyncSession, ctx: CommandContext, policy: Policy, keys: list[SubjectKey]
) -> None:
    rules = policy.lists.watch
    ids = [subject_id for _, subject_id in keys]
    grades = {
        (kind, subject_id): grade
        for kind, subject_id, grade in await session.execute(
            sa.select(col(CreditScore.subject_kind), col(CreditScore.subject_id), col(CreditScore.grade))
            .where(col(CreditScore.subject_id).in_(ids))
        )
    }  # fmt: skip
    since = add_months(ctx.today(), -rules.complaints_window_months)
    complaints = {
        subject_id: count
        for subject_id, count in await session.execute(
            sa.select(col(Record.institution_id), sa.func.count())
            .where(
                col(Record.institution_id).in_(ids),
                substantiated_complaints(policy, since),
            )
            .group_by(col(Record.institution_id))
        )
    }  # fmt: skip
    for key in keys:
        grade = grades.get(key)
        if grade in rules.grades:
            basis = f"credit grade {grade} (watch-list grades: {', '.join(rules.grades)})"
            await propose_unless_open(
                session, ctx, _proposal(ListType.WATCH, key, "WATCH_GRADE", basis)
            )
            continue
        count = complaints.get(key[1], 0) if key[0] == "institution" else 0
        if count >= rules.substantiated_complaints:
            basis = (
                f"{count} substantiated complaints since {since.isoformat()} "
                f"(threshold {rules.substantiated_complaints} in {rules.complaints_window_months} months)"
            )
            await propose_unless_open(
                session, ctx, _proposal(ListType.WATCH, key, "WATCH_COMPLAINTS", basis)
            )


async def overdue_deficiencies(session: AsyncSession, ctx: CommandContext) -> int:
    """Daily: propose for the watch list every institution with a serious deficiency past
    its rectification deadline and still not rectified."""
    policy = await policy_now(session, ctx)
    severities = policy.lists.watch.overdue_deficiency_severities
    if not severities:
        return 0
    rows = await session.execute(
        sa.select(
            col(Record.institution_id),
            sa.func.min(col(Deficiency.rectification_deadline)),
            sa.func.count(),
        )
        .join(Record, col(Record.id) == col(Deficiency.record_id))
        .where(
            col(Record.status) == "confirmed",
            col(Record.kind) == "inspection",
            col(Deficiency.severity).in_(severities),
            col(Deficiency.rectification_deadline) < ctx.today(),
            col(Deficiency.rectified_on).is_(None),
        )
        .group_by(col(Record.institution_id))
    )
    proposed = 0
    for institution_id, oldest, count in rows.all():
        if institution_id is None:
            continue
        basis = f"{count} serious deficiencies unrectified past their deadline (the oldest since {oldest})"
        entry = await propose_unless_open(
            session,
            ctx,
            _proposal(
                ListType.WATCH, ("institution", institution_id), "WATCH_OVERDUE_DEFICIENCY", basis
            ),
        )
        proposed += entry is not None
    return proposed


async def red_list_candidates(session: AsyncSession, ctx: CommandContext) -> int:
    """Daily: institutions at the red list's grade for its months running, with enough
    effective stars and no substantiated complaint in its window."""
    policy = await policy_now(session, ctx)
    rules = policy.lists.red
    now = ctx.now()
    since = months_before(now, rules.grade_months)
    complaint_free_since = add_months(ctx.today(), -rules.complaint_free_months)
    candidates = await session.execute(
        sa.text(
            """
            SELECT i.id FROM institutions i
            JOIN credit_scores cs ON cs.subject_kind = 'institution' AND cs.subject_id = i.id
            WHERE cs.grade = :grade AND i.status = 'operating'
              AND COALESCE(
                    (SELECT min(h.computed_at) FROM credit_score_history h
                     WHERE h.subject_kind = 'institution' AND h.subject_id = i.id
                       AND h.grade = :grade
                       AND h.computed_at > COALESCE(
                           (SELECT max(n.computed_at) FROM credit_score_history n
                            WHERE n.subject_kind = 'institution' AND n.subject_id = i.id
                              AND n.grade <> :grade), '-infinity')),
                    i.created_at) <= :since
              AND NOT EXISTS (
                    SELECT 1 FROM credit_score_history n
                    WHERE n.subject_kind = 'institution' AND n.subject_id = i.id
                      AND n.grade <> :grade AND n.computed_at > :since)
            """
        ),
        {"grade": rules.grade, "since": since},
    )
    at_grade = [row[0] for row in candidates]
    complained_of = set(
        (
            await session.execute(
                sa.select(col(Record.institution_id)).where(
                    col(Record.institution_id).in_(at_grade),
                    substantiated_complaints(policy, complaint_free_since),
                )
            )
        ).scalars()
    )
    ids = [institution_id for institution_id in at_grade if institution_id not in complained_of]
    moment = Moment.of(ctx.today(), now)
    levels = await levels_in_force(session, ids, moment)
    listed = await lists_in_force(session, [("institution", i) for i in ids], moment)
    proposed = 0
    for institution_id in ids:
        lists = [entry.list_type for entry in listed.get(("institution", institution_id), [])]
        stars = effective_stars(levels.get(institution_id), rules.grade, lists, policy)
        if (stars.effective or 0) < rules.min_stars:
            continue
        basis = (
            f"grade {rules.grade} for {rules.grade_months} months running, "
            f"{stars.effective} stars, no substantiated complaint since {complaint_free_since}"
        )
        entry = await propose_unless_open(
            session,
            ctx,
            _proposal(ListType.RED, ("institution", institution_id), "RED_CANDIDATE", basis),
        )
        proposed += entry is not None
    return proposed
