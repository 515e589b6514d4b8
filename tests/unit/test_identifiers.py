from __future__ import annotations

from datetime import date

import pytest
from factories import make_id_number, make_uscc, wrong_check_character
from hypothesis import given
from hypothesis import strategies as st

from service.identity.codes import (
    IdentifierError,
    id_number_with_check_digit,
    normalize_id_number,
    normalize_region_prefix,
    normalize_uscc,
)
from service.identity.protection import IdNumberVault, mask_id_number, mask_name
from service.secret import Secret


@pytest.mark.parametrize("code", ["91110000600037341L", "91512081MA62K0260E"])
def test_published_example_usccs_are_valid(code: str) -> None:
    assert normalize_uscc(code) == code


def test_uscc_from_a_letter_coded_authority_is_valid() -> None:
    code = make_uscc(7, prefix="Y1")
    assert code[0] == "Y"
    assert normalize_uscc(code.lower()) == code


def test_uscc_with_wrong_check_character_is_refused() -> None:
    with pytest.raises(IdentifierError, match="check character"):
        normalize_uscc(wrong_check_character("91110000600037341L"))


@pytest.mark.parametrize("code", ["9111000060003734", "91110000600037341I", "9111AB00600037341L"])
def test_malformed_usccs_are_refused(code: str) -> None:
    with pytest.raises(IdentifierError):
        normalize_uscc(code)


def test_published_example_id_number_is_valid() -> None:
    assert normalize_id_number("11010519491231002x") == "11010519491231002X"


def test_id_number_with_wrong_check_digit_is_refused() -> None:
    with pytest.raises(IdentifierError, match="check digit"):
        normalize_id_number(wrong_check_character(make_id_number(5)))


def test_id_number_with_impossible_birth_date_is_refused() -> None:
    with pytest.raises(IdentifierError, match="birth date"):
        normalize_id_number(make_id_number(5, birth="19801332"))


# Care workers are mostly 40 to 60: numbers issued from 1984 on carry the county where the
# person was registered then, a code that often did not exist when they were born.
OLDER_WORKERS = [
    ("330522", "19620315"),  # 长兴县, a code from 1983
    ("330102", "19580101"),  # 上城区
    ("330502", "19700101"),  # 吴兴区
    ("330106", "19650704"),  # 西湖区
    ("331102", "19660520"),  # 莲都区, a code from 2000
    ("330783", "19500101"),  # 东阳市
    ("330103", "19731230"),  # 下城区, gone since 2021: old codes stay valid on old cards
    ("330113", "19750101"),  # 临平区, created 2021, missing from stdnum's table
    ("330114", "19900101"),  # 钱塘区, likewise
]


@pytest.mark.parametrize(("region", "birth"), OLDER_WORKERS)
def test_older_workers_id_numbers_are_valid(region: str, birth: str) -> None:
    number = make_id_number(8, region=region, birth=birth)
    assert normalize_id_number(number, today=date(2026, 11, 30)) == number


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("99052219620315002", "province code"),
        ("33999919620315002", "address code"),
        ("33052218991231002", "between 1900-01-01 and 2026-11-30"),
        ("33052220261201002", "between 1900-01-01 and 2026-11-30"),
        ("33052219620230002", "not a real date"),
    ],
)
def test_id_numbers_that_could_not_have_been_issued_are_refused(body: str, problem: str) -> None:
    with pytest.raises(IdentifierError, match=problem):
        normalize_id_number(id_number_with_check_digit(body), today=date(2026, 11, 30))


def test_birth_date_may_be_today_and_not_tomorrow() -> None:
    number = id_number_with_check_digit("33052220261130002")
    assert normalize_id_number(number, today=date(2026, 11, 30)) == number
    with pytest.raises(IdentifierError, match="birth date"):
        normalize_id_number(number, today=date(2026, 11, 29))


REASONS = (
    "birth date (digits 7-14) is not a real date",
    f"birth date (digits 7-14) must be between 1900-01-01 and {date.today()}",
    "province code (digits 1-2) is not a province of China",
    "address code (digits 1-6) is not a known administrative division",
)


@given(st.from_regex(r"[1-9][0-9]{16}", fullmatch=True))
def test_any_id_number_is_either_valid_or_refused_with_a_reason(body: str) -> None:
    number = id_number_with_check_digit(body)
    try:
        normalized = normalize_id_number(number)
    except IdentifierError as error:
        normalized = str(error)  # refused, with a reason: never KeyError or another error
    assert normalized in (number, *REASONS)


def test_region_prefixes_are_province_city_or_county() -> None:
    assert [normalize_region_prefix(p) for p in ("33", "3305", "330522")] == [
        "33",
        "3305",
        "330522",
    ]
    for bad in ("3", "330", "3305221", "33a5"):
        with pytest.raises(IdentifierError):
            normalize_region_prefix(bad)


def test_masks_follow_the_domain_defaults() -> None:
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_name("张晓明") == "张*明"
    assert mask_name("张明") == "张*"
    assert mask_name("欧阳晓明") == "欧**明"


def test_vault_hash_is_keyed_and_ciphertext_round_trips() -> None:
    number = "11010519491231002X"
    one, other = IdNumberVault(Secret("a" * 40)), IdNumberVault(Secret("b" * 40))
    protected = one.protect(number)
    assert protected.lookup_hash == one.lookup_hash(number)
    assert protected.lookup_hash != other.lookup_hash(number)
    assert number not in protected.ciphertext
    assert one.reveal(protected.ciphertext) == number
