"""The demo province, as a user of `make run` meets it: reproducible, codes the real
validators accept, people and homes that look real, and records of every kind that the
records API would take. (That seeding publishes lists is checked by tests/api/test_public.py
on the seeded demo, and that it stores every kind by tests/db/test_cli.py.)"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date
from functools import cache

import msgspec
import pytest
from stdnum import numdb

from service.demo.province import REFERENCE_DATE, DemoProvince, generate_demo_province
from service.demo.records import generate_demo_records
from service.facts.kinds import RecordKind
from service.identity.codes import normalize_id_number, normalize_uscc
from service.records.rules import check_record
from service.records.schemas import RecordIn


@cache
def province(seed: int = 1, code: str = "33") -> DemoProvince:
    # Generated once per argument set: the tests only read it.
    return generate_demo_province(seed, province_code=code)


def current_county_name(code: str) -> str | None:
    """The county's name today per stdnum, or None if the code is unknown or retired."""
    props = {k: v for _, part in numdb.get("cn/loc").info(code) for k, v in part.items()}
    if "county" not in props:
        return None
    latest = props["county"].split(",")[-1]
    if not latest.startswith("["):
        return latest
    span, name = latest[1:].split("]", 1)
    return name if span.endswith("-") else None


def age_on(day: date, id_number: str) -> int:
    born = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def test_a_seed_always_gives_the_same_province_of_the_documented_size() -> None:
    assert generate_demo_province(7) == generate_demo_province(7)
    first, second = province(1), province(2)
    assert {i.uscc for i in first.institutions}.isdisjoint(i.uscc for i in second.institutions)
    assert (first.province_code, len(first.institutions), len(first.practitioners)) == (
        "33",
        300,
        3000,
    )
    with pytest.raises(ValueError, match="province_code"):
        generate_demo_province(province_code="99")
    with pytest.raises(ValueError, match="two practitioners"):
        generate_demo_province(institutions=10, practitioners=19)


@pytest.mark.parametrize("code", ["33", "11", "44"])
def test_every_code_passes_the_real_validators(code: str) -> None:
    demo = province(1, code)
    usccs = [i.uscc for i in demo.institutions]
    numbers = [p.id_number for p in demo.practitioners]
    assert all(normalize_uscc(uscc) == uscc for uscc in usccs)
    assert all(normalize_id_number(n, today=REFERENCE_DATE) == n for n in numbers)
    assert len(set(usccs)) == len(usccs)
    assert len(set(numbers)) == len(numbers)
    assert all(i.uscc[2:8] == i.region_code for i in demo.institutions)
    # Valid codes may start with a letter (see domain notes); even a tiny province has one.
    tiny = generate_demo_province(3, institutions=5, practitioners=10, province_code=code)
    assert any(i.uscc[0].isalpha() for i in tiny.institutions)
    regions = {i.region_code for i in demo.institutions} | {
        p.region_code for p in demo.practitioners
    }
    for region in regions:
        assert region.startswith(code)
        assert len(region) == 6
        assert not region.endswith("00")
        assert current_county_name(region) not in (None, "市辖区"), region


def test_care_workers_look_like_care_workers() -> None:
    people = province().practitioners
    ages = sorted(age_on(REFERENCE_DATE, p.id_number) for p in people)
    # Mostly 35 to 62, around 50; a few younger nurses and graduates; nobody retired.
    assert ages[0] >= 26
    assert ages[-1] <= 62
    assert sum(35 <= age <= 62 for age in ages) / len(ages) > 0.9
    assert 45 <= ages[len(ages) // 2] <= 55
    women = sum(int(p.id_number[16]) % 2 == 0 for p in people)
    assert 0.65 < women / len(people) < 0.95
    assert all(2 <= len(p.name) <= 4 and all("\u4e00" <= c <= "\u9fff" for c in p.name)
               for p in people)  # fmt: skip
    assert {p.skill_level for p in people} == {
        None, "junior", "intermediate", "senior", "technician", "senior_technician",
    }  # fmt: skip
    assert all((p.certificate_no is None) == (p.skill_level is None) for p in people)
    certificates = [p.certificate_no for p in people if p.certificate_no]
    assert len(set(certificates)) == len(certificates)


def test_homes_look_like_the_homes_of_their_county() -> None:
    homes = province().institutions
    assert len({i.name for i in homes}) == len(homes)
    for home in homes:
        county = current_county_name(home.region_code)
        assert county is not None
        assert home.name.startswith(county)
        assert home.address.startswith("浙江省")
        assert county in home.address
        beds = {"residential": (10, 600), "community": (0, 30), "home_care": (0, 0)}[home.kind]
        assert beds[0] <= home.beds <= beds[1]
    assert {i.kind for i in homes} == {"residential", "community", "home_care"}
    statuses = Counter(i.status for i in homes)
    assert set(statuses) <= {"operating", "suspended", "closed"}
    assert statuses["operating"] > 0.85 * len(homes)


def test_employments_are_those_of_a_real_workforce() -> None:
    demo = province()
    roles = {"caregiver", "nurse", "manager", "legal_representative", "responsible_person", "other"}
    jobs: dict[int, list[tuple[date, date | None]]] = {}
    for e in demo.employments:
        assert 0 <= e.institution_index < len(demo.institutions)
        assert 0 <= e.practitioner_index < len(demo.practitioners)
        assert e.role in roles
        assert date(2010, 1, 1) <= e.start_date <= REFERENCE_DATE
        assert e.end_date is None or e.start_date < e.end_date <= REFERENCE_DATE
        jobs.setdefault(e.practitioner_index, []).append((e.start_date, e.end_date))
    current = [e for e in demo.employments if e.end_date is None]
    legal = Counter(e.institution_index for e in current if e.role == "legal_representative")
    managers = Counter(e.institution_index for e in current if e.role == "manager")
    assert all(legal[i] == 1 and managers[i] >= 1 for i in range(len(demo.institutions)))
    holders = Counter(e.practitioner_index for e in current)
    assert max(holders.values()) == 1  # nobody has two current jobs
    assert 0.02 < (len(demo.practitioners) - len(holders)) / len(demo.practitioners) < 0.1
    for history in jobs.values():  # an earlier job ends before the current one starts
        started = [start for start, end in history if end is None]
        assert all(end < start for _, end in history if end is not None for start in started)
    changed = {e.practitioner_index for e in demo.employments if e.end_date is not None}
    assert 0.1 < len(changed) / len(demo.practitioners) < 0.25
    local = sum(
        demo.institutions[e.institution_index].region_code[:4]
        == demo.practitioners[e.practitioner_index].region_code[:4]
        for e in current
    )
    assert local / len(current) > 0.8  # people mostly work in their own city


def test_records_of_every_kind_are_bodies_the_records_api_takes() -> None:
    records = generate_demo_records(1, province())
    assert {record.body["kind"] for record in records} == set(RecordKind)
    for record in records:
        subjects = {
            "institution_id": None if record.institution_index is None else str(uuid.uuid4()),
            "practitioner_id": None if record.practitioner_index is None else str(uuid.uuid4()),
        }
        body = msgspec.convert(record.body | subjects, RecordIn)
        assert check_record(body, REFERENCE_DATE) == [], record.body
