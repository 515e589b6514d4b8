"""Credit repair (信用修复): the conditions a listing must meet to end early, as a pure check."""

from __future__ import annotations

from datetime import date

from service.clock import local_date
from service.dates import add_months
from service.listing.models import ListEntry, RepairApplication
from service.policy.document import Policy


def unmet_conditions(
    entry: ListEntry,
    application: RepairApplication,
    policy: Policy,
    today: date,
    new_serious_records: int,
) -> list[str]:
    """Every condition of the policy the application does not meet; empty means it may pass."""
    unmet = []
    assert entry.published_at is not None
    months = policy.lists.black.repair_after_months
    earliest = add_months(local_date(entry.published_at), months)
    if today < earliest:
        unmet.append(
            f"listed for less than {months} months: repair may be granted from {earliest.isoformat()}"
        )
    if new_serious_records:
        unmet.append(f"{new_serious_records} new serious violations recorded since the listing")
    if not application.obligations_fulfilled:
        unmet.append("the legal obligations of the decision are not stated as fulfilled")
    if not application.public_commitment.strip():
        unmet.append("no public credit commitment (信用承诺) was given")
    if not application.evidence.strip():
        unmet.append("no evidence of rectification was given")
    return unmet
