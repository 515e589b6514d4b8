"""Events the policy store raises, so what shows the policy's words (the public pages'
reason titles) follows a new version without the store knowing who shows them."""

from __future__ import annotations

from dataclasses import dataclass

from service.events import DomainEvent


@dataclass(frozen=True, slots=True)
class PolicyInstalled(DomainEvent):
    """A new policy version was stored (it may take effect now or on a later day)."""

    version: str
