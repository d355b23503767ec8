"""Staff who work in the console: roles, what each role may do, and the audit trail of what they did."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.errors import AssistantError


class Role(StrEnum):
    """A console role."""

    ADMIN = "admin"
    CADRE = "cadre"
    HANDLER = "handler"

    @property
    def label(self) -> str:
        """The role's name as staff say it."""
        return {"admin": "管理员", "cadre": "社区干部", "handler": "部门经办人"}[self.value]


class Permission(StrEnum):
    """One thing a role may do in the console."""

    VIEW_DASHBOARD = "view_dashboard"
    ANSWER_QUESTIONS = "answer_questions"
    MANAGE_KNOWLEDGE = "manage_knowledge"
    MANAGE_GROUPS = "manage_groups"
    MANAGE_USERS = "manage_users"
    VIEW_AUDIT = "view_audit"
    VIEW_SETTINGS = "view_settings"
    HANDLE_PETITIONS = "handle_petitions"
    MANAGE_API_KEYS = "manage_api_keys"  # the Open311 keys outside systems post cases with (admins only)
    MANAGE_ROUTING = "manage_routing"
    MANAGE_DOOR_CODES = "manage_door_codes"
    MANAGE_REGISTERS = "manage_registers"  # 到期提醒 and the other registers of the community
    PUBLISH_NOTICES = "publish_notices"  # notices to many groups (通知公告), within the author's community


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    # Admins run the deployment: users, groups and the audit trail, and can stand in for any cadre.
    Role.ADMIN: frozenset(Permission),
    # Cadres work their own community: its questions, the knowledge base, its figures.
    Role.CADRE: frozenset(
        {
            Permission.VIEW_DASHBOARD,
            Permission.ANSWER_QUESTIONS,
            Permission.MANAGE_KNOWLEDGE,
            Permission.HANDLE_PETITIONS,
            # who a category's cases go to, its deadlines and the departments directory (cadres dispatch)
            Permission.MANAGE_ROUTING,
            Permission.MANAGE_DOOR_CODES,
            Permission.MANAGE_REGISTERS,
            Permission.PUBLISH_NOTICES,
        }
    ),
    # Handlers work the petitions dispatched to their department, and nothing else.
    Role.HANDLER: frozenset({Permission.HANDLE_PETITIONS}),
}


@dataclass(frozen=True, slots=True)
class StaffProfile:
    """What an admin sets on an account: the name shown, the role, and the community or department it serves."""

    display_name: str
    role: Role
    community: str = ""
    department: str = ""

    def cleaned(self, username: str) -> StaffProfile:
        """Spaces trimmed and lengths bounded as stored; the username stands in for a missing name."""
        return StaffProfile(
            display_name=self.display_name.strip()[:64] or username,
            role=self.role,
            community=self.community.strip()[:128],
            department=self.department.strip()[:128],
        )


@dataclass(frozen=True, slots=True)
class StaffUser:
    """A console account."""

    id: int
    username: str
    display_name: str
    role: Role
    community: str
    department: str
    active: bool
    must_change_password: bool
    created_at: datetime

    def may(self, permission: Permission) -> bool:
        """Whether this user's role allows permission."""
        return self.active and permission in ROLE_PERMISSIONS[self.role]

    @property
    def community_scope(self) -> str | None:
        """The one community whose data this user sees; None for every community (admins)."""
        return None if self.role is Role.ADMIN else self.community

    def sees_community(self, community: str) -> bool:
        """Whether data belonging to community is visible to this user."""
        scope = self.community_scope
        return scope is None or (bool(scope) and community == scope)

    def sees_case(self, community: str, department: str) -> bool:
        """Whether a petition is visible: a handler's only when dispatched to their department, others' as their
        community's data."""
        if self.role is Role.HANDLER:
            return bool(self.department) and department == self.department
        return self.sees_community(community)

    @property
    def department_scope(self) -> str | None:
        """The one department whose dispatched petitions this user sees (handlers); None when not limited so."""
        return self.department if self.role is Role.HANDLER else None

    def sees_knowledge(self, community: str) -> bool:
        """Whether a knowledge entry is visible: shared ones (no community) to all, others as their community's data."""
        return not community or self.sees_community(community)


class Venue(StrEnum):
    """Where an action was taken."""

    CONSOLE = "控制台"
    STAFF_GROUP = "微信员工群"
    COMMAND_LINE = "命令行"
    ASSISTANT = "小助手"  # the assistant itself (a resident's pick among the choices closes their question)
    OPEN311 = "Open311接口"  # an outside system (a city platform, the 12345 hotline) with an API key


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted and from where: what the audit trail and a workflow's history record of them."""

    name: str  # as staff know them: a console user's name, a WeChat name, what --by gave, "小助手"
    where: Venue
    username: str = ""  # the console account, if any
    role: Role | None = None
    community: str = ""
    ip: str = ""

    @classmethod
    def console(cls, user: StaffUser, *, ip: str) -> Actor:
        """A console user acting from the address ip."""
        return cls(user.display_name or user.username, Venue.CONSOLE, user.username, user.role, user.community, ip)

    @classmethod
    def staff_group(cls, sender: str) -> Actor:
        """A staff member writing in the staff WeChat group (their WeChat name, or id when WeChat gave none)."""
        return cls(sender, Venue.STAFF_GROUP)

    @classmethod
    def command_line(cls, name: str = "") -> Actor:
        """Whoever runs a command (named by --by where the command asks)."""
        return cls(name, Venue.COMMAND_LINE)

    @classmethod
    def outside_system(cls, name: str) -> Actor:
        """An outside system posting through Open311 with its API key (named as staff named the key)."""
        return cls(name, Venue.OPEN311)

    @property
    def elsewhere(self) -> str:
        """Where the staff group is told the action was taken; empty when taken in the staff group itself."""
        return {Venue.STAFF_GROUP: "", Venue.ASSISTANT: "群聊"}.get(self.where, self.where.value)

    @property
    def audit_name(self) -> str:
        """The audit trail's actor: the console account, "微信:<name>" in the staff group, else the venue."""
        if self.where is Venue.CONSOLE:
            return self.username or self.name
        if self.where is Venue.STAFF_GROUP:
            return f"微信:{self.name}"
        if self.where is Venue.OPEN311:
            return f"Open311:{self.name}"
        return self.where.value

    def audit_detail(self, detail: str) -> str:
        """The audit trail's detail: a command line names no account, so whoever ran it is kept before it."""
        named = self.where is Venue.COMMAND_LINE and self.name
        return f"{self.name}：{detail}" if named else detail


ASSISTANT = Actor("小助手", Venue.ASSISTANT)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One staff action, as recorded: who, what, on which object, from where."""

    id: int
    at: datetime
    actor: str
    role: str
    action: str
    target: str
    detail: str
    community: str
    ip: str


AUDIT_ACTIONS: dict[str, str] = {
    "login": "登录",
    "login_failed": "登录失败",
    "logout": "退出登录",
    "password_changed": "修改密码",
    "password_reset": "重置密码",
    "user_created": "新建账号",
    "user_updated": "修改账号",
    "question_answered": "答复待答问题",
    "question_closed": "关闭待答问题（不答复）",
    "petition_moved": "办理诉求",
    "route_edited": "修改派单规则",
    "department_saved": "保存部门",
    "department_removed": "删除部门",
    "door_codes_created": "生成门牌码",
    "door_code_deactivated": "停用门牌码",
    "elderly_imported": "导入高龄提醒名单",
    "elderly_added": "添加高龄提醒居民",
    "elderly_updated": "修改高龄提醒居民",
    "elderly_deleted": "删除高龄提醒居民",
    "petitions_exported": "导出诉求",
    "expiry_item_added": "登记到期事项",
    "expiry_item_updated": "修改到期事项",
    "expiry_item_renewed": "登记续期",
    "expiry_item_retired": "停用到期事项",
    "expiry_imported": "导入到期登记表",
    "expiry_exported": "导出到期登记表",
    "faq_added": "加入知识库",
    "faq_updated": "修改问答",
    "file_uploaded": "上传知识库文件",
    "reindexed": "重新导入知识库",
    "reindex_cancelled": "停止重新导入",
    "group_updated": "修改群设置",
    "admin_created": "创建管理员（命令行）",
    "api_key_issued": "发放接口密钥",
    "api_key_revoked": "停用接口密钥",
    "notice_sent": "发送通知",
    "notice_scheduled": "定时通知",
    "notice_edited": "修改通知",
    "notice_withdrawn": "撤回通知",
    "notice_retried": "重试通知失败的群",
    "notice_refused": "拒绝非工作人员发通知",
}


class UsernameTakenError(AssistantError):
    """Another account already has that username."""


@dataclass(frozen=True, slots=True)
class StoredSession:
    """A valid console session and its account."""

    user: StaffUser
    csrf_token: str
    expires_at: datetime
