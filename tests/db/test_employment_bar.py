"""The bar on hiring a black-listed practitioner is the hiring command's own rule.

It used to be a subscriber to an event, so a command run with a context that carried no
steps hired anyone. Now the command checks it itself, whatever steps it carries.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import msgspec
import pytest
from factories import institution_body, make_id_number, practitioner_body
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.employment.schemas import EmploymentCreate
from service.employment.service import create_employment
from service.errors import Conflict
from service.events import NO_STEPS
from service.identity.protection import IdNumberVault
from service.listing.models import ListEntry
from service.registry.models import EmploymentRole
from service.registry.schemas import InstitutionCreate, PractitionerCreate
from service.registry.service import create_institution, create_practitioner
from service.secret import Secret
from service.wiring import system_context

pytestmark = pytest.mark.usefixtures("clean_db")


async def test_a_context_without_steps_still_refuses_a_black_listed_practitioner(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    bare = system_context(pipeline=NO_STEPS)
    now = datetime.now(UTC)
    vault = IdNumberVault(Secret("vault-key-" + "x" * 32))
    async with session_factory() as session, session.begin():
        home = await create_institution(
            session, bare, msgspec.convert(institution_body(1), InstitutionCreate)
        )
        person = await create_practitioner(
            session,
            bare,
            vault,
            msgspec.convert(practitioner_body(1, id_number=make_id_number(7)), PractitionerCreate),
        )
        entry = ListEntry(
            list_type="black", subject_kind="practitioner", subject_id=person.id,
            region_code=person.region_code, status="published", reason_code="ABUSE_ACTUAL_HARM",
            basis="查实虐老", effective_from=now.date(), effective_to=now.date() + timedelta(days=1000),
            published_at=now, created_at=now, version=6,
        )  # fmt: skip
        session.add(entry)
    job = EmploymentCreate(
        institution_id=home.id,
        practitioner_id=person.id,
        role=EmploymentRole.CAREGIVER,
        start_date=date.today(),
    )
    with pytest.raises(Conflict, match="black list"):
        async with session_factory() as session, session.begin():
            await create_employment(session, bare, job)
