"""Every table module, imported once so SQLModel.metadata knows the whole schema.

At the top of the package, like the app: it names every domain, and only migrations
and tests need it."""

from sqlmodel import SQLModel

from service.audit import models as audit_models
from service.auth import models as auth_models
from service.credit import models as credit_models
from service.eligibility import models as eligibility_models
from service.idempotency import models as idempotency_models
from service.integrations import models as integrations_models
from service.listing import models as listing_models
from service.outbox import models as outbox_models
from service.policy import models as policy_models
from service.public import models as public_models
from service.public import rate_limit as public_rate_models
from service.records import models as records_models
from service.registry import models as registry_models

metadata = SQLModel.metadata

__all__ = [
    "audit_models",
    "auth_models",
    "credit_models",
    "eligibility_models",
    "idempotency_models",
    "integrations_models",
    "listing_models",
    "metadata",
    "outbox_models",
    "policy_models",
    "public_models",
    "public_rate_models",
    "records_models",
    "registry_models",
]
