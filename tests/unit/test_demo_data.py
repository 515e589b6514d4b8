"""The synthetic demo province: reproducible, and every code in it passes the real validators."""

from __future__ import annotations

from collections import Counter
from datetime import date
from functools import cache

import pytest
from stdnum import numdb

from service.demo.province import DemoProvince, generate_demo_province
from service.identity.codes import normalize_id_number, normalize_uscc

CUTOFF = date(2026, 6, 30)


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


def test_same_seed_gives_equal_province() -> None:
    assert generate_demo_province(7) == generate_demo_province(7)


def test_different_seeds_give_different_provinces() -> None:
    first, second = province(1), province(2)
    assert first != second
    assert {i.uscc for i in first.institutions}.isdisjoint(i.uscc for i in second.institutions)


def test_default_size() -> None:
    demo = province()
    assert demo.province_code == "33"
    assert len(demo.institutions) == 300
    assert len(demo.practitioners) == 3000


@pytest.mark.parametrize("code", ["33", "11", "44"])
def test_usccs_are_valid_and_unique(code: str) -> None:
    usccs = [institution.uscc for institution in province(1, code).institutions]
    assert all(normalize_uscc(uscc) == uscc for uscc in usccs)
    assert len(set(usccs)) == len(usccs)


def test_some_usccs_start_with_a_letter() -> None:
    assert any(institution.uscc[0].isalpha() for institution in province().institutions)
    # Even a tiny province shows one.
    tiny = generate_demo_province(3, institutions=5, practitioners=10)
    assert any(institution.uscc[0].isalpha() for institution in tiny.institutions)


def test_uscc_carries_the_institutions_region() -> None:
    assert all(i.uscc[2:8] == i.region_code for i in province().institutions)


@pytest.mark.parametrize("code", ["33", "11", "44"])
def test_id_numbers_are_valid_and_unique(code: str) -> None:
    numbers = [practitioner.id_number for practitioner in province(1, code).practitioners]
    assert all(normalize_id_number(number, today=CUTOFF) == number for number in numbers)
    assert len(set(numbers)) == len(numbers)


def age_on(day: date, id_number: str) -> int:
    born = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def test_ages_are_those_of_care_workers() -> None:
    ages = sorted(age_on(CUTOFF, p.id_number) for p in province().practitioners)
    # Mostly 35 to 62, around 50; a few younger nurses and graduates; nobody retired.
    assert ages[0] >= 26
    assert ages[-1] <= 62
    assert sum(35 <= age <= 62 for age in ages) / len(ages) > 0.9
    assert 45 <= ages[len(ages) // 2] <= 55


def test_care_workers_are_mostly_women() -> None:
    numbers = [practitioner.id_number for practitioner in province().practitioners]
    women = sum(int(number[16]) % 2 == 0 for number in numbers)
    assert 0.65 < women / len(numbers) < 0.95


@pytest.mark.parametrize("code", ["33", "11", "44"])
def test_region_codes_are_current_counties_of_the_province(code: str) -> None:
    demo = province(1, code)
    codes = {i.region_code for i in demo.institutions} | {p.region_code for p in demo.practitioners}
    for region in codes:
        assert region.startswith(code)
        assert len(region) == 6
        assert not region.endswith("00")
        assert current_county_name(region) not in (None, "市辖区"), region


def test_institution_names_and_addresses_use_the_county_name() -> None:
    institutions = province().institutions
    assert len({i.name for i in institutions}) == len(institutions)
    for institution in institutions:
        county = current_county_name(institution.region_code)
        assert county is not None
        assert institution.name.startswith(county)
        assert institution.address.startswith("浙江省")
        assert county in institution.address


def test_kinds_beds_and_status() -> None:
    institutions = province().institutions
    assert {i.kind for i in institutions} == {"residential", "community", "home_care"}
    for institution in institutions:
        if institution.kind == "residential":
            assert 10 <= institution.beds <= 600
        elif institution.kind == "community":
            assert 0 <= institution.beds <= 30
        else:
            assert institution.beds == 0
    statuses = Counter(i.status for i in institutions)
    assert set(statuses) <= {"operating", "suspended", "closed"}
    assert statuses["operating"] > 0.85 * len(institutions)


def test_certificates_match_skill_levels() -> None:
    practitioners = province().practitioners
    levels = {p.skill_level for p in practitioners}
    assert levels == {None, "junior", "intermediate", "senior", "technician", "senior_technician"}
    for practitioner in practitioners:
        assert (practitioner.certificate_no is None) == (practitioner.skill_level is None)
    certificates = [p.certificate_no for p in practitioners if p.certificate_no]
    assert len(set(certificates)) == len(certificates)


def test_names_are_chinese_full_names() -> None:
    for practitioner in province().practitioners:
        assert 2 <= len(practitioner.name) <= 4
        assert all("\u4e00" <= char <= "\u9fff" for char in practitioner.name)


def test_employment_indices_are_in_range() -> None:
    demo = province()
    for employment in demo.employments:
        assert 0 <= employment.institution_index < len(demo.institutions)
        assert 0 <= employment.practitioner_index < len(demo.practitioners)


def test_every_institution_has_one_legal_representative_and_a_manager() -> None:
    demo = province()
    current = [e for e in demo.employments if e.end_date is None]
    legal = Counter(e.institution_index for e in current if e.role == "legal_representative")
    managers = Counter(e.institution_index for e in current if e.role == "manager")
    for index in range(len(demo.institutions)):
        assert legal[index] == 1
        assert managers[index] >= 1


def test_nobody_has_two_current_employments() -> None:
    demo = province()
    current = Counter(e.practitioner_index for e in demo.employments if e.end_date is None)
    assert max(current.values()) == 1
    # Most have a current job; about 5% have none.
    unemployed = len(demo.practitioners) - len(current)
    assert 0.02 < unemployed / len(demo.practitioners) < 0.1


def test_employment_dates() -> None:
    demo = province()
    roles = {"caregiver", "nurse", "manager", "legal_representative", "responsible_person", "other"}
    for employment in demo.employments:
        assert employment.role in roles
        assert date(2010, 1, 1) <= employment.start_date <= CUTOFF
        if employment.end_date is not None:
            assert employment.start_date < employment.end_date <= CUTOFF
    changed = {e.practitioner_index for e in demo.employments if e.end_date is not None}
    assert 0.1 < len(changed) / len(demo.practitioners) < 0.25


def test_earlier_job_ends_before_the_current_one_starts() -> None:
    demo = province()
    by_person: dict[int, list[tuple[date, date | None]]] = {}
    for e in demo.employments:
        by_person.setdefault(e.practitioner_index, []).append((e.start_date, e.end_date))
    for jobs in by_person.values():
        ended = [end for _, end in jobs if end is not None]
        started = [start for start, end in jobs if end is None]
        for end in ended:
            assert all(end < start for start in started)


def test_people_mostly_work_in_their_own_city() -> None:
    demo = province()
    current = [e for e in demo.employments if e.end_date is None]
    local = sum(
        demo.institutions[e.institution_index].region_code[:4]
        == demo.practitioners[e.practitioner_index].region_code[:4]
        for e in current
    )
    assert local / len(current) > 0.8


def test_unknown_province_is_refused() -> None:
    with pytest.raises(ValueError, match="province_code"):
        generate_demo_province(province_code="99")


def test_too_few_practitioners_is_refused() -> None:
    with pytest.raises(ValueError, match="two practitioners"):
        generate_demo_province(institutions=10, practitioners=19)
