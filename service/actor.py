"""Who is acting: a role and, for regional roles, a jurisdiction (a region-code prefix)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from service.errors import Forbidden, Unauthorized


class Role(StrEnum):
    ADMIN = "admin"
    INSPECTOR = "inspector"
    REVIEWER = "reviewer"
    SUBSIDY_CLIENT = "subsidy_client"


# Roles whose every action is confined to a region-code prefix.
REGIONAL_ROLES = frozenset({Role.INSPECTOR, Role.REVIEWER})
# Who may read regulatory data (the registry, records), and who may write it.
STAFF_ROLES = (Role.ADMIN, Role.INSPECTOR, Role.REVIEWER)
RECORDING_ROLES = (Role.ADMIN, Role.INSPECTOR)


PUBLIC_ROLE = "public"
SYSTEM_ROLE = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: uuid.UUID | None
    role: str
    region_code: str | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.role != PUBLIC_ROLE

    def require_role(self, *roles: Role) -> None:
        """Refuse unless the actor holds one of the roles (the system actor holds all)."""
        if self.role == SYSTEM_ROLE or self.role in roles:
            return
        if not self.is_authenticated:
            raise Unauthorized("this endpoint needs a bearer token")
        allowed = ", ".join(sorted(role.value for role in roles))
        raise Forbidden(f"role {self.role} may not do this; allowed roles: {allowed}")

    @property
    def jurisdiction(self) -> str | None:
        """The region prefix this actor is confined to; None for nationwide roles."""
        return self.region_code if self.role in REGIONAL_ROLES else None

    def covers_region(self, region: str) -> bool:
        """Whether a region code, or a narrower-or-equal prefix, lies inside the jurisdiction."""
        if self.role in REGIONAL_ROLES:
            return self.region_code is not None and region.startswith(self.region_code)
        return True

    def require_region(self, region_code: str) -> None:
        """Inspectors and reviewers act only inside their region prefix."""
        if not self.covers_region(region_code):
            raise Forbidden(
                f"region {region_code} is outside your jurisdiction ({self.region_code})"
            )


ANONYMOUS = Actor(user_id=None, role=PUBLIC_ROLE)
SYSTEM = Actor(user_id=None, role=SYSTEM_ROLE)
