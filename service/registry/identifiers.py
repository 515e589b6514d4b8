"""Validation of the codes that identify subjects: USCC, resident ID number, region code.

python-stdnum computes the check characters. Its USCC validator also insists that
the first eight characters are digits, which refuses valid codes issued by
authorities whose code is a letter (``Y`` and others), so the format check here
follows GB 32100-2015 itself and only the check character comes from stdnum.
"""

from __future__ import annotations

import re

from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_FORMAT = re.compile(rf"^[{USCC_ALPHABET}]{{2}}[0-9]{{6}}[{USCC_ALPHABET}]{{10}}$")
_REGION_FORMAT = re.compile(r"^[0-9]{6}$")
_REGION_PREFIX_FORMAT = re.compile(r"^[0-9]{2}([0-9]{2}){0,2}$")


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


def normalize_id_number(value: str) -> str:
    number = value.strip().upper()
    if len(number) != 18:
        raise IdentifierError("must be 18 characters")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise IdentifierError("must be 17 digits followed by a digit or X")
    # stdnum's calc_check_digit takes all 18 characters and drops the last itself.
    if ric.calc_check_digit(number) != number[17]:
        raise IdentifierError("check digit is wrong")
    try:
        ric.validate(number)
    except ValidationError as error:
        raise IdentifierError("birth date or region code is not valid") from error
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
