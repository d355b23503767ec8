"""Commands staff run at a terminal: the first admin account, the unanswered queue, answering a question."""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.cli.command import Command
from bot.cli.output import duration
from bot.config import Settings
from bot.domain.errors import AssistantError


def create_admin(settings: Settings, args: argparse.Namespace) -> int:
    """Create a console admin; the password is typed twice (never a default one)."""
    from bot.app import build_application
    from bot.domain.staff import Role, StaffProfile

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("密码（至少 8 位）：")
        if getpass.getpass("再输一遍：") != password:
            raise AssistantError("两次输入的密码不一致，账号未创建。")
    accounts = build_application(settings).accounts
    user = accounts.create_user(
        None, username=args.username, profile=StaffProfile(args.name, Role.ADMIN), password=password
    )
    print(f"已创建管理员 {user.username}，可以登录控制台了。")
    return 0


def _create_admin_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("username", help="用户名：2–32 位字母、数字、点、下划线或连字符")
    parser.add_argument("--name", default="", help="姓名（默认同用户名）")
    parser.add_argument(
        "--password-stdin", action="store_true", help="从标准输入读取密码（供脚本使用），否则交互输入两次"
    )


def questions(settings: Settings, args: argparse.Namespace) -> int:
    """List the open unanswered questions, urgent first."""
    from bot.app import build_application
    from bot.domain.escalation import QuestionStatus

    application = build_application(settings)
    waiting = application.escalation.queue(community=None, status=QuestionStatus.OPEN, limit=None)
    if not waiting:
        print("没有待答的问题。")
    now = application.clock.now()
    for question in waiting:
        flag = "【急】" if question.urgent else ""
        waited = duration(now - question.created_at)
        print(f"#{question.id} {flag}{question.question}（{len(question.askers)} 人问过，已等 {waited}）")
    return 0


def answer(settings: Settings, args: argparse.Namespace) -> int:
    """Answer question #n from the terminal: queued for every asker; optionally added to the knowledge base.
    The running assistant's sender delivers the queued answers; this process only queues them."""
    from bot.app import build_application
    from bot.domain.escalation import QuestionNotOpenError
    from bot.domain.knowledge import case_specific_signs
    from bot.domain.staff import Actor

    signs = case_specific_signs(args.text) if args.faq and not args.faq_anyway else ()
    if signs:
        raise AssistantError(
            f"答复像是只针对这一件事（{'；'.join(signs)}），没有发送。确认对所有人都适用就加 --faq-anyway，"
            "只发给提问的居民就去掉 --faq"
        )
    application = build_application(settings)
    actor = Actor.command_line(args.by)
    try:
        answered = application.escalation.answer(args.number, args.text, actor=actor)
    except QuestionNotOpenError:
        raise AssistantError(f"没有找到待答的 #{args.number}（可能已经答过了）") from None
    print(f"已把 #{args.number} 的答复排入发件箱，发给 {len(answered.askers)} 位居民。")
    if args.faq or args.faq_anyway:
        entry_id = application.faq_book.add(answered)
        application.audit.record_as(actor, "faq_added", target=entry_id, detail=f"#{args.number}")
        print(f"已加入知识库：{entry_id}")
    return 0


def _answer_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("number", type=int, help="问题编号（#12 就填 12）")
    parser.add_argument("text", help="答复内容")
    parser.add_argument("--by", default="工作人员", help="答复人")
    parser.add_argument("--faq", action="store_true", help="同时加入知识库（写入 faq/staff-answers.csv 并重新导入）")
    parser.add_argument("--faq-anyway", action="store_true", help="答复像是只针对这一件事时仍然加入知识库")


COMMANDS = (
    Command("create-admin", "创建控制台管理员账号（第一个管理员只能这样创建）", create_admin, _create_admin_arguments),
    Command("questions", "列出待工作人员回答的问题", questions),
    Command("answer", "回答一个待答问题：答复经发件箱发给每位提问的居民", answer, _answer_arguments),
)
