"""Validation of the codes that identify subjects: USCC, resident ID number, region code.

python-stdnum computes the check characters. Its USCC validator also insists that
the first eight characters are digits, which refuses valid codes issued by
authorities whose code is a letter (``Y`` and others), so the format check here
follows GB 32100-2015 itself and only the check character comes from stdnum.

Its ID-number validator is not used either: it requires the address code to have
existed in the holder's birth year, but GB 11643's address code is where the person
was registered when the number was issued (from 1984 on), so it refuses most workers
born before the 1980s; and for a code its table lacks it raises KeyError. Here a code
is accepted if it was ever in use (docs/decisions/0018-id-number-address-codes.md).
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache

from stdnum import numdb
from stdnum.cn import ric, uscc

from service.limits import EARLIEST_DATE

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_FORMAT = re.compile(rf"^[{USCC_ALPHABET}]{{2}}[0-9]{{6}}[{USCC_ALPHABET}]{{10}}$")
_REGION_FORMAT = re.compile(r"^[0-9]{6}$")
_REGION_PREFIX_FORMAT = re.compile(r"^[0-9]{2}([0-9]{2}){0,2}$")

EARLIEST_BIRTH_DATE = EARLIEST_DATE  # the start of the one accepted range of dates

# County-level codes created after the data of python-stdnum 2.2 (its table, taken from
# Wikipedia, ends 下城区 and 江干区 in 2021 but lacks what replaced them). Source: the
# Ministry of Civil Affairs' list of 2021 changes to county-level divisions (民政部
# 县级以上行政区划变更情况, 2021: Hangzhou's 临平区 and 钱塘区, set up in April 2021). The
# other county-level codes created from 2021 to 2025 were checked and are in stdnum's table.
# Residence permits of Taiwan residents carry 830000 (港澳台居民居住证申领发放办法,
# 国办发〔2018〕81号; Hong Kong's 810000 and Macao's 820000 are in the table already).
ADDRESS_CODES_SINCE_STDNUM = {
    "330113": "临平区",
    "330114": "钱塘区",
    "830000": "台湾居民居住证",
}


class IdentifierError(ValueError):
    """The value is not a valid identifier; the message says why, without echoing it."""


def normalize_uscc(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 18:
        raise IdentifierError("must be 18 characters")
    if not _USCC_FORMAT.match(code):
        raise IdentifierError(
            "must use the characters 0-9 and A-Y without I, O, S, V and Z, "
            "with a 6-digit region code in positions 3-8"
        )
    if uscc.calc_check_digit(code[:17]) != code[17]:
        raise IdentifierError("check character is wrong")
    return code


def uscc_with_check_character(body: str) -> str:
    """Complete a 17-character USCC body with its check character."""
    return body + uscc.calc_check_digit(body)


@cache
def known_address_codes() -> frozenset[str]:
    """Every 6-digit code stdnum's table names in any period, and the codes created since."""
    codes = set(ADDRESS_CODES_SINCE_STDNUM)
    # cn/loc is a two-level tree: a province's 2 digits, then the other 4 with the names
    # the code carried (``county="[1983-2021]下城区"``); the years do not matter here.
    for _length, province, _high, _props, children in numdb.get("cn/loc").prefixes:
        codes.update(
            province + suffix for _l, suffix, _h, props, _c in children if "county" in props
        )
    return frozenset(codes)


@cache
def _known_provinces() -> frozenset[str]:
    return frozenset(code[:2] for code in known_address_codes())


def normalize_id_number(value: str, today: date | None = None) -> str:
    """The ID number in upper case, if GB 11643 could have issued it by ``today``.

    The check digit must be right, the birth date a real date from 1900-01-01 to
    ``today`` (the caller's clock; the system date if not given), and the address
    code one that was ever in use, whatever the birth year.
    """
    number = value.strip().upper()
    if len(number) != 18:
        raise IdentifierError("must be 18 characters")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise IdentifierError("must be 17 digits followed by a digit or X")
    # stdnum's calc_check_digit takes all 18 characters and drops the last itself.
    if ric.calc_check_digit(number) != number[17]:
        raise IdentifierError("check digit is wrong")
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as error:
        raise IdentifierError("birth date (digits 7-14) is not a real date") from error
    latest = today or date.today()
    if not EARLIEST_BIRTH_DATE <= birth <= latest:
        raise IdentifierError(
            f"birth date (digits 7-14) must be between {EARLIEST_BIRTH_DATE} and {latest}"
        )
    if number[:2] not in _known_provinces():
        raise IdentifierError("province code (digits 1-2) is not a province of China")
    if number[:6] not in known_address_codes():
        raise IdentifierError("address code (digits 1-6) is not a known administrative division")
    return number


def id_number_with_check_digit(body: str) -> str:
    """Complete a 17-digit ID number body with its check digit."""
    return body + ric.calc_check_digit(body + "0")


def normalize_region_code(value: str) -> str:
    code = value.strip()
    if not _REGION_FORMAT.match(code) or code == "000000":
        raise IdentifierError("must be a 6-digit administrative division code")
    return code


def normalize_region_prefix(value: str) -> str:
    """A jurisdiction: 2 (province), 4 (city) or 6 (county) digits."""
    code = value.strip()
    if not _REGION_PREFIX_FORMAT.match(code):
        raise IdentifierError("must be 2, 4 or 6 digits of a region code")
    return code
