"""The due-process state machine of a list entry, as plain data.

    proposed ──notify──► notified ──object──► objected ──uphold──► dismissed
        │                   │                     └──reject──► objection_rejected
        └──withdraw──► dismissed    ├──withdraw──► dismissed          │
                                    └──decide_list / decide_dismiss ◄─┘
                                             │                 │
                                          listed ──publish──► published ──expire / repair / revoke──► ended
                                             └──revoke──► ended           dismissed (decided so)

A transition not in ``TRANSITIONS`` is illegal; the caller hears which actions the
entry's status allows. Who may act, and when (deadlines, four eyes), is checked by
the service; this module only knows which step may follow which.
"""

from __future__ import annotations

from enum import StrEnum

from service.errors import Conflict


class EntryStatus(StrEnum):
    PROPOSED = "proposed"
    NOTIFIED = "notified"
    OBJECTED = "objected"
    OBJECTION_REJECTED = "objection_rejected"
    LISTED = "listed"
    DISMISSED = "dismissed"
    PUBLISHED = "published"
    ENDED = "ended"


class Action(StrEnum):
    PROPOSE = "propose"
    NOTIFY = "notify"
    OBJECT = "object"
    UPHOLD_OBJECTION = "uphold_objection"
    REJECT_OBJECTION = "reject_objection"
    DECIDE_LIST = "decide_list"
    DECIDE_DISMISS = "decide_dismiss"
    WITHDRAW = "withdraw"
    PUBLISH = "publish"
    EXPIRE = "expire"
    REPAIR = "repair"
    REVOKE = "revoke"


S, A = EntryStatus, Action
TRANSITIONS: dict[tuple[EntryStatus, Action], EntryStatus] = {
    (S.PROPOSED, A.NOTIFY): S.NOTIFIED,
    (S.PROPOSED, A.WITHDRAW): S.DISMISSED,
    (S.NOTIFIED, A.OBJECT): S.OBJECTED,
    (S.NOTIFIED, A.DECIDE_LIST): S.LISTED,
    (S.NOTIFIED, A.DECIDE_DISMISS): S.DISMISSED,
    (S.NOTIFIED, A.WITHDRAW): S.DISMISSED,
    (S.OBJECTED, A.UPHOLD_OBJECTION): S.DISMISSED,
    (S.OBJECTED, A.REJECT_OBJECTION): S.OBJECTION_REJECTED,
    (S.OBJECTION_REJECTED, A.DECIDE_LIST): S.LISTED,
    (S.OBJECTION_REJECTED, A.DECIDE_DISMISS): S.DISMISSED,
    (S.LISTED, A.PUBLISH): S.PUBLISHED,
    (S.LISTED, A.REVOKE): S.ENDED,
    (S.PUBLISHED, A.EXPIRE): S.ENDED,
    (S.PUBLISHED, A.REPAIR): S.ENDED,
    (S.PUBLISHED, A.REVOKE): S.ENDED,
}
# Statuses in which an entry is still open: no second entry of its list for its subject.
OPEN = frozenset({S.PROPOSED, S.NOTIFIED, S.OBJECTED, S.OBJECTION_REJECTED, S.LISTED, S.PUBLISHED})
# How an entry ended, by the action that ended it.
END_REASONS = {A.EXPIRE: "expired", A.REPAIR: "repaired", A.REVOKE: "revoked"}
# The steps that publish an entry or end a published one: what the public and the
# platforms see change.
DISCLOSING = frozenset({A.PUBLISH, A.EXPIRE, A.REPAIR, A.REVOKE})


def allowed(status: EntryStatus) -> list[Action]:
    return [action for (source, action) in TRANSITIONS if source == status]


def next_status(status: EntryStatus, action: Action) -> EntryStatus:
    """The status after ``action``, or a Conflict naming the actions the status allows."""
    target = TRANSITIONS.get((status, action))
    if target is None:
        options = ", ".join(a.value for a in allowed(status)) or "none: the entry is closed"
        raise Conflict(f"an entry that is {status.value} cannot {action.value}; allowed: {options}")
    return target
