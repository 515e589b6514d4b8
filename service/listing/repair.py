"""Credit repair (信用修复): the conditions a listing must meet to end early, as a pure check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from service.clock import local_date
from service.dates import add_months
from service.listing.models import ListEntry, RepairApplication
from service.policy.document import Policy


@dataclass(frozen=True, slots=True)
class RepairCondition:
    """One of the policy's conditions, checked: ``unmet`` says why when it is not met."""

    code: str  # listed_long_enough, no_new_serious_violation, obligations_fulfilled, ...
    met: bool
    unmet: str = ""
    facts: tuple[str, ...] = ()  # what the unmet text names (months and first day; a count)


def repair_conditions(
    entry: ListEntry,
    application: RepairApplication,
    policy: Policy,
    today: date,
    new_serious_records: int,
) -> list[RepairCondition]:
    """Every condition of the policy, met or not, in the order a reviewer checks them."""
    assert entry.published_at is not None
    months = policy.lists.black.repair_after_months
    earliest = add_months(local_date(entry.published_at), months)
    checks: list[tuple[str, bool, str, tuple[str, ...]]] = [
        (
            "listed_long_enough",
            today >= earliest,
            f"listed for less than {months} months: repair may be granted from {earliest.isoformat()}",
            (str(months), earliest.isoformat()),
        ),
        (
            "no_new_serious_violation",
            not new_serious_records,
            f"{new_serious_records} new serious violations recorded since the listing",
            (str(new_serious_records),),
        ),
        (
            "obligations_fulfilled",
            application.obligations_fulfilled,
            "the legal obligations of the decision are not stated as fulfilled",
            (),
        ),
        (
            "public_commitment",
            bool(application.public_commitment.strip()),
            "no public credit commitment (信用承诺) was given",
            (),
        ),
        (
            "evidence",
            bool(application.evidence.strip()),
            "no evidence of rectification was given",
            (),
        ),
    ]
    return [
        RepairCondition(code, met, "" if met else why, facts) for code, met, why, facts in checks
    ]


def unmet_conditions(
    entry: ListEntry,
    application: RepairApplication,
    policy: Policy,
    today: date,
    new_serious_records: int,
) -> list[str]:
    """Every condition of the policy the application does not meet; empty means it may pass."""
    checked = repair_conditions(entry, application, policy, today, new_serious_records)
    return [condition.unmet for condition in checked if not condition.met]
