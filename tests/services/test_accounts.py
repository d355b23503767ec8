"""Console accounts: password hashing, sign-in lockout, sessions and password changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import open_database
from bot.domain.staff import Permission, Role, StaffProfile
from bot.services.accounts import (
    AccountError,
    LoginLockedError,
    LoginRefusedError,
    StaffAccounts,
    hash_password,
    password_problem,
    verify_password,
)
from bot.services.audit import StaffAudit
from bot.storage.staff import SqlAuditLog, SqlStaffAccounts
from tests.support.clock import FakeClock

GOOD = "Harbour-lights-42"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def accounts(tmp_path: Path, clock: FakeClock) -> StaffAccounts:
    sessions = open_database(f"sqlite:///{tmp_path / 'a.db'}")
    return StaffAccounts(SqlStaffAccounts(sessions), StaffAudit(SqlAuditLog(sessions), clock), clock)


def test_passwords_are_salted_scrypt_hashes() -> None:
    first, second = hash_password(GOOD), hash_password(GOOD)
    assert first != second and first.startswith("scrypt$16384$8$1$") and GOOD not in first
    assert verify_password(GOOD, first) and not verify_password(GOOD + "x", first)
    assert not verify_password(GOOD, "md5$abc") and not verify_password(GOOD, "garbage")


@pytest.mark.parametrize(
    ("password", "problem"),
    [("short1!", "至少 8 位"), ("aaaaaaaaaa", "太简单"), ("xx-chief-2026", "不能包含用户名"), (GOOD, "")],
)
def test_weak_passwords_are_refused_with_a_reason(password: str, problem: str) -> None:
    assert (problem in password_problem(password, "chief")) if problem else password_problem(password, "chief") == ""


def test_sign_in_opens_a_session_and_wrong_passwords_do_not_say_which_part_was_wrong(accounts: StaffAccounts) -> None:
    accounts.create_user(None, username="chief", profile=StaffProfile("王主任", Role.ADMIN), password=GOOD)
    signed = accounts.sign_in("chief", GOOD, ip="10.0.0.1")
    session = accounts.session(signed.token)
    assert session is not None and session.user.username == "chief" and session.csrf_token == signed.csrf_token
    assert accounts.session("forged-token") is None
    with pytest.raises(LoginRefusedError, match="用户名或密码不正确"):
        accounts.sign_in("chief", "wrong-password", ip="10.0.0.1")
    with pytest.raises(LoginRefusedError, match="用户名或密码不正确"):
        accounts.sign_in("nobody", GOOD, ip="10.0.0.1")


def test_repeated_failures_lock_the_account_for_the_window(accounts: StaffAccounts, clock: FakeClock) -> None:
    accounts.create_user(None, username="chief", profile=StaffProfile("", Role.ADMIN), password=GOOD)
    for _ in range(accounts.policy.max_failures_per_user):
        with pytest.raises(LoginRefusedError):
            accounts.sign_in("chief", "guess-guess", ip="10.0.0.9")
    with pytest.raises(LoginLockedError, match="15 分钟后再试"):
        accounts.sign_in("chief", GOOD, ip="10.0.0.8")  # even the right password, from another address
    clock.advance(minutes=16)
    assert accounts.sign_in("chief", GOOD, ip="10.0.0.8").user.username == "chief"


def test_one_address_guessing_many_usernames_is_locked_out(accounts: StaffAccounts) -> None:
    accounts.create_user(None, username="chief", profile=StaffProfile("", Role.ADMIN), password=GOOD)
    for n in range(accounts.policy.max_failures_per_ip):
        with pytest.raises(LoginRefusedError):
            accounts.sign_in(f"user{n}", "guess-guess", ip="10.6.6.6")
    with pytest.raises(LoginLockedError):
        accounts.sign_in("chief", GOOD, ip="10.6.6.6")
    assert accounts.sign_in("chief", GOOD, ip="10.0.0.1")


def test_a_staff_created_account_must_change_its_password_which_ends_other_sessions(accounts: StaffAccounts) -> None:
    admin = accounts.create_user(None, username="chief", profile=StaffProfile("", Role.ADMIN), password=GOOD)
    assert not admin.must_change_password  # created on the command line by the admin themself
    cadre = accounts.create_user(
        admin, username="li", profile=StaffProfile("李", Role.CADRE, community="幸福里"), password="Temp-pass-123"
    )
    assert cadre.must_change_password and cadre.may(Permission.ANSWER_QUESTIONS)
    assert not cadre.may(Permission.MANAGE_USERS)
    phone, laptop = accounts.sign_in("li", "Temp-pass-123", ip="1"), accounts.sign_in("li", "Temp-pass-123", ip="2")
    with pytest.raises(AccountError, match="当前密码不正确"):
        accounts.change_password(cadre, "wrong", "New-pass-456", token=laptop.token, ip="2")
    with pytest.raises(AccountError, match="至少 8 位"):
        accounts.change_password(cadre, "Temp-pass-123", "short", token=laptop.token, ip="2")
    accounts.change_password(cadre, "Temp-pass-123", "New-pass-456", token=laptop.token, ip="2")
    assert accounts.session(phone.token) is None
    still = accounts.session(laptop.token)
    assert still is not None and not still.user.must_change_password


def test_account_rules(accounts: StaffAccounts) -> None:
    admin = accounts.create_user(None, username="chief", profile=StaffProfile("", Role.ADMIN), password=GOOD)
    with pytest.raises(AccountError, match="已被使用"):
        accounts.create_user(None, username="chief", profile=StaffProfile("", Role.ADMIN), password=GOOD)
    with pytest.raises(AccountError, match="所属社区"):
        accounts.create_user(admin, username="li", profile=StaffProfile("", Role.CADRE), password=GOOD)
    with pytest.raises(AccountError, match="所属部门"):
        accounts.create_user(admin, username="zhao", profile=StaffProfile("", Role.HANDLER), password=GOOD)
    with pytest.raises(AccountError, match="用户名"):
        accounts.create_user(admin, username="<b>x</b>", profile=StaffProfile("", Role.ADMIN), password=GOOD)
    with pytest.raises(AccountError, match="最后一个管理员"):
        accounts.update_user(
            admin, admin.id, profile=StaffProfile("", Role.CADRE, community="幸福里"), active=True, ip=""
        )
    disabled = accounts.create_user(admin, username="old", profile=StaffProfile("", Role.ADMIN), password=GOOD)
    token = accounts.sign_in("old", GOOD, ip="").token
    accounts.update_user(admin, disabled.id, profile=StaffProfile("", Role.ADMIN), active=False, ip="")
    assert accounts.session(token) is None
    with pytest.raises(LoginRefusedError):
        accounts.sign_in("old", GOOD, ip="")
