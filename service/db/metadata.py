"""Every table module, imported once so SQLModel.metadata knows the whole schema."""

from sqlmodel import SQLModel

from service.audit import models as audit_models
from service.auth import models as auth_models
from service.idempotency import models as idempotency_models
from service.records import models as records_models
from service.registry import models as registry_models

metadata = SQLModel.metadata

__all__ = [
    "audit_models",
    "auth_models",
    "idempotency_models",
    "metadata",
    "records_models",
    "registry_models",
]
