"""The shape of a policy file; loading converts the TOML into these and refuses anything else."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from msgspec import Meta, Struct

from service.records.kinds import PenaltyKind, PenaltySeverity

Months = Annotated[int, Meta(ge=1, le=600)]


class PolicyMeta(Struct, forbid_unknown_fields=True):
    version: Annotated[str, Meta(min_length=1, max_length=40)]
    effective_from: date
    title: str = ""


class PublicationMonths(Struct, forbid_unknown_fields=True):
    minor: Months
    general: Months
    serious: Months

    def for_severity(self, severity: PenaltySeverity) -> int:
        months: int = getattr(self, severity.value)
        return months


class Disclosure(Struct, forbid_unknown_fields=True):
    unpublished_penalty_kinds: frozenset[PenaltyKind]
    publication_months: PublicationMonths

    def is_published(self, kinds: frozenset[PenaltyKind]) -> bool:
        """A penalty is published unless every one of its kinds is exempt (a warning alone)."""
        return not kinds <= self.unpublished_penalty_kinds


class Policy(Struct, forbid_unknown_fields=True):
    policy: PolicyMeta
    disclosure: Disclosure

    @property
    def version(self) -> str:
        return self.policy.version
