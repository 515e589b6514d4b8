from __future__ import annotations

import pytest
from factories import make_id_number, make_uscc, wrong_check_character

from service.registry.identifiers import (
    IdentifierError,
    normalize_id_number,
    normalize_region_prefix,
    normalize_uscc,
)
from service.registry.protection import IdNumberVault, mask_id_number, mask_name


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
    one, other = IdNumberVault("a" * 40), IdNumberVault("b" * 40)
    protected = one.protect(number)
    assert protected.lookup_hash == one.lookup_hash(number)
    assert protected.lookup_hash != other.lookup_hash(number)
    assert number not in protected.ciphertext
    assert one.reveal(protected.ciphertext) == number
