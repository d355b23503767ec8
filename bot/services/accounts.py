"""Console accounts: password hashing, sign-in with lockout, sessions, password changes, all audited."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.errors import AssistantError
from bot.domain.staff import Role, StaffProfile, StaffUser, StoredSession, UsernameTakenError
from bot.ports import Clock, StaffAccountStore
from bot.services.audit import StaffAudit

# scrypt with n=2**14, r=8, p=1: 16 MiB and about 50 ms per check here, the interactive-login parameters the
# scrypt paper recommends; the parameters are stored with each hash so they can be raised later.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{2,32}$")
MIN_PASSWORD_CHARS = 8


class AccountError(AssistantError):
    """A request about accounts that cannot be done; the message says why, in Chinese."""


class LoginRefusedError(AccountError):
    """Wrong username or password (deliberately not saying which), or a disabled account."""


class LoginLockedError(AccountError):
    """Too many failed sign-ins for this username or address; try again later."""


def hash_password(password: str) -> str:
    """A salted scrypt hash in the form scrypt$n$r$p$salt$hash."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    return "$".join(("scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(digest)))


def verify_password(password: str, stored: str) -> bool:
    """Whether password matches a stored hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def password_problem(password: str, username: str) -> str:
    """Why a new password is not acceptable, in Chinese; empty if it is."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"密码至少 {MIN_PASSWORD_CHARS} 位"
    if len(password) > 128:
        return "密码太长（最多 128 位）"
    if len(set(password)) < 4:
        return "密码太简单，请混用不同的字母、数字或符号"
    if len(username) >= 4 and username.lower() in password.lower():
        return "密码不能包含用户名"
    return ""


def token_digest(token: str) -> str:
    """What is stored of a session token: its SHA-256, so a copied database signs nobody in."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: the cookie token (shown to the browser once) and its account."""

    token: str
    user: StaffUser
    csrf_token: str


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """Sign-in limits: failures allowed per username and per address within the window, and session length."""

    max_failures_per_user: int = 5
    max_failures_per_ip: int = 20
    window: timedelta = timedelta(minutes=15)
    session_length: timedelta = timedelta(hours=12)


class StaffAccounts:
    """Accounts, sign-in and sessions of the console; every change is written to the audit log."""

    def __init__(
        self, accounts: StaffAccountStore, audit: StaffAudit, clock: Clock, policy: LoginPolicy | None = None
    ) -> None:
        self._accounts = accounts
        self._audit = audit
        self._clock = clock
        self.policy = policy or LoginPolicy()
        # Checked when the username does not exist, so that a missing account takes as long as a wrong password.
        self._decoy_hash = hash_password(secrets.token_urlsafe(12))

    def sign_in(self, username: str, password: str, *, ip: str) -> SignedIn:
        """Check the password and open a session; LoginLockedError after too many failures, else LoginRefusedError."""
        now = self._clock.now()
        username = username.strip()
        since = now - self.policy.window
        minutes = int(self.policy.window.total_seconds() // 60)
        if (
            self._audit.failures_since(since, username=username) >= self.policy.max_failures_per_user
            or self._audit.failures_since(since, ip=ip) >= self.policy.max_failures_per_ip
        ):
            raise LoginLockedError(f"登录失败次数过多，请 {minutes} 分钟后再试，或请管理员重置密码。")
        found = self._accounts.credentials(username)
        valid = verify_password(password, found[1] if found else self._decoy_hash)
        if found is None or not valid or not found[0].active:
            self._audit.failed_sign_in(username, ip=ip)
            raise LoginRefusedError("用户名或密码不正确。")
        user = found[0]
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self._accounts.open_session(
            token_hash=token_digest(token),
            user_id=user.id,
            csrf_token=csrf,
            now=now,
            expires_at=now + self.policy.session_length,
            ip=ip,
        )
        self._audit.record(user, "login", ip=ip)
        return SignedIn(token, user, csrf)

    def session(self, token: str) -> StoredSession | None:
        """The live session for a cookie token, or None."""
        if not token:
            return None
        return self._accounts.find_session(token_digest(token), now=self._clock.now())

    def sign_out(self, token: str, user: StaffUser, *, ip: str) -> None:
        """End one session."""
        self._accounts.close_session(token_digest(token))
        self._audit.record(user, "logout", ip=ip)

    def change_password(self, user: StaffUser, current: str, new: str, *, token: str, ip: str) -> None:
        """The user's own change: the current password is required; other sessions end."""
        if not verify_password(current, self._accounts.password_hash(user.id)):
            raise AccountError("当前密码不正确。")
        problem = password_problem(new, user.username) or ("新密码不能和当前密码相同" if new == current else "")
        if problem:
            raise AccountError(problem + "。")
        self._accounts.set_password(
            user.id, hash_password(new), must_change=False, now=self._clock.now(), keep_session=token_digest(token)
        )
        self._audit.record(user, "password_changed", ip=ip)

    def create_user(
        self,
        actor: StaffUser | None,
        *,
        username: str,
        profile: StaffProfile,
        password: str,
        ip: str = "",
    ) -> StaffUser:
        """A new account (actor None: the command line creating an admin); staff-set passwords must be changed."""
        username = username.strip()
        profile = profile.cleaned(username)
        if not _USERNAME.match(username):
            raise AccountError("用户名须为 2–32 位字母、数字、点、下划线或连字符。")
        _check_assignment(profile)
        problem = password_problem(password, username)
        if problem:
            raise AccountError(problem + "。")
        try:
            user = self._accounts.create(
                username=username,
                profile=profile,
                password_hash=hash_password(password),
                must_change_password=actor is not None,
                now=self._clock.now(),
            )
        except UsernameTakenError:
            raise AccountError(f"用户名 {username} 已被使用。") from None
        action = "admin_created" if actor is None else "user_created"
        detail = f"{profile.role.label} {profile.community or profile.department}"
        self._audit.record(actor, action, target=username, detail=detail, ip=ip)
        return user

    def update_user(
        self,
        actor: StaffUser,
        user_id: int,
        *,
        profile: StaffProfile,
        active: bool,
        ip: str,
    ) -> StaffUser:
        """An admin changes an account; the last active admin cannot be demoted or disabled."""
        user = self._require(user_id)
        profile = profile.cleaned(user.username)
        _check_assignment(profile)
        losing_admin = user.role is Role.ADMIN and user.active and (profile.role is not Role.ADMIN or not active)
        if losing_admin and self._accounts.count_active_admins() <= 1:
            raise AccountError("这是最后一个管理员账号，不能停用或改为其他角色。")
        updated = self._accounts.update(user_id, profile=profile, active=active)
        state = "启用" if active else "停用"
        detail = f"{profile.role.label} {state}"
        self._audit.record(actor, "user_updated", target=user.username, detail=detail, ip=ip)
        return updated

    def reset_password(self, actor: StaffUser, user_id: int, new: str, *, ip: str) -> None:
        """An admin sets a temporary password; the user must change it at next sign-in; their sessions end."""
        user = self._require(user_id)
        problem = password_problem(new, user.username)
        if problem:
            raise AccountError(problem + "。")
        self._accounts.set_password(user_id, hash_password(new), must_change=True, now=self._clock.now())
        self._audit.record(actor, "password_reset", target=user.username, ip=ip)

    def users(self) -> list[StaffUser]:
        """Every account."""
        return self._accounts.all()

    def user(self, user_id: int) -> StaffUser | None:
        """One account."""
        return self._accounts.get(user_id)

    def has_admin(self) -> bool:
        """Whether an active admin exists (else the console tells how to create one)."""
        return self._accounts.count_active_admins() > 0

    def _require(self, user_id: int) -> StaffUser:
        user = self._accounts.get(user_id)
        if user is None:
            raise AccountError("没有这个账号。")
        return user


def _check_assignment(profile: StaffProfile) -> None:
    """A cadre belongs to a community and a handler to a department (their data scope depends on it)."""
    if profile.role is Role.CADRE and not profile.community:
        raise AccountError("社区干部必须填写所属社区。")
    if profile.role is Role.HANDLER and not profile.department:
        raise AccountError("部门经办人必须填写所属部门。")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
