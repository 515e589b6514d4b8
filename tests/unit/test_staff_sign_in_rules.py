"""Sign-in rules that need no database: password rules, the lockout's arithmetic, TOTP
steps and replay, where a sign-in may send the browser next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from service.auth.passwords import common_passwords, password_problems
from service.auth.staff import lock_end
from service.auth.totp import TotpVault, accepted_step, code_was_used, normalized_code
from service.limits import SIGN_IN_LOCKOUT
from service.secret import Secret
from service.workbench.session import safe_next

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "at least 10"),
        ("x" * 129, "at most 128"),
        ("my-li.ming-password", "login name"),
        ("qwertyuiop", "too common"),
        ("Qwertyuiop!", "too common"),
        ("2024sunshine!!", "too common"),
        ("1234567890", "too common"),
        ("ababababab", "4 different"),
    ],
)
def test_a_password_that_breaks_a_rule_is_refused_saying_which(password: str, problem: str) -> None:
    problems = password_problems(password, "li.ming")
    assert any(problem in found for found in problems), problems


@pytest.mark.parametrize(
    "password", ["长风破浪会有时-2025", "correct horse battery", "Tr0ub4dor&3x"]
)
def test_a_good_password_passes(password: str) -> None:
    assert password_problems(password, "li.ming") == []


def test_the_common_password_list_is_loaded_from_the_package() -> None:
    listed = common_passwords()
    assert len(listed) > 2500
    assert {"password", "woaini1314", "1qaz2wsx"} <= listed
    assert not any(entry.startswith("#") for entry in listed)


def minutes(*offsets: float) -> list[datetime]:
    return [T0 + timedelta(minutes=offset) for offset in offsets]


def test_the_fifth_failure_within_15_minutes_locks_for_15_minutes_from_it() -> None:
    assert lock_end(minutes(0, 1, 2, 3), 5) is None
    assert lock_end(minutes(0, 1, 2, 3, 4), 5) == T0 + timedelta(minutes=4) + SIGN_IN_LOCKOUT
    # Spread over more than 15 minutes: no five within any 15 of them.
    assert lock_end(minutes(0, 4, 8, 12, 16), 5) is None
    assert lock_end(minutes(0, 4, 8, 12, 16, 17), 5) == T0 + timedelta(minutes=32)


def test_a_totp_code_is_accepted_one_step_either_side_and_never_twice() -> None:
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    now = T0
    step = totp.timecode(now)
    for offset in (-1, 0, 1):
        code = totp.generate_otp(step + offset)
        assert accepted_step(secret, code, now, None) == step + offset
    assert accepted_step(secret, totp.generate_otp(step - 2), now, None) is None
    assert accepted_step(secret, totp.generate_otp(step + 2), now, None) is None
    code = totp.at(now)
    assert accepted_step(secret, code, now, step) is None  # used
    assert code_was_used(secret, code, now, step)
    assert accepted_step(secret, totp.generate_otp(step - 1), now, step) is None  # older
    assert accepted_step(secret, totp.generate_otp(step + 1), now, step) == step + 1


@pytest.mark.parametrize(("typed", "code"), [("123 456", "123456"), (" 000001 ", "000001")])
def test_codes_are_read_as_people_type_them(typed: str, code: str) -> None:
    assert normalized_code(typed) == code


@pytest.mark.parametrize("typed", ["12345", "1234567", "12345a", "１２３４５６", ""])
def test_anything_but_six_digits_is_not_a_code(typed: str) -> None:
    assert normalized_code(typed) is None


def test_a_totp_secret_is_stored_encrypted_and_readable_only_with_the_same_key() -> None:
    vault = TotpVault(Secret("k" * 40))
    stored = vault.encrypt("JBSWY3DPEHPK3PXP")
    assert "JBSWY3DPEHPK3PXP" not in stored
    assert vault.decrypt(stored) == "JBSWY3DPEHPK3PXP"
    assert TotpVault(Secret("j" * 40)).decrypt(stored) is None


@pytest.mark.parametrize(
    ("asked", "sent_to"),
    [
        ("/staff/queue?status=notified", "/staff/queue?status=notified"),
        ("https://evil.example/", "/staff/"),
        ("//evil.example/staff/", "/staff/"),
        ("/staff//evil.example", "/staff/"),
        ("/staff/\\evil", "/staff/"),
        ("/api/v1/records", "/staff/"),
        (None, "/staff/"),
    ],
)
def test_after_sign_in_the_browser_goes_only_to_a_workbench_page(
    asked: str | None, sent_to: str
) -> None:
    assert safe_next(asked) == sent_to
