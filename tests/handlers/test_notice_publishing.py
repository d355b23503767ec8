"""Publishing a notice from the staff WeChat group on both databases: "#通知 <target> <text>" echoes the text and the
groups and waits for "确认发送" from the same person within the confirmation time; only then is one urgent outbox
row queued per group. Anyone else (a resident in a group, a private chat) is refused and the attempt recorded."""

from __future__ import annotations

from dataclasses import replace

from bot.app import Application
from bot.domain.messages import InboundMessage
from bot.domain.notices import NoticeStatus
from bot.domain.outbox import SendPriority
from tests.handlers.conftest import STAFF_GROUP, resident_message
from tests.support.clock import FakeClock

TEXT = "紧急通知：小区东门燃气管道泄漏，正在抢修，请勿靠近东门，不要使用明火。"
ROOMS = {"room-n1@chatroom": ("幸福里1号楼", ("楼栋群",)), "room-n2@chatroom": ("幸福里2号楼", ("楼栋群",))}
ROOMS |= {"room-n3@chatroom": ("幸福里商户群", ("商户群",))}


def _groups(runtime: Application) -> None:
    now = runtime.clock.now()
    for room, (name, tags) in ROOMS.items():
        runtime.groups.get_or_register(group_id=room, channel="wechat", name=name, now=now)
        runtime.groups.update(room, enabled=True, community="幸福里", tags=tags, now=now)


def _say(runtime: Application, text: str, *, sender: str, group: str = STAFF_GROUP, name: str = "") -> list[str]:
    message: InboundMessage = resident_message(runtime, text, sender=sender, group=group, mention=False)
    message = replace(message, sender_name=name or sender)
    return [reply.text for reply in runtime.router.handle(message).replies]


def _notice_rows(runtime: Application) -> dict[str, SendPriority]:
    due = runtime.outbox.due(now=runtime.clock.now(), limit=500)
    return {q.message.group_id: q.priority for q in due if q.source.startswith("notice:")}


def test_a_notice_from_the_staff_group_goes_out_after_confirmation(chat_runtime: Application) -> None:
    runtime = chat_runtime
    _groups(runtime)
    (echo,) = _say(runtime, f"#通知 楼栋群 {TEXT}", sender="wxid_wang", name="王书记")
    assert "幸福里1号楼、幸福里2号楼（共 2 个群）" in echo and TEXT in echo and "回复“确认发送”" in echo
    assert _notice_rows(runtime) == {}  # nothing before the confirmation
    # Someone else's "确认发送" does not send the writer's notice
    (other,) = _say(runtime, "确认发送", sender="wxid_li", name="李干部")
    assert "没有等你确认的通知" in other and _notice_rows(runtime) == {}
    (sent,) = _say(runtime, "确认发送", sender="wxid_wang", name="王书记")
    assert sent.startswith("通知 #") and "共 2 个群" in sent
    assert _notice_rows(runtime) == {"room-n1@chatroom": SendPriority.URGENT, "room-n2@chatroom": SendPriority.URGENT}
    (notice,) = [o.notice for o in runtime.notices.history(scope=None) if o.notice.draft.text == TEXT]
    assert notice.status is NoticeStatus.SENT and notice.author_username == "微信:王书记"
    assert [e.action for e in runtime.audit.entries(limit=1)] == ["notice_sent"]
    (again,) = _say(runtime, "确认发送", sender="wxid_wang", name="王书记")  # sent once only
    assert "没有等你确认的通知" in again and len(_notice_rows(runtime)) == 2


def test_a_draft_expires_and_an_unknown_target_is_told(chat_runtime: Application) -> None:
    runtime = chat_runtime
    _groups(runtime)
    before = _notice_rows(runtime)
    (unknown,) = _say(runtime, "#通知 8号楼群 明天停电", sender="wxid_wang", name="王书记")
    assert "没有叫“8号楼群”的群、社区或标签" in unknown
    (echo,) = _say(runtime, "#通知 幸福里商户群 明天上午消防检查，请各商户配合。", sender="wxid_wang", name="王书记")
    assert "共 1 个群" in echo
    assert isinstance(runtime.clock, FakeClock)
    runtime.clock.advance(minutes=6)  # past the five minutes
    (late,) = _say(runtime, "确认发送", sender="wxid_wang", name="王书记")
    assert "超过 5 分钟的已作废" in late and _notice_rows(runtime) == before


def test_residents_and_private_chats_are_refused_and_recorded(chat_runtime: Application) -> None:
    runtime = chat_runtime
    _groups(runtime)
    before = _notice_rows(runtime)
    (refused,) = _say(runtime, f"#通知 全部 {TEXT}", sender="wxid_res", group="room-n1@chatroom", name="居民甲")
    assert refused == "只有社区工作人员可以在工作群里发通知。"
    (private,) = _say(runtime, f"#通知 全部 {TEXT}", sender="wxid_res2", group="", name="居民乙")
    assert private == refused
    _say(runtime, "确认发送", sender="wxid_res", group="room-n1@chatroom")
    assert _notice_rows(runtime) == before  # nothing queued for any group
    entries = runtime.audit.entries(limit=10, action="notice_refused")
    assert [(e.target, e.detail) for e in entries[:2]] == [
        ("私聊", "不是工作人员，未发送"),
        ("群 room-n1@chatroom", "不是工作人员，未发送"),
    ]
